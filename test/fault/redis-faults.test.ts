import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { createEntry, encodeEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { GOOGLEBOT, redisReady, testApp, waitFor, waitForStored } from '../helpers/app';
import { parseScrape, scrape } from '../helpers/metrics';
import { inspectionClient, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { isRedisHit, killAndRestart, steadyLoad, type LoadRecord } from '../../tools/steady-load';

/**
 * Faults of a real redis-server, each on a private one on a free port. The in-process tier is
 * off, so every hit is a Redis read and every fault is on the request's path.
 */
const COMMAND_TIMEOUT_MS = 200;
const PATHS = ['/', '/listings', '/listings?page=2', ...Array.from({ length: 27 }, (_, index) => `/listings/${index + 1}`)];
const botHeaders = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'identity' };

function faultEnv(redisServer: PrivateRedis, env: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: uniquePrefix('fault'),
    REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    REDIS_BREAKER_THRESHOLD: '5',
    REDIS_BREAKER_COOLDOWN_MS: '500',
    SSR_CACHE_MEMORY_MB: '0',
    ...env,
  };
}

function faultApp(redisServer: PrivateRedis, env: Record<string, string> = {}): AppHandle {
  return testApp(faultEnv(redisServer, env));
}

/** What the load tests read of /health. */
interface Health {
  redis: { status: string; breaker: { state: string; opens: number; rejectedCommands: number } };
  alerts: { name: string }[];
}

function summarise(records: LoadRecord[]) {
  return {
    total: records.length,
    non2xx: records.filter((record) => record.status < 200 || record.status >= 300),
    incomplete: records.filter((record) => !record.complete),
  };
}

/**
 * The server runs in a process of its own, as `npm start` runs it (NODE_ENV=production): the
 * load's client does not share its event loop, so a busy client does not delay the answers.
 */
describe('Redis faults under a steady bot load (private redis-server, the server in its own process)', () => {
  let redisServer: PrivateRedis;
  let server: ServerProcess;
  const health = () => server.json<Health>('/health');

  beforeEach(async () => {
    redisServer = await startPrivateRedis();
    server = await startServerProcess({ ...faultEnv(redisServer), LOG_LEVEL: 'warn', LISTING_CATALOG_SIZE: '200', PUBLIC_URL: 'https://listings.example.com' });
    await waitFor(async () => ((await health()).redis.status === 'up' ? true : undefined), 5000);
  });
  afterEach(async () => {
    try {
      await server?.stop();
    } finally {
      await redisServer.stop();
    }
  });

  it('Redis killed at 3 s and started again at 6 s of a 10 s load: every answer a whole page, hits back within 2 s', async () => {
    const { at, events } = killAndRestart(redisServer, 3000, 6000);
    const { records, startedAt } = await steadyLoad({ baseUrl: server.url, paths: PATHS, ratePerSecond: 300, durationMs: 10_000, headers: botHeaders, events });
    const { total, non2xx, incomplete } = summarise(records);
    expect(total).toBeGreaterThan(2500);
    expect(non2xx).toEqual([]);
    expect(incomplete).toEqual([]);

    const hitsBeforeKill = records.filter((record) => record.sentAt < startedAt + 3000 && isRedisHit(record));
    expect(hitsBeforeKill.length).toBeGreaterThan(300);
    expect(records.filter((record) => record.sentAt >= at.killed + 100 && record.answeredAt < at.restarting && isRedisHit(record))).toEqual([]);
    // Hits resume within 2 s of Redis returning: a request sent then is a HIT from Redis. Timed by
    // when it was sent, since its answer also waits behind the server's backlog on a busy
    // machine; `npm run bench -- faults` reports the answered-at time.
    const firstHitAfter = records.find((record) => record.sentAt >= at.restarted && isRedisHit(record));
    expect(firstHitAfter).toBeDefined();
    expect(firstHitAfter!.sentAt - at.restarted).toBeLessThanOrEqual(2000);
    // And the cache carries the load again: most of the last second is Redis hits.
    const lastSecond = records.filter((record) => record.sentAt >= startedAt + 9000);
    expect(lastSecond.filter(isRedisHit).length / lastSecond.length).toBeGreaterThan(0.8);
  });

  it('Redis frozen (SIGSTOP) under load: no answer waits for Redis to come back, the breaker opens, and the cache recovers after SIGCONT', async () => {
    let seenDuringFreeze: Record<string, unknown> = {};
    let thawedAt = 0;
    const { records, startedAt } = await steadyLoad({
      baseUrl: server.url,
      paths: PATHS,
      // Every request renders while the breaker is open: 100 a second leaves room on a 2-core
      // machine that runs another test file beside this one.
      ratePerSecond: 100,
      durationMs: 6000,
      headers: botHeaders,
      events: [
        { atMs: 2000, run: () => redisServer.freeze() },
        {
          atMs: 4000,
          run: async () => {
            const seen = await health();
            const metrics = parseScrape(await server.text('/metrics'));
            // Read apart, /health and /metrics may see open and half-open (a probe out): either is "not closed".
            const gauge = (state: string) => metrics.value('ssr_cache_redis_breaker_state', { state });
            seenDuringFreeze = {
              state: seen.redis.breaker.state,
              opens: seen.redis.breaker.opens,
              rejectedCommands: seen.redis.breaker.rejectedCommands > 0,
              gaugeClosed: gauge('closed'),
              gaugeNotClosed: gauge('open') + gauge('half-open'),
              opensTotal: metrics.value('ssr_cache_redis_breaker_opens_total'),
              redisDownAlert: seen.alerts.some((alert) => alert.name === 'SsrCacheRedisDown'),
            };
            thawedAt = Date.now();
            redisServer.thaw();
          },
        },
      ],
    });
    const { non2xx, incomplete } = summarise(records);
    expect(non2xx).toEqual([]);
    expect(incomplete).toEqual([]);
    // Every request sent in the first second of the freeze is answered while Redis is still
    // frozen: after the command timeout and a render, not when Redis comes back. This is timed by
    // the thaw, a second or more after those requests, not by a bound of a few hundred ms that a
    // stall of a busy machine could break (`npm run bench -- faults` reports the latencies).
    const sentEarlyInFreeze = records.filter((record) => record.sentAt >= startedAt + 2000 && record.sentAt < startedAt + 3000);
    expect(sentEarlyInFreeze.length).toBeGreaterThan(50);
    const answeredAfterThaw = sentEarlyInFreeze.filter((record) => record.answeredAt >= thawedAt);
    expect(
      answeredAfterThaw.map((record) => `${record.path} sent at +${record.sentAt - startedAt} ms, answered ${record.answeredAt - thawedAt} ms after the thaw`),
    ).toEqual([]);
    expect(seenDuringFreeze).toEqual({
      state: expect.stringMatching(/^(open|half-open)$/),
      opens: 1,
      rejectedCommands: true,
      gaugeClosed: 0,
      gaugeNotClosed: 1,
      opensTotal: 1,
      redisDownAlert: true,
    });

    await waitFor(async () => ((await health()).redis.breaker.state === 'closed' ? true : undefined), 5000, 20);
    expect(records.some((record) => record.sentAt > thawedAt && isRedisHit(record))).toBe(true);
  });
});

