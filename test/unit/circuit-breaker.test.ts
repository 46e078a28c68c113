import { ReplyError } from 'ioredis';
import { createEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { createCacheManager } from '../../server/utils/cache-manager';
import { createLogger } from '../../server/utils/logger';
import type { Redis } from '../../server/utils/redis-client';
import { capturingLogger } from '../helpers/log-capture';
import { createMockRedis } from '../helpers/redis';

const page = createEntry({ status: 200, contentType: 'text/html; charset=utf-8', freshTtl: 60, body: Buffer.from('<p>x</p>') });
const timedOut = () => Promise.reject(new Error('Command timed out'));

describe('the circuit breaker around Redis (ioredis-mock)', () => {
  let redis: Redis;
  beforeEach(async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    redis = createMockRedis();
    // The mock says 'ready' on the next tick; a 'ready' later would close the breaker (a reconnect).
    await new Promise((resolve) => setImmediate(resolve));
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('opens after the threshold of failures in a row, then stops calling Redis', async () => {
    const getBuffer = jest.fn(timedOut);
    Object.assign(redis, { getBuffer });
    const cache = createCacheManager({ redis, logger: createLogger('silent'), breaker: { failureThreshold: 3, cooldownMs: 1000 } });
    for (let i = 0; i < 3; i += 1) await expect(cache.get('ssr:/')).resolves.toBeUndefined();
    expect(cache.breakerState()).toMatchObject({ state: 'open', opens: 1 });
    for (let i = 0; i < 10; i += 1) await expect(cache.get('ssr:/')).resolves.toBeUndefined();
    expect(getBuffer).toHaveBeenCalledTimes(3);
    expect(cache.breakerState().rejected).toBe(10);
    expect(cache.isHealthy()).toBe(false);
    expect(cache.isUsable()).toBe(false);
    cache.stop();
  });

  it('a success resets the count: only failures in a row open it', async () => {
    let fail = true;
    Object.assign(redis, { getBuffer: jest.fn(() => (fail ? timedOut() : Promise.resolve(null))) });
    const cache = createCacheManager({ redis, logger: createLogger('silent'), breaker: { failureThreshold: 3, cooldownMs: 1000 } });
    for (let round = 0; round < 5; round += 1) {
      fail = true;
      await cache.get('ssr:/');
      await cache.get('ssr:/');
      fail = false;
      await cache.get('ssr:/');
    }
    expect(cache.breakerState()).toMatchObject({ state: 'closed', opens: 0 });
    cache.stop();
  });

  it('does not count reply errors (a full Redis answers): it stays closed', async () => {
    Object.assign(redis, { set: () => Promise.reject(new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")) });
    const cache = createCacheManager({ redis, logger: createLogger('silent'), breaker: { failureThreshold: 2, cooldownMs: 1000 } });
    for (let i = 0; i < 10; i += 1) await expect(cache.set(`ssr:/${i}`, page)).resolves.toBe(false);
    expect(cache.breakerState().state).toBe('closed');
    cache.stop();
  });

  it('probes after the cool-down: stays open while the probe fails, closes when it answers', async () => {
    const { logger, lines } = capturingLogger();
    let up = false;
    const ping = jest.fn(() => (up ? Promise.resolve('PONG') : timedOut()));
    Object.assign(redis, { getBuffer: timedOut, ping });
    const cache = createCacheManager({ redis, logger, breaker: { failureThreshold: 2, cooldownMs: 1000 } });
    await cache.get('ssr:/');
    await cache.get('ssr:/');
    expect(cache.breakerState().state).toBe('open');

    await jest.advanceTimersByTimeAsync(999);
    expect(ping).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(ping).toHaveBeenCalledTimes(1);
    expect(cache.breakerState().state).toBe('open');

    up = true;
    await jest.advanceTimersByTimeAsync(1000);
    expect(ping).toHaveBeenCalledTimes(2);
    expect(cache.breakerState()).toMatchObject({ state: 'closed', opens: 1 });

    // One line per change of state, not per failure or probe.
    const changes = lines.filter((line) => String(line.msg).startsWith('redis circuit breaker')).map((line) => line.msg);
    expect(changes).toEqual([
      'redis circuit breaker open: Redis is not asked, pages render through',
      'redis circuit breaker closed: Redis tier back on the request path',
    ]);
    cache.stop();
  });

  it('closes at once when the connection comes back (ready)', async () => {
    Object.assign(redis, { getBuffer: timedOut });
    const cache = createCacheManager({ redis, logger: createLogger('silent'), breaker: { failureThreshold: 1, cooldownMs: 60_000 } });
    await cache.get('ssr:/');
    expect(cache.breakerState().state).toBe('open');
    redis.emit('ready');
    expect(cache.breakerState().state).toBe('closed');
    cache.stop();
  });
});
