import zlib from 'node:zlib';
import compression from 'compression';
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { loadConfig, pageCacheRoutes } from '../../server/config';
import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import { createPageRouter } from '../../server/routes/pages';
import { createPageCache, type PageCache } from 'ssr-page-cache';
import { internalsOf } from '../../packages/ssr-page-cache/src/internals';
import { createLogger } from '../../server/utils/logger';
import { createRedisClient, type Redis, type RedisClient } from '../../server/utils/redis-client';
import { BROWSER, GOOGLEBOT, TEST_TOKEN, redisReady, testApp, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import { capturingLogger } from '../helpers/log-capture';
import { listen, rawRequest, type RawResponse } from '../helpers/raw-http';
import { inspectionClient, realRedisUrl, removeKeys, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis';

function decode(res: RawResponse): Buffer {
  const coding = res.headers['content-encoding'];
  if (coding === 'br') return zlib.brotliDecompressSync(res.body);
  if (coding === 'gzip') return zlib.gunzipSync(res.body);
  if (coding === 'deflate') return zlib.inflateSync(res.body);
  return res.body;
}

describe('the in-process tier', () => {
  const context = useAppOnRealRedis('tier');

  it('serves a hit without a Redis round trip', async () => {
    const { handle } = context;
    await request(handle.app).get('/listings/11').set('User-Agent', GOOGLEBOT);
    await waitForStored(handle, 'ssr:/listings/11');
    const get = jest.spyOn(handle.redis, 'getBuffer');
    try {
      for (let i = 0; i < 3; i += 1) {
        const hit = await request(handle.app).get('/listings/11').set('User-Agent', GOOGLEBOT);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.headers['server-timing']).toMatch(/^cache;desc="HIT memory";dur=[\d.]+$/);
      }
      expect(get).not.toHaveBeenCalled();
    } finally {
      get.mockRestore();
    }
  });

  it('fills itself from Redis, so one Redis read serves many hits', async () => {
    const { handle, redis, prefix } = context;
    const other = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix });
    try {
      await redisReady(other);
      await request(other.app).get('/listings/12').set('User-Agent', GOOGLEBOT);
      await waitFor(async () => ((await redis.exists(`${prefix}ssr:/listings/12`)) === 1 ? true : undefined), 2000, 5);
      const first = await request(handle.app).get('/listings/12').set('User-Agent', GOOGLEBOT);
      const second = await request(handle.app).get('/listings/12').set('User-Agent', GOOGLEBOT);
      expect(first.headers['server-timing']).toContain('HIT redis');
      expect(second.headers['server-timing']).toContain('HIT memory');
    } finally {
      await other.close();
    }
  });
});