describe('Redis paused again and again (CLIENT PAUSE) under a bot load', () => {
  let redisServer: PrivateRedis;
  let server: ServerProcess;

  beforeEach(async () => {
    redisServer = await startPrivateRedis();
    server = await startServerProcess({ ...faultEnv(redisServer), LOG_LEVEL: 'warn', LISTING_CATALOG_SIZE: '400', PUBLIC_URL: 'https://listings.example.com' });
    await waitFor(async () => ((await server.json<Health>('/health')).redis.status === 'up' ? true : undefined), 5000);
  });
  afterEach(async () => {
    try {
      await server?.stop();
    } finally {
      await redisServer.stop();
    }
  });

  it('keeps every answer a whole page under 1.5 s: no render lock is left behind by a pause', async () => {
    const admin = inspectionClient(redisServer.url);
    // Cold pages all along (400 listings, each asked for twice), so renders take locks during the pauses.
    const paths = Array.from({ length: 400 }, (_, index) => `/listings/${index + 1}`).flatMap((path) => [path, path]);
    const pause = (ms: number) => async () => {
      await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
    };
    try {
      const { records } = await steadyLoad({
        baseUrl: server.url,
        paths,
        ratePerSecond: 120,
        durationMs: 9000,
        headers: botHeaders,
        events: [
          { atMs: 1000, run: pause(2000) },
          { atMs: 4000, run: pause(1500) },
          { atMs: 6500, run: pause(1500) },
        ],
      });
      const { total, non2xx, incomplete } = summarise(records);
      if (non2xx.length > 0) process.stderr.write(`SERVER OUTPUT\n${server.output()}\n`);
      expect(total).toBeGreaterThan(900);
      expect(non2xx).toEqual([]);
      expect(incomplete).toEqual([]);
      const slow = records
        .filter((record) => record.answeredAt - record.sentAt >= 1500)
        .map((record) => `${record.path}: ${record.answeredAt - record.sentAt} ms`);
      expect(slow).toEqual([]);
      const metrics = parseScrape(await server.text('/metrics'));
      expect(metrics.value('ssr_cache_lock_wait_timeouts_total')).toBe(0);
    } finally {
      admin.disconnect();
    }
  }, 30_000);
});

