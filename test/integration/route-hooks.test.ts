import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import type { FrontHitFields } from 'ssr-page-cache';
import { BROWSER, GOOGLEBOT, waitFor } from '../helpers/app';
import { listen, rawRequest } from '../helpers/raw-http';
import { useShops } from '../helpers/shop';

describe('for routes and hosts', () => {
  const shops = useShops();

  it('tells a route whether its response will be stored: the visitor cookie is left out of the stored page only', async () => {
    const shop = shops.make('will-store');
    const miss = await request(shop.app).get('/visitor').set('User-Agent', GOOGLEBOT);
    expect([miss.headers['x-cache'], miss.headers['set-cookie']]).toEqual(['MISS', undefined]);
    await shops.stored(shop, 'ssr:/visitor');
    expect((await request(shop.app).get('/visitor').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('HIT');
    const person = await request(shop.app).get('/visitor').set('User-Agent', BROWSER);
    expect(person.headers['x-cache']).toBe('BYPASS');
    expect(person.headers['set-cookie']?.[0]).toMatch(/^visitor=/);
  });

  it('lets a route keep its response out of the cache with noStore(res, reason), and refuses a reason that is not a word', async () => {
    const shop = shops.make('no-store');
    const first = await request(shop.app).get('/promo').set('User-Agent', GOOGLEBOT);
    const second = await request(shop.app).get('/promo').set('User-Agent', GOOGLEBOT);
    expect([first.headers['x-cache-reason'], second.headers['x-cache'], second.headers['x-cache-reason']]).toEqual(['promo', 'MISS', 'promo']);
    expect(first.text).toContain('not stored');
    expect(shop.renders.get('/promo')).toBe(2);
    const res = { req: {} } as unknown as ServerResponse;
    expect(() => shop.cache.noStore(res, 'two words')).toThrow(/noStore: reason "two words" must be a short word/);
  });

  it('keeps a page the route shortened with ttl(res, seconds) fresh that long only, then serves it stale while re-rendering it', async () => {
    const shop = shops.make('short-ttl');
    expect((await request(shop.app).get('/partial').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
    await shops.stored(shop, 'ssr:/partial');
    expect((await request(shop.app).get('/partial').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('HIT');
    // The shortest of the route's calls (1 s, then 3600 s) wins; the route's own TTL is 60 s.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const stale = await request(shop.app).get('/partial').set('User-Agent', GOOGLEBOT);
    expect([stale.status, stale.headers['x-cache']]).toEqual([200, 'STALE']);
    await waitFor(async () => ((shop.renders.get('/partial') ?? 0) >= 2 ? true : undefined), 3000, 20);
    const res = { req: {} } as unknown as ServerResponse;
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => shop.cache.ttl(res, bad)).toThrow(/ttl: seconds must be a whole number of 1 or more/);
  });

  it('treats a request whose cookies are all ignoreCookies as shared, and renders it without them', async () => {
    const shop = shops.make('ignore-cookies', { cache: { allAgents: true, ignoreCookies: ['_ga', /^_gid/] } });
    const miss = await request(shop.app).get('/cookies').set('User-Agent', BROWSER).set('Cookie', '_ga=GA1.1.123; _gid_x=7');
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(shop.cookiesSeen).toEqual([{ header: undefined, parsed: {} }]);
    await shops.stored(shop, 'ssr:/cookies');
    const hit = await request(shop.app).get('/cookies').set('User-Agent', BROWSER).set('Cookie', '_ga=GA1.1.456');
    expect([hit.headers['x-cache'], hit.text]).toEqual(['HIT', miss.text]);
    const personal = await request(shop.app).get('/cookies').set('User-Agent', BROWSER).set('Cookie', '_ga=GA1.1.456; sid=abc');
    expect([personal.headers['x-cache'], personal.headers['x-cache-reason']]).toEqual(['BYPASS', 'cookie']);
    expect(shop.cookiesSeen[1]).toEqual({ header: '_ga=GA1.1.456; sid=abc', parsed: { _ga: 'GA1.1.456', sid: 'abc' } });
  });

  it("logs the hits front() answers as the host's logger would: with onHit, or its own line with the user agent and address", async () => {
    const shop = shops.make('front-logs');
    const hits: FrontHitFields[] = [];
    const withHook = await listen(
      shop.cache.front(shop.app, {
        onHit: (req: IncomingMessage, res: ServerResponse, fields) => {
          expect([req.headers['user-agent'], res.statusCode]).toEqual([GOOGLEBOT, 200]);
          hits.push(fields);
        },
      }),
    );
    const plain = await listen(shop.cache.front(shop.app));
    try {
      await rawRequest(`${withHook.url}/products/9`, { 'User-Agent': GOOGLEBOT });
      await shops.stored(shop, 'ssr:/products/9');
      await rawRequest(`${withHook.url}/products/9`, { 'User-Agent': GOOGLEBOT });
      expect(hits).toEqual([expect.objectContaining({ cache: 'HIT', route: '/products/:id', key: 'ssr:/products/9', durationMs: expect.any(Number) })]);
      expect(shop.lines.filter((line) => line.msg === 'request completed')).toEqual([]);

      await rawRequest(`${plain.url}/products/9`, { 'User-Agent': GOOGLEBOT, 'X-Request-Id': 'from-the-proxy' });
      expect(hits).toHaveLength(1);
      expect(shop.lines.filter((line) => line.msg === 'request completed')).toEqual([
        expect.objectContaining({
          req: expect.objectContaining({
            id: 'from-the-proxy',
            method: 'GET',
            url: '/products/9',
            headers: { 'user-agent': GOOGLEBOT },
            remoteAddress: '127.0.0.1',
            remotePort: expect.any(Number),
          }),
          res: { statusCode: 200 },
          cache: 'HIT',
          durationMs: expect.any(Number),
        }),
      ]);
    } finally {
      await withHook.close();
      await plain.close();
    }
  });
});
