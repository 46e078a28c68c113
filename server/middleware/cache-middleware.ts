import { createPageCache, type PageCache, type RedisClient } from 'ssr-page-cache';
import { pageCacheOptions, type Config } from '../config';
import type { Logger } from '../utils/logger';

export type { PageCache };

/**
 * The listings server's page cache: the package's middleware with our env vars as its options.
 * `app.use(cache.middleware)` goes in front of the page routes; `cache.front(app)` answers hits
 * before Express.
 */
export function createCacheMiddleware(config: Config, redis: RedisClient, logger: Logger): PageCache {
  return createPageCache({ ...pageCacheOptions(config), redis, logger });
}