describe('a full Redis (tiny maxmemory, noeviction)', () => {
  it('serves every page, skips the writes, keeps reading what is stored, and keeps the breaker closed', async () => {
    const redisServer = await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
    // The write budget would stop writes before Redis refuses them: set it out of the way so the OOM errors are met.
    const handle = faultApp(redisServer, { SSR_CACHE_REDIS_MEMORY_FRACTION: '1' });
    const control = inspectionClient(redisServer.url);
    try {
      await redisReady(handle);
      await request(handle.app).get('/listings/1').set('User-Agent', GOOGLEBOT);
      await waitForStored(handle, 'ssr:/listings/1');
      // A limit below what Redis already holds: with noeviction, every write now meets OOM.
      const used = Number(/used_memory:(\d+)/.exec(await control.info('memory'))![1]);
      await control.config('SET', 'maxmemory', String(used - 64 * 1024));
      await expect(control.set('probe', 'x')).rejects.toThrow(/OOM/);
      for (const path of PATHS) {
        const res = await request(handle.app).get(path).set('User-Agent', GOOGLEBOT);
        expect(res.status).toBe(200);
        expect(res.text).toContain('</html>');
      }
      expect((await request(handle.app).get('/listings/1').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('HIT');
      const health = await waitFor(async () => {
        const body = (await request(handle.app).get('/health')).body;
        return body.cache.writeFailures === PATHS.length - 1 ? body : undefined;
      }, 3000);
      expect(health.cache.stores).toBe(1);
      expect(health.redis.breaker).toMatchObject({ state: 'closed', opens: 0 });
      // The next reading of INFO memory (every SSR_CACHE_MEMORY_CHECK_MS) finds more used than
      // maxmemory: the memory alert, in /health and in /metrics.
      await handle.budget.refresh();
      const alerted = (await request(handle.app).get('/health')).body;
      expect(alerted.alerts.map((alert: { name: string }) => alert.name)).toEqual(['SsrCacheRedisMemoryHigh']);
      expect(alerted.redis.memoryUsed).toMatch(/^1\d\d\.\d\d%$/);
      const metrics = await scrape(handle.app);
      expect(metrics.value('ssr_cache_redis_memory_used_bytes')).toBeGreaterThan(metrics.value('ssr_cache_redis_memory_max_bytes'));
      expect(metrics.value('ssr_cache_write_failures_total')).toBe(PATHS.length - 1);
      // That reading also puts Redis over the write budget: the next page is not even sent to it.
      expect(health.redis.writesPaused).toBe(false);
      expect(alerted.redis.writesPaused).toBe(true);
      expect((await request(handle.app).get('/listings/99').set('User-Agent', GOOGLEBOT)).status).toBe(200);
      const skipped = await waitFor(
        async () => {
          const after = await scrape(handle.app);
          return after.value('ssr_cache_write_budget_skips_total') > 0 ? after : undefined;
        },
        3000,
        10,
      );
      expect(skipped.value('ssr_cache_write_budget_skips_total')).toBe(1);
      expect(skipped.value('ssr_cache_write_failures_total')).toBe(PATHS.length - 1);
    } finally {
      control.disconnect();
      await handle.close();
      await redisServer.stop();
    }
  });
});

describe('garbage at a cache key', () => {
  let redisServer: PrivateRedis;
  let handle: AppHandle;
  let prefix: string;
  const control = () => inspectionClient(redisServer.url);

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    prefix = uniquePrefix('garbage');
    handle = faultApp(redisServer, { REDIS_KEY_PREFIX: prefix });
    await redisReady(handle);
  });
  afterAll(async () => {
    await handle.close();
    await redisServer.stop();
  });

  const valid = encodeEntry(
    createEntry({ status: 200, contentType: 'text/html; charset=utf-8', freshTtl: 600, body: Buffer.from('<!DOCTYPE html><html>planted</html>') }),
  );
  const otherVersion = Buffer.from(valid);
  otherVersion[4] = 99;
  const cases: [string, (key: string, client: ReturnType<typeof control>) => Promise<unknown>][] = [
    ['a value of the wrong type (a list)', (key, client) => client.rpush(key, 'a', 'b')],
    ['a hash', (key, client) => client.hset(key, 'field', 'value')],
    ['a truncated envelope', (key, client) => client.set(key, valid.subarray(0, valid.length - 12))],
    ['an envelope of another format version', (key, client) => client.set(key, otherVersion)],
    ['the magic bytes and nothing else', (key, client) => client.set(key, valid.subarray(0, 4))],
    ['text from another program', (key, client) => client.set(key, '{"html":"<p>old cache</p>"}')],
  ];

  it.each(cases)('%s: a MISS with a whole page, overwritten by the render, then a HIT', async (_name, plant) => {
    const id = String(cases.findIndex(([name]) => name === _name) + 150);
    const client = control();
    try {
      await plant(`${prefix}ssr:/listings/${id}`, client);
      const first = await request(handle.app).get(`/listings/${id}`).set('User-Agent', GOOGLEBOT);
      expect(first.status).toBe(200);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(first.text).toContain('</html>');
      expect(first.text).not.toContain('planted');
      await waitFor(
        async () =>
          (await client.type(`${prefix}ssr:/listings/${id}`)) === 'string' && (await client.getBuffer(`${prefix}ssr:/listings/${id}`))!.length > 100
            ? true
            : undefined,
        2000,
        10,
      );
      const second = await request(handle.app).get(`/listings/${id}`).set('User-Agent', GOOGLEBOT);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.text).toBe(first.text);
    } finally {
      client.disconnect();
    }
  });
});
