import request from 'supertest';
import { GOOGLEBOT, useAppOnRealRedis, waitForStored } from '../helpers/app';
import { useShops } from '../helpers/shop';

/** Status and bytes: what a crawler compares between two fetches of one URL. */
const answerOf = (res: request.Response) => [res.status, res.text];

describe('the URL the route renders is the URL the key names', () => {
  const shops = useShops();

  it.each([
    ['Express 5 (req.query parsed when read)', false],
    ['Express 4 (req.query parsed before any middleware)', true],
  ])('gives ?page=2&page=3 the same answer cold and warm, in %s', async (_name, express4Query) => {
    const cold = shops.make('canonical-cold', { express4Query });
    const coldAnswer = await request(cold.app).get('/list?page=2&page=3&utm_source=x').set('User-Agent', GOOGLEBOT);
    expect(coldAnswer.headers['x-cache']).toBe('MISS');

    // Warm: the page stored from a plain ?page=2, then asked for as before.
    const warm = shops.make('canonical-warm', { express4Query });
    await request(warm.app).get('/list?page=2').set('User-Agent', GOOGLEBOT);
    await shops.stored(warm, 'ssr:/list?page=2');
    const warmAnswer = await request(warm.app).get('/list?page=2&page=3&utm_source=x').set('User-Agent', GOOGLEBOT);
    expect(warmAnswer.headers['x-cache']).toBe('HIT');

    expect(answerOf(coldAnswer)).toEqual(answerOf(warmAnswer));
    // The route saw one value, and the canonical URL also in req.originalUrl (what SSR frameworks build their request from).
    expect(coldAnswer.text).toBe('<link rel="canonical" href="https://shop.example/list?page=2"><h1>Page 2</h1>');
  });

  it('answers cold and warm alike through front(), where Express parses the rewritten URL', async () => {
    const shop = shops.make('canonical-front', { express4Query: true });
    const front = shop.cache.front(shop.app);
    const cold = await request(front).get('/list?page=3&page=2').set('User-Agent', GOOGLEBOT);
    await shops.stored(shop, 'ssr:/list?page=3');
    const warm = await request(front).get('/list?page=3&page=2').set('User-Agent', GOOGLEBOT);
    expect([cold.headers['x-cache'], warm.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(answerOf(cold)).toEqual(answerOf(warm));
    expect(cold.text).toContain('<h1>Page 3</h1>');
  });
});

describe('the listings server renders the canonical URL', () => {
  const context = useAppOnRealRedis('canonical-listings');

  it('gives /listings?page=2&page=3 the same status and bytes cold and warm', async () => {
    const { handle } = context;
    const cold = await request(handle.app).get('/listings?page=2&page=3').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'identity');
    await waitForStored(handle, 'ssr:/listings?page=2');
    await context.redis.unlink(`${context.prefix}ssr:/listings?page=2`);
    handle.tiers.memory?.clear();
    await request(handle.app).get('/listings?page=2').set('User-Agent', GOOGLEBOT);
    await waitForStored(handle, 'ssr:/listings?page=2');
    const warm = await request(handle.app).get('/listings?page=2&page=3').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'identity');
    expect([cold.headers['x-cache'], warm.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(answerOf(cold)).toEqual(answerOf(warm));
    expect(cold.text).toContain('Page 2 of');
  });
});
