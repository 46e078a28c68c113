import { RedisTier, type RedisTierOptions } from 'ssr-page-cache/redis-tier';
import { loadConfig } from '../config';
import { createLogger } from './logger';
import { createRedisClient, describeRedisTarget } from './redis-client';

export { escapeGlob, type DeleteResult } from 'ssr-page-cache/redis-tier';
export type CacheManagerOptions = RedisTierOptions;

/**
 * The story's cache manager: the page cache's Redis tier (get, set, delete, deletePattern,
 * tags), for code that reads and writes entries itself.
 */
export class CacheManager extends RedisTier {}

export function createCacheManager(options: CacheManagerOptions): CacheManager {
  return new CacheManager(options);
}

let shared: CacheManager | undefined;

/**
 * The process-wide cache manager for code that embeds the cache without createApp: built on
 * first use from the environment (same variables as the server).
 */
export function getCacheManager(): CacheManager {
  if (!shared) {
    const config = loadConfig();
    const logger = createLogger(config.logLevel);
    shared = createCacheManager({
      redis: createRedisClient(config.redis, logger),
      logger,
      breaker: { failureThreshold: config.redis.breakerThreshold, cooldownMs: config.redis.breakerCooldownMs },
      commandTimeoutMs: config.redis.commandTimeoutMs,
      keyPrefix: config.redis.keyPrefix,
      defaultTtlSeconds: config.cache.defaultTtlSeconds,
      target: describeRedisTarget(config.redis),
    });
  }
  return shared;
}