describe('invalidation across instances', () => {
  const prefix = uniquePrefix('bus');
  let first: AppHandle;
  let second: AppHandle;

  beforeAll(async () => {
    first = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix });
    second = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix });
    await redisReady(first);
    await redisReady(second);
    await waitFor(async () => (first.tiers && second.tiers ? true : undefined), 1000);
  });
  afterAll(async () => {
    // Apps first: a store still in flight must not land after the clean-up.
    await first.close();
    await second.close();
    const redis = inspectionClient();
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  it('removes the copy another instance holds within 100 ms', async () => {
    await request(first.app).get('/listings/21').set('User-Agent', GOOGLEBOT);
    await waitForStored(first, 'ssr:/listings/21');
    expect((await request(second.app).get('/listings/21').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('HIT');
    expect(second.tiers.memory?.get('ssr:/listings/21')).toBeDefined();
    // The bus subscribes in the background; wait until both ends listen.
    const control = inspectionClient();
    await waitFor(async () => (((await control.pubsub('NUMSUB', `${prefix}ssr:invalidations`)) as [string, number])[1] >= 2 ? true : undefined), 2000);
    control.disconnect();

    const res = await request(first.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send({ type: 'listing', id: '21' });
    expect(res.status).toBe(200);
    const sent = Date.now();
    await waitFor(async () => (second.tiers.memory?.get('ssr:/listings/21') === undefined ? true : undefined), 100, 2);
    expect(Date.now() - sent).toBeLessThanOrEqual(100);
    expect((await request(second.app).get('/listings/21').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
  });
});

describe('when the pub/sub connection drops', () => {
  let redisServer: PrivateRedis;
  let handle: AppHandle;

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    handle = testApp({ REDIS_URL: redisServer.url });
    await redisReady(handle);
  });
  afterAll(async () => {
    await handle.close();
    await redisServer.stop();
  });

  it('flushes the in-process tier, since invalidations may have been missed', async () => {
    const control = inspectionClient(redisServer.url);
    try {
      await waitFor(async () => (((await control.pubsub('NUMSUB', 'ssr:invalidations')) as [string, number])[1] >= 1 ? true : undefined), 2000);
      await request(handle.app).get('/listings/31').set('User-Agent', GOOGLEBOT);
      await waitForStored(handle, 'ssr:/listings/31');
      expect(handle.tiers.memory?.size).toBe(1);
      await control.client('KILL', 'TYPE', 'pubsub');
      await waitFor(async () => (handle.tiers.memory?.size === 0 ? true : undefined), 2000, 5);
      // Once resubscribed, the tier fills again from Redis.
      await waitFor(async () => (((await control.pubsub('NUMSUB', 'ssr:invalidations')) as [string, number])[1] >= 1 ? true : undefined), 5000);
      const hit = await request(handle.app).get('/listings/31').set('User-Agent', GOOGLEBOT);
      expect(hit.headers['server-timing']).toContain('HIT redis');
    } finally {
      control.disconnect();
    }
  });
});

describe('compressed entries and content negotiation', () => {
  const prefix = uniquePrefix('encoding');
  let inspector: Redis;
  let redis: RedisClient;
  const catalog = createEmbeddedCatalog(100);
  const config = loadConfig({ PUBLIC_URL: 'https://listings.example.com' });
  const caches: PageCache[] = [];

  beforeAll(async () => {
    inspector = inspectionClient();
    redis = createRedisClient(loadConfig({ REDIS_URL: realRedisUrl() }).redis, createLogger('silent'));
    await waitFor(async () => (redis.status === 'ready' ? true : undefined), 5000);
  });
  afterAll(async () => {
    await Promise.all(caches.map((pageCache) => pageCache.close()));
    await redis.quit();
    await removeKeys(inspector, prefix);
    inspector.disconnect();
  });

  /** The pages app behind the cache, with compression() mounted nowhere, before or after it. */
  function embeddingApp(compressionAt: 'none' | 'before' | 'after', keyPrefix: string) {
    const pageCache = createPageCache({ redis, keyPrefix, routes: pageCacheRoutes(config.cache), memoryTierBytes: 8 * 1024 * 1024 });
    caches.push(pageCache);
    const app = express();
    const compress: RequestHandler = compression({ threshold: 0 });
    if (compressionAt === 'before') app.use(compress);
    app.use(pageCache.middleware);
    if (compressionAt === 'after') app.use(compress);
    app.use(createPageRouter({ listings: catalog, publicUrl: config.publicUrl, tag: pageCache.tag }));
    return { app, tiers: internalsOf(pageCache).tiers };
  }

  const codings: [string, string | undefined][] = [
    ['gzip', 'gzip'],
    ['br', 'gzip, deflate, br'],
    ['identity', 'identity'],
    ['absent', undefined],
  ];

  it.each(['none', 'before', 'after'] as const)(
    'gives every Accept-Encoding the rendered HTML, correctly labelled, with compression() mounted %s',
    async (compressionAt) => {
      const keyPrefix = `${prefix}${compressionAt}:`;
      const { app, tiers } = embeddingApp(compressionAt, keyPrefix);
      const server = await listen(app);
      try {
        const reference = await rawRequest(`${server.url}/listings/42`, { 'User-Agent': BROWSER, 'Accept-Encoding': 'identity' });
        const html = decode(reference);
        expect(html.toString()).toContain('</html>');
        const miss = await rawRequest(`${server.url}/listings/42`, { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'gzip' });
        expect(miss.headers['x-cache']).toBe('MISS');
        expect(decode(miss).equals(html)).toBe(true);
        await waitFor(async () => ((await inspector.exists(`${keyPrefix}ssr:/listings/42`)) === 1 ? true : undefined), 2000, 5);

        for (const fromTier of ['memory', 'redis']) {
          if (fromTier === 'redis') tiers.memory?.clear();
          for (const [name, acceptEncoding] of codings) {
            const headers: Record<string, string> = { 'User-Agent': GOOGLEBOT };
            if (acceptEncoding !== undefined) headers['Accept-Encoding'] = acceptEncoding;
            const hit = await rawRequest(`${server.url}/listings/42`, headers);
            const expectedCoding = name === 'br' ? 'br' : name === 'gzip' ? 'gzip' : undefined;
            expect({ name, fromTier, cache: hit.headers['x-cache'], coding: hit.headers['content-encoding'] }).toEqual({
              name,
              fromTier,
              cache: 'HIT',
              coding: expectedCoding,
            });
            expect(hit.headers.vary).toContain('Accept-Encoding');
            expect(Number(hit.headers['content-length'])).toBe(hit.body.length);
            expect(decode(hit).equals(html)).toBe(true);
          }
        }
      } finally {
        await server.close();
      }
    },
  );

  it('stores the page in Redis at under 30% of the raw HTML', async () => {
    const keyPrefix = `${prefix}size:`;
    const { app } = embeddingApp('none', keyPrefix);
    const res = await request(app).get('/listings/43').set('User-Agent', GOOGLEBOT);
    await waitFor(async () => ((await inspector.exists(`${keyPrefix}ssr:/listings/43`)) === 1 ? true : undefined), 2000, 5);
    const stored = await inspector.getBuffer(`${keyPrefix}ssr:/listings/43`);
    expect(stored!.length).toBeLessThan(Buffer.byteLength(res.text) * 0.3);
  });
});

describe('validators on hits', () => {
  const context = useAppOnRealRedis('validators');

  it('answers If-None-Match with 304 for the tag of the representation the request gets, and HEAD with headers only', async () => {
    const { handle } = context;
    await request(handle.app).get('/listings/51').set('User-Agent', GOOGLEBOT);
    await waitForStored(handle, 'ssr:/listings/51');
    const br = await request(handle.app).get('/listings/51').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'br');
    const plain = await request(handle.app).get('/listings/51').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'identity');
    expect(br.headers.etag).toMatch(/^"[\w-]+-br"$/);
    expect(plain.headers.etag).toBe(br.headers.etag!.replace('-br"', '"'));
    const revalidate = (acceptEncoding: string, tag: string) =>
      request(handle.app).get('/listings/51').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', acceptEncoding).set('If-None-Match', tag);
    for (const [acceptEncoding, tag] of [
      ['br', br.headers.etag!],
      ['identity', plain.headers.etag!],
      ['identity', `W/${plain.headers.etag}`],
      ['br', `"nope", ${br.headers.etag}`],
    ] as const) {
      const revalidated = await revalidate(acceptEncoding, tag);
      expect(revalidated.status).toBe(304);
      expect(revalidated.headers['x-cache']).toBe('HIT');
      expect(revalidated.text ?? '').toBe('');
    }
    // Another representation's tag names other bytes (RFC 9110 13.1.2).
    expect((await revalidate('identity', br.headers.etag!)).status).toBe(200);
    expect((await revalidate('br', '"other"')).status).toBe(200);
    const head = await request(handle.app).head('/listings/51').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'identity');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(plain.text));
    expect(head.headers.age).toBeDefined();
  });

  it('counts a page over SSR_CACHE_MAX_ENTRY_KB as oversized: served, not stored', async () => {
    const small = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: context.prefix, SSR_CACHE_MAX_ENTRY_KB: '2' });
    try {
      await redisReady(small);
      const first = await request(small.app).get('/listings/52').set('User-Agent', GOOGLEBOT);
      const second = await request(small.app).get('/listings/52').set('User-Agent', GOOGLEBOT);
      expect(first.status).toBe(200);
      expect(second.headers['x-cache']).toBe('MISS');
      expect((await request(small.app).get('/health')).body.cache.oversized).toBe(2);
    } finally {
      await small.close();
    }
  });
});

