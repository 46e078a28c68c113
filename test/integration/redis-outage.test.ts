import Redis from 'ioredis';
import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { createEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { createCacheManager } from '../../server/utils/cache-manager';
import { createLogger } from '../../server/utils/logger';
import { createRedisClient } from '../../server/utils/redis-client';
import { GOOGLEBOT, redisReady, testApp, testConfig, waitFor, waitForStored } from '../helpers/app';
import { capturingLogger } from '../helpers/log-capture';
import { freePort, freezeFor, realRedisUrl, removeKeys, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis';

const COMMAND_TIMEOUT_MS = 200;
/** Command timeout plus a render plus room for a busy CI machine; a queued command would wait far longer. */
const REQUEST_BOUND_MS = COMMAND_TIMEOUT_MS + 800;

async function timedBotGet(handle: AppHandle, url: string) {
  const started = Date.now();
  const res = await request(handle.app).get(url).set('User-Agent', GOOGLEBOT);
  return { res, ms: Date.now() - started };
}

describe('with no Redis at all (a closed port), Redis tier only', () => {
  let handle: AppHandle;
  const { logger, lines } = capturingLogger();

  beforeAll(async () => {
    handle = testApp(
      { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), SSR_CACHE_MEMORY_MB: '0' },
      { logger },
    );
  });
  afterAll(async () => {
    await handle.close();
  });

  it('serves every page at once, uncached', async () => {
    for (const url of ['/', '/listings', '/listings?page=2', '/listings/1', '/listings/2']) {
      const { res, ms } = await timedBotGet(handle, url);
      expect(res.status).toBe(200);
      expect(res.text).toContain('</html>');
      expect(res.headers['x-cache']).toBe('MISS');
      expect(ms).toBeLessThan(REQUEST_BOUND_MS);
    }
  });

  it('says in /health that caching is off', async () => {
    const health = await request(handle.app).get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'degraded', redis: { status: 'down' }, cache: { enabled: false } });
  });

  it('logs the outage once, not once per request or reconnect attempt', async () => {
    await new Promise((resolve) => setTimeout(resolve, 600));
    const outages = lines.filter((line) => String(line.msg).startsWith('redis unavailable'));
    expect(outages).toHaveLength(1);
    expect(lines.filter((line) => String(line.msg).startsWith('cache: redis'))).toHaveLength(0);
  });
});

describe('with no Redis at all, with the in-process tier (the single-machine default)', () => {
  it('keeps caching in process and says so in /health', async () => {
    const handle = testApp({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    try {
      const miss = await timedBotGet(handle, '/listings/2');
      expect(miss.res.headers['x-cache']).toBe('MISS');
      const hit = await waitFor(
        async () => {
          const { res } = await timedBotGet(handle, '/listings/2');
          return res.headers['server-timing']?.includes('HIT memory') ? res : undefined;
        },
        2000,
        10,
      );
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.text).toBe(miss.res.text);
      const health = (await request(handle.app).get('/health')).body;
      expect(health).toMatchObject({ status: 'degraded', redis: { status: 'down' }, cache: { enabled: true, memoryTier: { entries: 1 } } });
    } finally {
      await handle.close();
    }
  });
});

describe('when Redis stops and comes back mid-test, Redis tier only', () => {
  let redisServer: PrivateRedis;
  let handle: AppHandle;
  const { logger, lines } = capturingLogger();

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    handle = testApp(
      {
        REDIS_URL: redisServer.url,
        REDIS_KEY_PREFIX: uniquePrefix('outage'),
        REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
        SSR_CACHE_MEMORY_MB: '0',
      },
      { logger },
    );
    await redisReady(handle);
  });
  afterAll(async () => {
    await handle.close();
    await redisServer.stop();
  });

  it('keeps serving pages while Redis is down and caches again when it returns', async () => {
    await timedBotGet(handle, '/listings/5');
    await waitForStored(handle, 'ssr:/listings/5');
    expect((await timedBotGet(handle, '/listings/5')).res.headers['x-cache']).toBe('HIT');

    await redisServer.stop();
    await waitFor(async () => (handle.redis.status !== 'ready' ? true : undefined), 5000, 10);
    for (let i = 0; i < 10; i += 1) {
      const { res, ms } = await timedBotGet(handle, '/listings/5');
      expect(res.status).toBe(200);
      // A render, or a wait for the render just before it: never Redis.
      expect(res.headers['server-timing']).toMatch(/desc="(MISS|HIT coalesced)"/);
      expect(res.text).toContain('</html>');
      expect(ms).toBeLessThan(REQUEST_BOUND_MS);
    }
    expect((await request(handle.app).get('/health')).body.status).toBe('degraded');

    await redisServer.start();
    await redisReady(handle, 10_000);
    expect((await timedBotGet(handle, '/listings/5')).res.headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/listings/5');
    expect((await timedBotGet(handle, '/listings/5')).res.headers['x-cache']).toBe('HIT');
    expect((await request(handle.app).get('/health')).body.status).toBe('ok');

    const changes = lines.filter((line) => /^redis (connected|unavailable)/.test(String(line.msg))).map((line) => line.msg);
    expect(changes).toEqual(['redis connected: Redis tier on', 'redis unavailable: Redis tier off until it reconnects', 'redis connected: Redis tier on']);
  });

  it('answers within the command timeout while Redis is frozen', async () => {
    await timedBotGet(handle, '/listings/6');
    await waitForStored(handle, 'ssr:/listings/6');
    // Frozen for 2 s: an answer that waited for Redis to come back would arrive after the thaw.
    const freeze = freezeFor(redisServer, 2000);
    try {
      const { res, ms } = await timedBotGet(handle, '/listings/6');
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBe('MISS');
      expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
      expect(freeze.thawed).toBe(false);
    } finally {
      freeze.end();
    }
    await waitFor(async () => ((await timedBotGet(handle, '/listings/6')).res.headers['x-cache'] === 'HIT' ? true : undefined), 10_000, 100);
  });
});

