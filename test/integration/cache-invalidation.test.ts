import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import type { Redis } from '../../server/utils/redis-client';
import IORedis from 'ioredis';
import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import { listKeys, realRedisUrl, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

const ENDPOINT = '/api/cache/invalidate';

describe('POST /api/cache/invalidate', () => {
  const context = useAppOnRealRedis('invalidate');
  let handle: AppHandle;
  let redis: Redis;
  const { prefix } = context;
  beforeAll(() => {
    ({ handle, redis } = context);
  });

  const invalidate = (body: unknown, token: string | null = TEST_TOKEN) => {
    const call = request(handle.app).post(ENDPOINT).set('Content-Type', 'application/json');
    if (token !== null) call.set('Authorization', `Bearer ${token}`);
    return call.send(typeof body === 'string' ? body : JSON.stringify(body));
  };

  /** Renders pages as a bot so each is stored; returns their keys. */
  async function cachePages(paths: string[], keys: string[]): Promise<void> {
    for (const path of paths) await request(handle.app).get(path).set('User-Agent', GOOGLEBOT).expect(200);
    for (const key of keys) await waitForStored(handle, key);
  }
  const storedKeys = async () => (await listKeys(redis, `${prefix}ssr:`)).map((key) => key.slice(prefix.length));

  it("removes a listing's page, the homepage and every browse page, and nothing else", async () => {
    await cachePages(
      ['/listings/123', '/listings/124', '/', '/listings', '/listings?page=2', '/listings?sort=price_desc&city=lisbon'],
      ['ssr:/listings/123', 'ssr:/listings/124', 'ssr:/', 'ssr:/listings', 'ssr:/listings?page=2', 'ssr:/listings?city=lisbon&sort=price_desc'],
    );
    const res = await invalidate({ type: 'listing', id: '123' });
    expect(res.status).toBe(200);
    expect(res.body.deleted).toBe(5);
    expect(await storedKeys()).toEqual(['ssr:/listings/124']);
    const next = await request(handle.app).get('/listings/123').set('User-Agent', GOOGLEBOT);
    expect(next.headers['x-cache']).toBe('MISS');
  });

  it('accepts a numeric listing id', async () => {
    await cachePages(['/listings/5'], ['ssr:/listings/5']);
    expect((await invalidate({ type: 'listing', id: 5 })).body.deleted).toBe(1);
  });

  it('removes exact keys and the keys of given paths', async () => {
    await cachePages(
      ['/listings/1', '/listings/2', '/listings?page=3&sort=price_asc', '/'],
      ['ssr:/listings/1', 'ssr:/listings/2', 'ssr:/listings?page=3&sort=price_asc', 'ssr:/'],
    );
    const res = await invalidate({ keys: ['ssr:/listings/1'], paths: ['/listings?sort=price_asc&page=3&utm_source=crm', '/about'] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ deleted: 2, unmatchedPaths: ['/about'] });
    expect(await storedKeys()).toEqual(['ssr:/', 'ssr:/listings/2']);
  });

  it('removes keys by pattern with SCAN across many batches', async () => {
    const pages = Array.from({ length: 30 }, (_, index) => `/listings/${index + 1}`);
    await cachePages(
      pages,
      pages.map((path) => `ssr:${path}`),
    );
    await cachePages(['/'], ['ssr:/']);
    const res = await invalidate({ patterns: ['/listings/*'] });
    expect(res.body.deleted).toBe(30);
    expect(await storedKeys()).toEqual(['ssr:/']);
  });

  it('leaves keys outside the cache namespace alone', async () => {
    await redis.set(`${prefix}bull:emails:1`, 'job', 'EX', 60);
    expect((await invalidate({ keys: ['bull:emails:1'] })).status).toBe(400);
    expect((await invalidate({ patterns: ['*'] })).status).toBe(400);
    expect((await invalidate({ patterns: ['/*'] })).status).toBe(200);
    expect(await redis.exists(`${prefix}bull:emails:1`)).toBe(1);
  });

  it('answers 401 without a token or with a wrong one, and deletes nothing', async () => {
    await cachePages(['/listings/10'], ['ssr:/listings/10']);
    const missing = await invalidate({ type: 'listing', id: '10' }, null);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatch(/bearer token/);
    const wrong = await invalidate({ type: 'listing', id: '10' }, 'not-the-token-at-all-0000');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid bearer token');
    const basic = await request(handle.app).post(ENDPOINT).set('Authorization', `Basic ${TEST_TOKEN}`).send('{}');
    expect(basic.status).toBe(401);
    expect(await storedKeys()).toEqual(['ssr:/listings/10']);
  });

  it.each([
    ['malformed JSON', '{"type":"listing",', /not valid JSON/],
    ['an empty body', '', /body is empty/],
    ['a JSON array', '[1,2]', /must be a JSON object/],
    ['a JSON string', '"listing"', /must be a JSON object/],
    ['an unknown type', { type: 'agent', id: '1' }, /type: must be one of: listing/],
    ['a missing id', { type: 'listing' }, /id: is required with "type"/],
    ['an id of the wrong type', { type: 'listing', id: { $ne: 1 } }, /id: must be a non-empty string or a whole number/],
    ['an empty id', { type: 'listing', id: '' }, /id: /],
    ['keys that are not a list', { keys: 'ssr:/' }, /keys: /],
    ['a key outside the namespace', { keys: ['module:cache'] }, /keys\.0: must start with "ssr:"/],
    ['a path without a leading slash', { paths: ['listings/1'] }, /paths\.0: must start with "\/"/],
    ['too many keys', { keys: Array.from({ length: 1001 }, (_, index) => `ssr:/${index}`) }, /keys: must hold at most 1000 items/],
    ['nothing to invalidate', { hello: 'world' }, /must name what to invalidate/],
  ])('answers 400 naming the problem for %s', async (_name, body, message) => {
    const res = await invalidate(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.error).toMatch(message);
  });

  it('answers 413 with a JSON error for an oversized body', async () => {
    const res = await invalidate({ keys: ['ssr:/'], padding: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatch(/larger than 64kb/);
  });

  it('survives hostile bodies and headers with a 4xx, never a 5xx', async () => {
    const bodies = ['\u0000\u0001', '{"keys":["ssr:/\r\nSet-Cookie: x=1"]}', '{"__proto__":{"type":"listing"}}', 'null', '1e999', '{"paths":["/%E0%A4%A"]}'];
    for (const body of bodies) {
      const res = await invalidate(body);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const badEncoding = await request(handle.app)
      .post(ENDPOINT)
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'klingon')
      .send('{}');
    expect(badEncoding.status).toBe(415);
    expect(badEncoding.body.error).toMatch(/unsupported content encoding "klingon"/);
  });

  it('counts invalidations in /health', async () => {
    await cachePages(['/listings/77'], ['ssr:/listings/77']);
    const before = (await request(handle.app).get('/health')).body.cache;
    await invalidate({ keys: ['ssr:/listings/77'] });
    const after = (await request(handle.app).get('/health')).body.cache;
    expect(after.invalidations - before.invalidations).toBe(1);
    expect(after.keysInvalidated - before.keysInvalidated).toBe(1);
  });
});

describe('POST /api/cache/invalidate without CACHE_INVALIDATION_TOKEN', () => {
  it('refuses every call and says how to enable it', async () => {
    const handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix('no-token'), CACHE_INVALIDATION_TOKEN: undefined });
    try {
      for (const token of [undefined, '', 'anything-at-all-here']) {
        const call = request(handle.app).post(ENDPOINT).set('Content-Type', 'application/json');
        if (token !== undefined) call.set('Authorization', `Bearer ${token}`);
        const res = await call.send('{"type":"listing","id":"1"}');
        expect(res.status).toBe(403);
        expect(res.body.error).toMatch(/set CACHE_INVALIDATION_TOKEN to enable it/);
      }
    } finally {
      await handle.close();
    }
  });
});

describe('an invalidation accepted while Redis is unreachable', () => {
  let redisServer: PrivateRedis;
  let handle: AppHandle;
  let inspector: IORedis;

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    inspector = new IORedis(redisServer.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    await handle?.close();
  });
  afterAll(async () => {
    inspector.disconnect();
    await redisServer.stop();
  });

  async function storedPage(path: string): Promise<void> {
    handle = testApp({ REDIS_URL: redisServer.url, TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET, TWENTY_WEBHOOK_MODE: 'hard' });
    await redisReady(handle);
    expect((await request(handle.handler).get(path).set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
    await waitForStored(handle, `ssr:${path}`);
    expect((await request(handle.handler).get(path).set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('HIT');
  }

  it('is answered 202 queued, applied here at once, and in Redis as soon as it is back, before any page is read from it', async () => {
    await storedPage('/listings/7');
    await redisServer.stop();
    const res = await request(handle.app)
      .post(ENDPOINT)
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send('{"paths":["/listings/7"]}');
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ queued: true, keys: ['ssr:/listings/7'] });
    // This instance's in-process copy is gone at once.
    expect((await request(handle.handler).get('/listings/7').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
    expect((await request(handle.app).get('/health')).body.cache).toMatchObject({ pendingInvalidations: 1, invalidationsQueued: 1 });

    await redisServer.start();
    // Applied once Redis answers, with no request needed to set it off.
    await waitFor(async () => ((await handle.pageCache.health()).pendingInvalidations === 0 ? true : undefined), 5000, 20);
    expect((await handle.pageCache.health()).redis.status).toBe('up');
  });

  it('reads no page from Redis while it waits: a page stored before the outage is fresh after it', async () => {
    await storedPage('/listings/8');
    // A page nothing asks for again: only the queued invalidation, applied to Redis, removes it.
    await request(handle.handler).get('/listings/9').set('User-Agent', GOOGLEBOT);
    await waitForStored(handle, 'ssr:/listings/9');
    const before = await inspector.getBuffer('ssr:/listings/8');
    handle.tiers.memory?.clear();
    // Redis away for the invalidation only: the breaker opens on a frozen Redis, the old page stays in it.
    redisServer.freeze();
    const body = twentyEvent('updated', '8', { updatedFields: ['description'] });
    const answer = await request(handle.app).post(ENDPOINT).set(twentyHeaders(body)).send(body);
    const byPath = await request(handle.app)
      .post(ENDPOINT)
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send('{"paths":["/listings/9"]}');
    redisServer.thaw();
    expect(byPath.status).toBe(202);
    expect(answer.status).toBe(202);
    expect(answer.body.queued).toBe(true);
    expect(before).not.toBeNull();
    // Redis answers again and still holds the old page, but the invalidation has not reached it yet: no HIT from it.
    expect((await request(handle.handler).get('/listings/8').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
    await waitFor(async () => ((await handle.pageCache.health()).pendingInvalidations === 0 ? true : undefined), 10_000, 20);
    // The page from before the outage is gone from Redis (the fresh render may have been stored since).
    const after = await inspector.getBuffer('ssr:/listings/8');
    expect(after === null || !after.equals(before as Buffer)).toBe(true);
    expect(await inspector.exists('ssr:/listings/9')).toBe(0);
  });
});
