import type { BreakerState } from '../redis/circuit-breaker';
import type { RedisTier } from '../redis/redis-tier';
import type { WriteBudget } from '../redis/write-budget';
import type { TierStack } from '../tiers/tier-stack';
import { currentAlerts, type HealthAlert } from './alerts';
import type { CacheMetrics } from './metrics';
import { hitRate, percent, type CacheStats } from './stats';

export interface CacheHealth extends CacheStats {
  /** ok while Redis serves the cache; degraded while it is down or the breaker keeps it off the request path (pages render through). */
  status: 'ok' | 'degraded';
  /** Caching is on: configured, and Redis up or the in-process tier there. */
  enabled: boolean;
  totalRequests: number;
  /** hits / (hits + misses) since start, as `"42.10%"`. */
  hitRate: string;
  /** The same over the last `seconds`. */
  window: { seconds: number; hits: number; misses: number; hitRate: string };
  memoryTier: { entries: number; bytes: number } | null;
  /** Invalidations waiting for Redis (no page is read from Redis meanwhile). */
  pendingInvalidations: number;
  redis: {
    status: 'up' | 'down';
    breaker: { state: BreakerState; opens: number; rejectedCommands: number; consecutiveFailures: number; changedAt: string | null };
    usedMemoryBytes: number | null;
    maxMemoryBytes: number | null;
    /** Share of maxmemory, or null without a limit. */
    memoryUsed: string | null;
    writesPaused: boolean;
  };
  alerts: HealthAlert[];
}

export interface HealthSources {
  enabled: boolean;
  redisTier: RedisTier;
  tiers: TierStack;
  budget: WriteBudget;
  stats: CacheStats;
  metrics: CacheMetrics;
}

export function readHealth({ enabled, redisTier, tiers, budget, stats, metrics }: HealthSources): CacheHealth {
  const redisUp = redisTier.isAvailable();
  const breaker = redisTier.breakerState();
  const memory = budget.lastMemory;
  const recent = metrics.window.counts();
  const seconds = Math.round(metrics.window.windowMs / 1000);
  return {
    status: (redisUp && breaker.state === 'closed') || !enabled ? 'ok' : 'degraded',
    // The in-process tier keeps caching while Redis is away.
    enabled: enabled && (redisUp || tiers.memory !== undefined),
    ...stats,
    totalRequests: stats.hits + stats.misses,
    hitRate: hitRate(stats),
    window: { seconds, hits: recent.hits, misses: recent.misses, hitRate: hitRate(recent) },
    memoryTier: tiers.memory ? { entries: tiers.memory.size, bytes: tiers.memory.bytes } : null,
    pendingInvalidations: tiers.pending.size,
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
      memoryUsed: memory && memory.maxBytes > 0 ? percent(memory.usedBytes / memory.maxBytes) : null,
      writesPaused: budget.isOverBudget,
    },
    alerts: currentAlerts({
      cacheConfigured: enabled,
      redisUp,
      breakerState: breaker.state,
      window: { ...recent, seconds, full: metrics.window.isFull },
      memory,
    }),
  };
}
