import { Router } from 'express';
import { hitRate, type CacheStats } from '../utils/cache-stats';
import type { CacheManager } from '../utils/cache-manager';

export interface HealthOptions {
  cache: CacheManager;
  stats: CacheStats;
  /** SSR_CACHE_ENABLED. */
  cacheConfigured: boolean;
}

/** GET /health: 200 while pages are served; `degraded` when Redis is down (pages go uncached). */
export function createHealthRouter({ cache, stats, cacheConfigured }: HealthOptions): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    const redisUp = cache.isAvailable();
    res.set('Cache-Control', 'no-store').json({
      status: redisUp || !cacheConfigured ? 'ok' : 'degraded',
      timestamp: new Date().toISOString(),
      redis: { status: redisUp ? 'up' : 'down' },
      cache: {
        enabled: cacheConfigured && redisUp,
        totalRequests: stats.hits + stats.misses,
        hits: stats.hits,
        misses: stats.misses,
        hitRate: hitRate(stats),
        bypasses: stats.bypasses,
        stores: stats.stores,
        storeSkips: stats.storeSkips,
        invalidations: stats.invalidations,
        keysInvalidated: stats.keysInvalidated,
      },
    });
  });
  return router;
}
