import { percent } from './stats';
import type { RedisMemory } from '../redis/write-budget';

/** The thresholds of health()'s alerts (Prometheus alert rules over the ssr_cache_* metrics can use the same ones). */
export const ALERT_THRESHOLDS = {
  /** Hit rate of the whole rolling window (the last hour by default). */
  minHitRate: 0.7,
  /** Fewer lookups than this in the window say nothing about the hit rate (an idle site). */
  minLookups: 100,
  maxRedisMemoryShare: 0.8,
  /** Over this share of lookups answered stale, the cache is likely masking a failing origin. */
  maxStaleShare: 0.2,
} as const;

export interface HealthAlert {
  name: 'SsrCacheHitRateLow' | 'SsrCacheRedisDown' | 'SsrCacheRedisMemoryHigh' | 'SsrCacheStaleShareHigh';
  summary: string;
}

/** The alert conditions that hold now, as health() reports them. */
export function currentAlerts(input: {
  cacheConfigured: boolean;
  redisUp: boolean;
  breakerState: string;
  window: { hits: number; misses: number; stale: number; seconds: number; full: boolean };
  memory: RedisMemory | undefined;
}): HealthAlert[] {
  const alerts: HealthAlert[] = [];
  if (!input.cacheConfigured) return alerts;
  const { hits, misses, seconds, full } = input.window;
  const lookups = hits + misses;
  // "Under 70% for over an hour": the whole window, once the process has counted for a whole one.
  if (full && lookups >= ALERT_THRESHOLDS.minLookups && hits / lookups < ALERT_THRESHOLDS.minHitRate) {
    alerts.push({
      name: 'SsrCacheHitRateLow',
      summary: `hit rate ${percent(hits / lookups)} over the last ${seconds} s (${lookups} lookups), under ${percent(ALERT_THRESHOLDS.minHitRate)}`,
    });
  }
  // Stale answers are fine now and then (grace, soft invalidations); most of them means re-renders keep failing behind the cache.
  if (lookups >= ALERT_THRESHOLDS.minLookups && input.window.stale / lookups > ALERT_THRESHOLDS.maxStaleShare) {
    alerts.push({
      name: 'SsrCacheStaleShareHigh',
      summary: `${percent(input.window.stale / lookups)} of lookups over the last ${seconds} s were answered stale (over ${percent(ALERT_THRESHOLDS.maxStaleShare)}): re-renders may be failing behind the cache`,
    });
  }
  if (!input.redisUp) alerts.push({ name: 'SsrCacheRedisDown', summary: 'Redis is down: pages render through on every request' });
  else if (input.breakerState !== 'closed')
    alerts.push({ name: 'SsrCacheRedisDown', summary: `Redis keeps failing: the circuit breaker is ${input.breakerState}, pages render through` });
  const memory = input.memory;
  if (memory && memory.maxBytes > 0 && memory.usedBytes / memory.maxBytes > ALERT_THRESHOLDS.maxRedisMemoryShare) {
    alerts.push({
      name: 'SsrCacheRedisMemoryHigh',
      summary: `Redis uses ${percent(memory.usedBytes / memory.maxBytes)} of its maxmemory, over ${percent(ALERT_THRESHOLDS.maxRedisMemoryShare)}`,
    });
  }
  return alerts;
}