describe('a full Redis', () => {
  let redisServer: PrivateRedis;
  afterEach(async () => {
    await redisServer.stop();
  });

  async function fillTo(url: string, headroomBytes: number): Promise<void> {
    const control = inspectionClient(url);
    const used = Number(/used_memory:(\d+)/.exec(await control.info('memory'))![1]);
    await control.config('SET', 'maxmemory', String(used + headroomBytes));
    control.disconnect();
  }

  it('turns OOM errors into skipped writes: every page is still served', async () => {
    redisServer = await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
    // The budget reads memory once, before there is a limit, and not again for 10 minutes:
    // the writes reach Redis and meet its OOM error.
    const handle = testApp({ REDIS_URL: redisServer.url, SSR_CACHE_MEMORY_CHECK_MS: '600000', SSR_CACHE_MEMORY_MB: '0' });
    try {
      await redisReady(handle);
      await waitFor(async () => (handle.budget.lastMemory ? true : undefined), 3000);
      await fillTo(redisServer.url, 8 * 1024);
      for (let id = 1; id <= 30; id += 1) {
        const res = await request(handle.app).get(`/listings/${id}`).set('User-Agent', GOOGLEBOT);
        expect(res.status).toBe(200);
        expect(res.text).toContain('</html>');
      }
      const health = await waitFor(async () => {
        const body = (await request(handle.app).get('/health')).body;
        return body.cache.writeFailures > 0 ? body : undefined;
      }, 3000);
      expect(health.cache.stores).toBeLessThan(30);
    } finally {
      await handle.close();
    }
  });

  it('invalidates on a full Redis: a soft mark Redis refuses becomes a deletion, and the answer says so, quoting Redis', async () => {
    redisServer = await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
    const handle = testApp({ REDIS_URL: redisServer.url, SSR_CACHE_MEMORY_CHECK_MS: '600000', SSR_CACHE_MEMORY_MB: '0' });
    try {
      await redisReady(handle);
      for (const id of [1, 2]) {
        await request(handle.app).get(`/listings/${id}`).set('User-Agent', GOOGLEBOT);
        await waitForStored(handle, `ssr:/listings/${id}`);
      }
      // Full now: every write (SETRANGE, SET) meets OOM; deletions still work.
      const control = inspectionClient(redisServer.url);
      const used = Number(/used_memory:(\d+)/.exec(await control.info('memory'))![1]);
      await control.config('SET', 'maxmemory', String(used - 64 * 1024));
      try {
        const res = await request(handle.app)
          .post('/api/cache/invalidate')
          .set('Authorization', `Bearer ${TEST_TOKEN}`)
          .set('Content-Type', 'application/json')
          .send({ tags: ['listing:1'], mode: 'soft' });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ mode: 'soft', applied: 'deleted', queued: false, deleted: 1 });
        expect(res.body.note).toMatch(
          /^Redis refused to mark the pages stale \(OOM command not allowed when used memory > 'maxmemory'.*\): they were deleted instead$/,
        );
        expect(await control.exists('ssr:/listings/1')).toBe(0);
        expect(await control.exists('ssr:/listings/2')).toBe(1);
      } finally {
        control.disconnect();
      }
    } finally {
      await handle.close();
    }
  });

  it('stops writing while Redis is above the write budget, and says so in /health', async () => {
    redisServer = await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
    await fillTo(redisServer.url, 64 * 1024);
    const handle = testApp({ REDIS_URL: redisServer.url, SSR_CACHE_REDIS_MEMORY_FRACTION: '0.5', SSR_CACHE_MEMORY_MB: '0' });
    try {
      await redisReady(handle);
      await waitFor(async () => (handle.budget.isOverBudget ? true : undefined), 3000);
      for (let id = 1; id <= 5; id += 1) expect((await request(handle.app).get(`/listings/${id}`).set('User-Agent', GOOGLEBOT)).status).toBe(200);
      const health = await waitFor(async () => {
        const body = (await request(handle.app).get('/health')).body;
        return body.cache.budgetSkips === 5 ? body : undefined;
      }, 3000);
      expect(health.redis.writesPaused).toBe(true);
      expect(health.cache.stores).toBe(0);
      const control = inspectionClient(redisServer.url);
      expect(await control.dbsize()).toBe(0);
      control.disconnect();
    } finally {
      await handle.close();
    }
  });
});

describe('request logs', () => {
  it('log hits and misses with key, outcome, tier and duration', async () => {
    const { logger, lines } = capturingLogger();
    const prefix = uniquePrefix('logs');
    const handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix }, { logger });
    try {
      await redisReady(handle);
      await request(handle.handler).get('/listings/61').set('User-Agent', GOOGLEBOT);
      await waitForStored(handle, 'ssr:/listings/61');
      await request(handle.handler).get('/listings/61').set('User-Agent', GOOGLEBOT);
      const requests = lines.filter((line) => line.msg === 'request completed');
      expect(requests).toHaveLength(2);
      expect(requests[0]).toMatchObject({ cache: 'MISS', key: 'ssr:/listings/61', route: 'detail', durationMs: expect.any(Number) });
      expect(requests[1]).toMatchObject({ cache: 'HIT', tier: 'memory', key: 'ssr:/listings/61', durationMs: expect.any(Number) });
    } finally {
      await handle.close();
      const redis = inspectionClient();
      await removeKeys(redis, prefix);
      redis.disconnect();
    }
  });
});
