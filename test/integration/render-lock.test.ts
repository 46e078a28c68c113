import { RenderLock } from '../../packages/ssr-page-cache/src/coordination/render-lock';
import { createEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { SingleFlight } from '../../packages/ssr-page-cache/src/coordination/single-flight';
import { silentLogger } from '../../packages/ssr-page-cache/src/logger';
import { RedisTier } from '../../packages/ssr-page-cache/src/redis/redis-tier';
import type { Redis } from '../../server/utils/redis-client';
import { inspectionClient, removeKeys, uniquePrefix } from '../helpers/redis';

describe('render locks on the real Redis', () => {
  const prefix = uniquePrefix('lock');
  let redis: Redis;
  let tier: RedisTier;
  beforeAll(async () => {
    redis = inspectionClient();
    await redis.ping(); // connected: the lock is asked of Redis, not granted for want of it
  });
  beforeEach(() => {
    tier = new RedisTier({ redis, logger: silentLogger, keyPrefix: prefix, breaker: { failureThreshold: 2, cooldownMs: 60_000 }, commandTimeoutMs: 200 });
  });
  afterEach(async () => {
    tier.stop();
    await removeKeys(redis, prefix);
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('releases a lock it holds even while the breaker is open (a lock left behind makes others wait)', async () => {
    const lock = new RenderLock({ redis, cache: tier, keyPrefix: prefix, ttlMs: 15_000 });
    expect(await lock.acquire('ssr:/a', 'token-1')).toBe('taken');
    expect(await redis.get(`${prefix}ssr-lock:ssr:/a`)).toBe('token-1');
    // Redis failed twice meanwhile (a pause, say): the breaker is open, no page command is sent.
    tier.breaker.recordFailure(new Error('Command timed out'));
    tier.breaker.recordFailure(new Error('Command timed out'));
    expect(tier.breakerState().state).toBe('open');
    await lock.release('ssr:/a', 'token-1');
    expect(await redis.exists(`${prefix}ssr-lock:ssr:/a`)).toBe(0);
    // Only its owner's release removes it.
    tier.breaker.reset();
    expect(await lock.acquire('ssr:/b', 'token-2')).toBe('taken');
    await lock.release('ssr:/b', 'someone-else');
    expect(await redis.get(`${prefix}ssr-lock:ssr:/b`)).toBe('token-2');
  });

  it('releases nothing it never asked for: a render granted without Redis sends no release', async () => {
    const lock = new RenderLock({ redis, cache: tier, keyPrefix: prefix, ttlMs: 15_000 });
    const released: string[] = [];
    const release = lock.release.bind(lock);
    lock.release = async (key, token) => {
      released.push(key);
      await release(key, token);
    };
    const flight = new SingleFlight({ lock, waitMs: 100, flightTtlMs: 15_000, readEntry: async () => undefined, onWaitTimeout: () => undefined });
    // Redis just failed: the lock is not asked for, the render is granted.
    tier.breaker.recordFailure(new Error('Command timed out'));
    const granted = await flight.join('ssr:/d');
    expect(granted.role).toBe('leader');
    if (granted.role === 'leader') granted.done(undefined);
    expect(released).toEqual([]);
    // Asked for and taken: released.
    tier.breaker.reset();
    const taken = await flight.join('ssr:/e');
    if (taken.role === 'leader') taken.done(undefined);
    expect(released).toEqual(['ssr:/e']);
  });

  it('evicts at most 100 negative entries a store when the cap is lowered, so Redis is never blocked on one', async () => {
    const wide = new RedisTier({ redis, logger: silentLogger, keyPrefix: prefix, maxNegativeEntries: 1000 });
    const entry = (n: number) => createEntry({ status: 404, contentType: 'text/html', freshTtl: 60, body: Buffer.from(`<p>${n}</p>`) });
    for (let n = 0; n < 150; n += 1) await wide.set(`ssr:/gone/${n}`, entry(n));
    wide.stop();
    expect(await redis.zcard(`${prefix}ssr-negative`)).toBe(150);
    const narrow = new RedisTier({ redis, logger: silentLogger, keyPrefix: prefix, maxNegativeEntries: 10 });
    await narrow.set('ssr:/gone/new', entry(999));
    expect(await redis.zcard(`${prefix}ssr-negative`)).toBe(151 - 100);
    await narrow.set('ssr:/gone/newer', entry(1000));
    expect(await redis.zcard(`${prefix}ssr-negative`)).toBe(10);
    narrow.stop();
  });

  it('never keeps a follower longer than the lock wait plus one read, however slow each poll is', async () => {
    const lock = new RenderLock({ redis, cache: tier, keyPrefix: prefix, ttlMs: 15_000 });
    // Another instance holds the page's lock and never stores it; every read takes 150 ms.
    await redis.set(`${prefix}ssr-lock:ssr:/c`, 'other-instance', 'PX', 15_000);
    const flight = new SingleFlight({
      lock,
      waitMs: 400,
      flightTtlMs: 15_000,
      readEntry: () => new Promise((resolve) => setTimeout(() => resolve(undefined), 150)),
      onWaitTimeout: () => undefined,
    });
    const started = Date.now();
    const role = await flight.join('ssr:/c');
    const waited = Date.now() - started;
    expect(role.role).toBe('leader');
    expect(waited).toBeGreaterThanOrEqual(390);
    expect(waited).toBeLessThan(400 + 150 + 100);
  });
});
