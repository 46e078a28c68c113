import { createServer, type Server } from 'node:http';
import request from 'supertest';
import { decodeEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { BROWSER, GOOGLEBOT } from '../helpers/app';
import { useShops } from '../helpers/shop';

const NONCE = /'nonce-([^']+)'/;

describe('per-request headers are never stored', () => {
  const shops = useShops();

  it('gives each hit the X-Request-Id and traceparent its own request got: three bot requests, three ids', async () => {
    const shop = shops.make('live-headers');
    const answers = [];
    for (let i = 0; i < 3; i += 1) {
      answers.push(await request(shop.app).get('/products/1').set('User-Agent', GOOGLEBOT));
      if (i === 0) await shops.stored(shop, 'ssr:/products/1');
    }
    expect(answers.map((res) => res.headers['x-cache'])).toEqual(['MISS', 'HIT', 'HIT']);
    expect(answers.map((res) => res.headers['x-request-id'])).toEqual(['1', '2', '3']);
    expect(new Set(answers.map((res) => res.headers.traceparent)).size).toBe(3);
    const entry = decodeEntry(await shops.inspector().getBuffer(`${shop.prefix}ssr:/products/1`));
    const storedNames = entry?.headers.map(([name]) => name);
    expect(storedNames).toEqual(expect.arrayContaining(['content-security-policy', 'x-content-type-options']));
    expect(storedNames).not.toContain('x-request-id');
    expect(storedNames).not.toContain('traceparent');
  });

  it('sends no per-request header on a hit front() answers: none of the host middleware that sets them ran', async () => {
    const shop = shops.make('live-headers-front');
    const server: Server = createServer(shop.cache.front(shop.app));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/products/2`;
      const miss = await fetch(url, { headers: { 'user-agent': GOOGLEBOT } });
      expect([miss.headers.get('x-cache'), miss.headers.get('x-request-id')]).toEqual(['MISS', '1']);
      await shops.stored(shop, 'ssr:/products/2');
      const hit = await fetch(url, { headers: { 'user-agent': GOOGLEBOT } });
      expect([hit.headers.get('x-cache'), hit.headers.get('x-request-id'), hit.headers.get('traceparent')]).toEqual(['HIT', null, null]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('never shares a CSP nonce with people: with allAgents, a page whose CSP carries one is not stored, and says why', async () => {
    const shop = shops.make('csp-nonce', { cache: { allAgents: true } });
    const skips: string[] = [];
    shop.cache.on((event) => event.type === 'store-skip' && skips.push(`${event.route} ${event.reason}`));
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await request(shop.app).get('/products/3').set('User-Agent', BROWSER));
    expect(answers.map((res) => [res.status, res.headers['x-cache'], res.headers['x-cache-reason']])).toEqual(Array(3).fill([200, 'MISS', 'csp-nonce']));
    const nonces = answers.map((res) => NONCE.exec(res.headers['content-security-policy'] as string)?.[1]);
    expect(new Set(nonces).size).toBe(3);
    // The page's nonce attributes are this answer's own too.
    answers.forEach((res, i) => expect(res.text).toContain(`nonce="${nonces[i]}"`));
    expect(shop.renders.get('/products/3')).toBe(3);
    expect(await shops.inspector().exists(`${shop.prefix}ssr:/products/3`)).toBe(0);
    expect(skips).toEqual(Array(3).fill('/products/:id csp-nonce'));
  });

  it('stores a nonce page when only crawlers are cached: they share one nonce, people never get it', async () => {
    const shop = shops.make('csp-nonce-crawlers');
    const miss = await request(shop.app).get('/products/4').set('User-Agent', GOOGLEBOT);
    await shops.stored(shop, 'ssr:/products/4');
    const hit = await request(shop.app).get('/products/4').set('User-Agent', GOOGLEBOT);
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(hit.headers['content-security-policy']).toBe(miss.headers['content-security-policy']);
    const person = await request(shop.app).get('/products/4').set('User-Agent', BROWSER);
    expect([person.headers['x-cache'], person.headers['x-cache-reason']]).toEqual(['BYPASS', 'human-agent']);
    expect(person.headers['content-security-policy']).not.toBe(hit.headers['content-security-policy']);
  });
});
