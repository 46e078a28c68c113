import { ReplyError } from 'ioredis';
import { createEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { createCacheManager, escapeGlob } from '../../server/utils/cache-manager';
import type { Redis } from '../../server/utils/redis-client';
import { createLogger } from '../../server/utils/logger';
import { createMockRedis } from '../helpers/redis';

const logger = createLogger('silent');
const page = (html: string, freshTtl = 60) => createEntry({ status: 200, contentType: 'text/html; charset=utf-8', freshTtl, body: Buffer.from(html) });

describe('CacheManager (ioredis-mock)', () => {
  let redis: Redis;
  beforeEach(() => {
    redis = createMockRedis();
  });

  it('returns a stored page on get (hit)', async () => {
    const cache = createCacheManager({ redis, logger });
    await cache.set('ssr:/listings/1', page('<p>one</p>'));
    const entry = await cache.get('ssr:/listings/1');
    expect(entry?.body.toString()).toBe('<p>one</p>');
    expect(entry?.status).toBe(200);
  });

  it('returns undefined for a key never stored (miss)', async () => {
    await expect(createCacheManager({ redis, logger }).get('ssr:/nothing')).resolves.toBeUndefined();
  });

  it('stores with a TTL: the given one, else the entry freshness plus grace', async () => {
    const cache = createCacheManager({ redis, logger });
    await cache.set('ssr:/a', page('a', 1800));
    await cache.set('ssr:/b', page('b'), 90);
    const ttlA = await redis.pttl('ssr:/a');
    const ttlB = await redis.pttl('ssr:/b');
    expect(ttlA).toBeGreaterThan(1_799_000);
    expect(ttlA).toBeLessThanOrEqual(1_800_000);
    expect(ttlB).toBeGreaterThan(89_000);
    expect(ttlB).toBeLessThanOrEqual(90_000);
  });

  it('lets the TTL really expire the page', async () => {
    const cache = createCacheManager({ redis, logger });
    await cache.set('ssr:/short', page('short'), 0.05);
    expect(await cache.get('ssr:/short')).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await cache.get('ssr:/short')).toBeUndefined();
  });

  it('never writes without a TTL', async () => {
    const cache = createCacheManager({ redis, logger });
    expect(await cache.set('ssr:/zero', page('zero'), 0)).toBe(false);
    expect(await redis.exists('ssr:/zero')).toBe(0);
  });

  it('deletes one key or many, and counts them', async () => {
    const cache = createCacheManager({ redis, logger, batchSize: 2 });
    for (const key of ['ssr:/1', 'ssr:/2', 'ssr:/3']) await cache.set(key, page(key));
    expect(await cache.delete('ssr:/1')).toEqual({ deleted: 1, ok: true });
    expect(await cache.delete(['ssr:/2', 'ssr:/3', 'ssr:/missing'])).toEqual({ deleted: 2, ok: true });
    expect(await cache.get('ssr:/2')).toBeUndefined();
  });

  // Batching across several SCAN pages is covered against the real Redis (the mock's cursor
  // skips keys deleted mid-scan, which Redis does not).
  it('deletes by pattern with SCAN + UNLINK, leaving other keys', async () => {
    const cache = createCacheManager({ redis, logger });
    for (let id = 0; id < 10; id += 1) await cache.set(`ssr:/listings/${id}`, page(String(id)));
    await cache.set('ssr:/', page('home'));
    await redis.set('bull:queue:1', 'job');
    const scan = jest.spyOn(redis, 'scan');
    const keys = jest.spyOn(redis, 'keys');
    expect(await cache.deletePattern('ssr:/listings/*')).toEqual({ deleted: 10, ok: true });
    expect(scan).toHaveBeenCalled();
    expect(keys).not.toHaveBeenCalled();
    expect(await cache.get('ssr:/')).toBeDefined();
    expect(await redis.get('bull:queue:1')).toBe('job');
  });

  it('keeps its keys under REDIS_KEY_PREFIX', async () => {
    const cache = createCacheManager({ redis, logger, keyPrefix: 'site-a:' });
    await cache.set('ssr:/', page('home'));
    expect(await redis.exists('site-a:ssr:/')).toBe(1);
    expect(await redis.exists('ssr:/')).toBe(0);
    expect(await cache.deletePattern('ssr:*')).toEqual({ deleted: 1, ok: true });
    expect(await redis.exists('site-a:ssr:/')).toBe(0);
  });

  it('escapes glob characters in literal parts of a pattern', () => {
    expect(escapeGlob('ssr:/listings?page=[1]*\\')).toBe('ssr:/listings\\?page=\\[1\\]\\*\\\\');
  });

  it('turns Redis errors into a miss, a skipped write and a failed delete, and logs them', async () => {
    const warn = jest.fn();
    const failing = createMockRedis();
    const boom = () => Promise.reject(new Error('Command timed out'));
    Object.assign(failing, { getBuffer: boom, set: boom, unlink: boom, scan: boom });
    const cache = createCacheManager({ redis: failing, logger: { ...logger, warn } as unknown as typeof logger });
    await expect(cache.get('ssr:/')).resolves.toBeUndefined();
    await expect(cache.set('ssr:/', page('x'))).resolves.toBe(false);
    await expect(cache.delete('ssr:/')).resolves.toEqual({ deleted: 0, ok: false });
    await expect(cache.deletePattern('ssr:*')).resolves.toEqual({ deleted: 0, ok: false });
    expect(warn).toHaveBeenCalledTimes(4);
    expect(warn.mock.calls[0]![0]).toMatchObject({ key: 'ssr:/', operation: 'get' });
  });

  it('logs the same failure once per interval, with a count of the ones it held back', async () => {
    const warn = jest.fn();
    const failing = createMockRedis();
    Object.assign(failing, { set: () => Promise.reject(new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")) });
    const cache = createCacheManager({ redis: failing, logger: { ...logger, warn } as unknown as typeof logger, failureLogIntervalMs: 60_000 });
    for (let i = 0; i < 5; i += 1) await expect(cache.set(`ssr:/${i}`, page('x'))).resolves.toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    const quick = createCacheManager({ redis: failing, logger: { ...logger, warn } as unknown as typeof logger, failureLogIntervalMs: 0 });
    await quick.set('ssr:/a', page('x'));
    await quick.set('ssr:/b', page('x'));
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn.mock.calls[2]![0]).toMatchObject({ operation: 'set', suppressed: 0 });
  });

  it('does not call Redis at all while the connection is down', async () => {
    Object.defineProperty(redis, 'status', { value: 'reconnecting' });
    const get = jest.spyOn(redis, 'getBuffer');
    const cache = createCacheManager({ redis, logger });
    await expect(cache.get('ssr:/')).resolves.toBeUndefined();
    await expect(cache.set('ssr:/', page('x'))).resolves.toBe(false);
    expect(get).not.toHaveBeenCalled();
  });

  it('reads a value that is not an entry as a miss', async () => {
    await redis.set('ssr:/garbage', 'not an entry');
    await expect(createCacheManager({ redis, logger }).get('ssr:/garbage')).resolves.toBeUndefined();
  });
});
