import { Router, type RequestHandler } from 'express';
import { requireBearerToken } from '../middleware/require-bearer-token';
import { hitRate, percent, type CacheStats } from '../utils/cache-stats';
import type { CacheManager } from '../utils/cache-manager';
import { currentAlerts } from '../utils/cache-alerts';
import type { CacheMetrics } from '../utils/cache-metrics';
import type { TierStack } from '../utils/tier-stack';
import type { WriteBudget } from '../utils/write-budget';

export interface HealthOptions {
  cache: CacheManager;
  tiers: TierStack;
  budget: WriteBudget;
  stats: CacheStats;
  metrics: CacheMetrics;
  /** SSR_CACHE_ENABLED. */
  cacheConfigured: boolean;
  /** METRICS_TOKEN: unset, /metrics is open. */
  metricsToken?: string;
}

/**
 * GET /health: 200 while pages are served; `degraded` when Redis is down or the circuit breaker
 * keeps it off the request path (pages render through).
 */
export function createHealthRouter({ cache, tiers, budget, stats, metrics, cacheConfigured, metricsToken }: HealthOptions): Router {
  const router = Router();
  // GET /metrics: Prometheus text, behind METRICS_TOKEN when that is set (it changes nothing).
  const metricsGuard: RequestHandler = metricsToken ? requireBearerToken(metricsToken, '') : (_req, _res, next) => next();
  router.get('/metrics', metricsGuard, async (_req, res) => {
    res.set('Cache-Control', 'no-store').type(metrics.contentType).send(await metrics.scrape());
  });
  router.get('/health', (_req, res) => {
    const redisUp = cache.isAvailable();
    const breaker = cache.breakerState();
    const memory = budget.lastMemory;
    const recent = metrics.window.counts();
    const windowSeconds = Math.round(metrics.window.windowMs / 1000);
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
        // null without a maxmemory to compare with (0: no limit).
        memoryUsed: memory && memory.maxBytes > 0 ? percent(memory.usedBytes / memory.maxBytes) : null,
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
        // The same hits and misses over the last windowSeconds, beside the since-start counters.
        window: { seconds: windowSeconds, hits: recent.hits, misses: recent.misses, hitRate: hitRate(recent) },
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
      alerts: currentAlerts({
        cacheConfigured,
        redisUp,
        breakerState: breaker.state,
        window: { ...recent, seconds: windowSeconds, full: metrics.window.isFull },
        memory,
      }),
    });
  });
  return router;
}
