/**
 * The Redis tier on its own (`ssr-page-cache/redis-tier`), for code that reads and writes
 * entries itself: get, set, delete, deletePattern, tags, with the same key format, envelope,
 * circuit breaker and command timeout as the cache.
 *
 *   const tier = new RedisTier({ redis, logger: console });
 *   await tier.set('ssr:/posts/hello', createEntry({ status: 200, contentType: 'text/html', freshTtl: 300, body }));
 */
export { RedisTier, escapeGlob, type RedisTierOptions, type DeleteResult, type GarbageKind } from './redis/redis-tier';
export { createEntry, type CacheEntry, type BodyEncoding, type StoredHeader } from './entry/cache-entry';
export type { RedisClient } from './redis/connection';
export type { Logger, LogFn } from './logger';
