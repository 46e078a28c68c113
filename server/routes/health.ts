import { Router, type RequestHandler } from 'express';
import { requireBearerToken } from '../middleware/require-bearer-token';
import { hitRate, type CacheStats } from '../utils/cache-stats';
import type { CacheManager } from '../utils/cache-manager';
import type { CacheMetrics } from '../utils/cache-metrics';
import type { RedisMemory } from '../utils/write-budget';
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

/** The story's alert thresholds; ops/prometheus-alerts.yml holds the same ones. */
export const ALERT_THRESHOLDS = {
  /** Hit rate of the whole rolling window (the last hour by default). */
  minHitRate: 0.7,
  /** Fewer lookups than this in the window say nothing about the hit rate (an idle site). */
  minLookups: 100,
  maxRedisMemoryShare: 0.8,
} as const;

export interface HealthAlert {
  name: 'SsrCacheHitRateLow' | 'SsrCacheRedisDown' | 'SsrCacheRedisMemoryHigh';
  summary: string;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

/** The story's alert conditions that hold now. */
export function currentAlerts(input: {
  cacheConfigured: boolean;
  redisUp: boolean;
  breakerState: string;
  window: { hits: number; misses: number; seconds: number; full: boolean };
  memory: RedisMemory | undefined;
}): HealthAlert[] {
  const alerts: HealthAlert[] = [];
  if (!input.cacheConfigured) return alerts;
  const { hits, misses, seconds, full } = input.window;
  const lookups = hits + misses;
  // "Under 70% for over an hour": the whole window, once the process has counted for a whole one.
  if (full && lookups >= ALERT_THRESHOLDS.minLookups && hits / lookups < ALERT_THRESHOLDS.minHitRate) {
    alerts.push({ name: 'SsrCacheHitRateLow', summary: `hit rate ${percent(hits / lookups)} over the last ${seconds} s (${lookups} lookups), under ${percent(ALERT_THRESHOLDS.minHitRate)}` });
  }
  if (!input.redisUp) alerts.push({ name: 'SsrCacheRedisDown', summary: 'Redis is down: pages render through on every request' });
  else if (input.breakerState !== 'closed') alerts.push({ name: 'SsrCacheRedisDown', summary: `Redis keeps failing: the circuit breaker is ${input.breakerState}, pages render through` });
  const memory = input.memory;
  if (memory && memory.maxBytes > 0 && memory.usedBytes / memory.maxBytes > ALERT_THRESHOLDS.maxRedisMemoryShare) {
    alerts.push({ name: 'SsrCacheRedisMemoryHigh', summary: `Redis uses ${percent(memory.usedBytes / memory.maxBytes)} of its maxmemory, over ${percent(ALERT_THRESHOLDS.maxRedisMemoryShare)}` });
  }
  return alerts;
}

/** GET /metrics: Prometheus text, behind METRICS_TOKEN when that is set. */
function metricsRoute(metrics: CacheMetrics, token: string | undefined): [RequestHandler, RequestHandler] {
  const guard: RequestHandler = token ? requireBearerToken(token, '') : (_req, _res, next) => next();
  return [
    guard,
    async (_req, res) => {
      res.set('Cache-Control', 'no-store').type(metrics.contentType).send(await metrics.scrape());
    },
  ];
}

/**
 * GET /health: 200 while pages are served; `degraded` when Redis is down or the circuit breaker
 * keeps it off the request path (pages render through).
 */
export function createHealthRouter({ cache, tiers, budget, stats, metrics, cacheConfigured, metricsToken }: HealthOptions): Router {
  const router = Router();
  router.get('/metrics', ...metricsRoute(metrics, metricsToken));
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
