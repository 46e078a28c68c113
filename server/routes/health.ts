import { Router } from 'express';
import { hitRate, type CacheStats } from '../utils/cache-stats';
import type { CacheManager } from '../utils/cache-manager';
import type { TierStack } from '../utils/tier-stack';
import type { WriteBudget } from '../utils/write-budget';

export interface HealthOptions {
  cache: CacheManager;
  tiers: TierStack;
  budget: WriteBudget;
  stats: CacheStats;
  /** SSR_CACHE_ENABLED. */
  cacheConfigured: boolean;
}

/**
 * GET /health: 200 while pages are served; `degraded` when Redis is down or the circuit breaker
 * keeps it off the request path (pages render through).
 */
export function createHealthRouter({ cache, tiers, budget, stats, cacheConfigured }: HealthOptions): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    const redisUp = cache.isAvailable();
    const breaker = cache.breakerState();
    const memory = budget.lastMemory;
    res.set('Cache-Control', 'no-store').json({
      status: (redisUp && breaker.state === 'closed') || !cacheConfigured ? 'ok' : 'degraded',
      timestamp: new Date().toISOString(),
      redis: {
        status: redisUp ? 'up' : 'down',
        breaker: {
          state: breaker.state,
          opens: breaker.opens,
          rejectedCommands: breaker.rejected,
          consecutiveFailures: breaker.consecutiveFailures,
          changedAt: breaker.changedAt === null ? null : new Date(breaker.changedAt).toISOString(),
        },
        usedMemoryBytes: memory?.usedBytes ?? null,
        maxMemoryBytes: memory?.maxBytes ?? null,
        writesPaused: budget.isOverBudget,
      },
      cache: {
        // The in-process tier keeps caching while Redis is away.
        enabled: cacheConfigured && (redisUp || tiers.memory !== undefined),
        memoryTier: tiers.memory ? { entries: tiers.memory.size, bytes: tiers.memory.bytes } : null,
        totalRequests: stats.hits + stats.misses,
        hits: stats.hits,
        misses: stats.misses,
        hitRate: hitRate(stats),
        bypasses: stats.bypasses,
        renders: stats.renders,
        coalescedWaits: stats.coalescedWaits,
        staleServed: stats.staleServed,
        backgroundRefreshes: stats.backgroundRefreshes,
        renderErrors: stats.renderErrors,
        lockWaitTimeouts: stats.lockWaitTimeouts,
        memoryHits: stats.memoryHits,
        stores: stats.stores,
        storeSkips: stats.storeSkips,
        oversized: stats.oversized,
        budgetSkips: stats.budgetSkips,
        writeFailures: stats.writeFailures,
        invalidations: stats.invalidations,
        keysInvalidated: stats.keysInvalidated,
        webhooks: stats.webhooks,
        webhooksRejected: stats.webhooksRejected,
        webhooksIgnored: stats.webhooksIgnored,
      },
    });
  });
  return router;
}
