import request from 'supertest';
import { BROWSER, GOOGLEBOT } from '../helpers/app';
import { sleep, useShops, type Shop } from '../helpers/shop';

const bot = (shop: Shop, path: string) => request(shop.app).get(path).set('User-Agent', GOOGLEBOT);
const said = (res: request.Response) => [res.headers['x-cache'], res.headers['x-cache-reason']];

describe('every answer that is not a HIT says why in X-Cache-Reason', () => {
  const shops = useShops();

  it('says why a request bypassed the cache: a person, credentials, a cookie, another method', async () => {
    const shop = shops.make('reasons-bypass');
    expect(said(await request(shop.app).get('/products/1').set('User-Agent', BROWSER))).toEqual(['BYPASS', 'human-agent']);
    expect(said(await bot(shop, '/products/1').set('Authorization', 'Bearer x'))).toEqual(['BYPASS', 'credentials']);
    expect(said(await bot(shop, '/products/1').set('Cookie', 'sid=1'))).toEqual(['BYPASS', 'cookie']);
    const post = await request(shop.app).post('/products/1').set('User-Agent', GOOGLEBOT).send({ quantity: 1 });
    expect([post.status, post.text, ...said(post)]).toEqual([200, 'added to the cart', 'BYPASS', 'method']);
  });

  it.each([
    ['/cors-page', 'vary'],
    ['/session', 'set-cookie'],
    ['/private', 'cache-control'],
    ['/broken', 'status'],
    ['/big', 'too-large'],
    ['/promo', 'promo'],
  ])('says why %s is not stored (%s), on every request, and warns once per route and reason', async (path, reason) => {
    const shop = shops.make('reasons-skip');
    const skips: string[] = [];
    shop.cache.on((event) => event.type === 'store-skip' && skips.push(`${event.route} ${event.reason}`));
    for (let i = 0; i < 3; i += 1) {
      expect(said(await bot(shop, path))).toEqual(['MISS', reason]);
      await sleep(5);
    }
    expect(shop.renders.get(path)).toBe(3);
    expect(await shops.inspector().exists(`${shop.prefix}ssr:${path}`)).toBe(0);
    expect(skips).toEqual(Array(3).fill(`${path} ${reason}`));
    const warnings = shop.lines.filter((line) => line.level === 40 && line.reason === reason);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ route: path, key: `ssr:${path}` });
  });

  it('names the header that decided it in the warning: the Vary, the cookie names (never their values)', async () => {
    const shop = shops.make('reasons-detail');
    await bot(shop, '/cors-page');
    await bot(shop, '/session');
    await sleep(5);
    const warnings = shop.lines.filter((line) => line.level === 40);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'vary', vary: 'Origin' }),
        expect.objectContaining({ reason: 'set-cookie', cookies: ['sid'] }),
      ]),
    );
  });

  it('says absent on a MISS it stores, nothing on the HIT, and why a stale copy was served', async () => {
    const shop = shops.make('reasons-stored');
    expect(said(await bot(shop, '/products/5'))).toEqual(['MISS', 'absent']);
    await shops.stored(shop, 'ssr:/products/5');
    expect(said(await bot(shop, '/products/5'))).toEqual(['HIT', undefined]);
    await shop.cache.invalidate({ paths: ['/products/5'], mode: 'soft' });
    // A stale page is re-rendered behind the client: the app is known once a request went through it.
    expect(said(await bot(shop, '/products/5'))).toEqual(['STALE', 'soft-invalidated']);
  });
});