describe('a busy process, not a slow Redis', () => {
  it('takes a reply that arrived while the event loop was blocked past the command timeout, and counts no failure', async () => {
    // The server's own client settings and cache manager, on a connection of the test's alone:
    // no other command (write budget, locks) can hold the GET back in ioredis' auto-pipeline.
    const config = testConfig({ REDIS_URL: realRedisUrl(), REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) });
    const redis = createRedisClient(config.redis, createLogger('silent'));
    const prefix = uniquePrefix('busy');
    const cache = createCacheManager({ redis, logger: createLogger('silent'), keyPrefix: prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    try {
      await waitFor(async () => (redis.status === 'ready' ? true : undefined), 5000);
      expect(await cache.set('ssr:/busy', createEntry({ status: 200, contentType: 'text/html', freshTtl: 60, body: Buffer.from('<html></html>') }))).toBe(true);
      for (let round = 0; round < 3; round += 1) {
        const read = cache.get('ssr:/busy');
        // Let the auto-pipelined GET be written (ioredis flushes in a setImmediate), then block for
        // longer than the command timeout: Redis answers meanwhile, and the deadline is overdue.
        await new Promise((resolve) => setImmediate(resolve));
        const blockedUntil = Date.now() + COMMAND_TIMEOUT_MS + 300;
        while (Date.now() < blockedUntil);
        expect(await read).toBeDefined();
        expect(cache.breakerState().consecutiveFailures).toBe(0);
      }
    } finally {
      cache.stop();
      await removeKeys(redis as Redis, prefix);
      redis.disconnect();
    }
  });
});

describe("an embedding server's own Redis client", () => {
  it('is used as it is, even one that would queue commands: one more connection (pub/sub) and no more, left open on close', async () => {
    const name = `adopt-${process.pid}-${Date.now()}`;
    const prefix = uniquePrefix('adopt');
    const own = new Redis(realRedisUrl(), { connectionName: name, disconnectTimeout: 100 });
    const inspector = new Redis(realRedisUrl());
    const handle = testApp({ REDIS_KEY_PREFIX: prefix }, { redis: own });
    try {
      expect(handle.redis).toBe(own);
      await redisReady(handle);
      expect((await request(handle.handler).get('/listings/3').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
      await waitForStored(handle, 'ssr:/listings/3');
      handle.tiers.memory?.clear();
      expect((await request(handle.handler).get('/listings/3').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('HIT');
      // The subscriber is a duplicate of the host's client, so it carries the same name.
      const clients = String(await inspector.call('CLIENT', 'LIST')).split('\n');
      expect(clients.filter((line) => line.includes(` name=${name} `))).toHaveLength(2);
      await handle.close();
      expect(await own.ping()).toBe('PONG');
    } finally {
      own.disconnect();
      await removeKeys(inspector, prefix);
      inspector.disconnect();
    }
  });

  it('is used as it is when it already fails fast', async () => {
    const own = new Redis(realRedisUrl(), { enableOfflineQueue: false, commandTimeout: 300, maxRetriesPerRequest: 0, disconnectTimeout: 100 });
    const handle = testApp({ REDIS_KEY_PREFIX: uniquePrefix('adopt') }, { redis: own });
    try {
      expect(handle.redis).toBe(own);
      await handle.close();
      await waitFor(async () => (own.status === 'ready' ? true : undefined), 5000);
      expect(await own.ping()).toBe('PONG');
    } finally {
      own.disconnect();
    }
  });
});
