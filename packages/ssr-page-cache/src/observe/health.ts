import type { BreakerState } from '../redis/circuit-breaker';
import type { RedisTier } from '../redis/redis-tier';
import type { WriteBudget } from '../redis/write-budget';
import type { TierStack } from '../tiers/tier-stack';
import { currentAlerts, type HealthAlert } from './alerts';
import type { CacheMetrics } from './metrics';
import type { AgentFamily } from '../flow/recv';
import { hitRate, percent, type AgentCounts, type CacheStats, type DurationSummary } from './stats';

type Counters = Omit<CacheStats, 'agents' | 'staleAge' | 'freshnessLag'>;

/** A duration summary as /health shows it. */
export interface DurationReport {
  count: number;
  meanSeconds: number | null;
  maxSeconds: number | null;
  lastSeconds: number | null;
}

export interface CrawlReport {
  /** What each client family got since start; hitRate: (hits + stale) / (hits + stale + misses). */
  agents: Record<AgentFamily, AgentCounts & { hitRate: string }>;
  /** Share of all answers on cached routes that were 304 Not Modified. */
  notModifiedShare: string;
  /** Share of lookups answered with a stale page (since start; the window's is in `window`). */
  staleShare: string;
  /** Seconds past freshness of the STALE pages served. */
  staleAge: DurationReport;
  /** Seconds from an accepted invalidation to the fresh page stored. */
  freshnessLag: DurationReport;
}

export interface CacheHealth extends Counters {
  /** ok while Redis serves the cache; degraded while it is down or the breaker keeps it off the request path (pages render through). */
  status: 'ok' | 'degraded';
  /** Caching is on: configured, and Redis up or the in-process tier there. */
  enabled: boolean;
  totalRequests: number;
  /** hits / (hits + misses) since start, as `"42.10%"`. */
  hitRate: string;
  /** The same over the last `seconds`, with the stale answers among the hits. */
  window: { seconds: number; hits: number; misses: number; stale: number; hitRate: string; staleShare: string };
  crawl: CrawlReport;
  /** The running build (the buildId option) and the share of pages read from Redis that it rendered. */
  build: { id: string | null; redisPageReads: number; otherBuildReads: number; runningBuildShare: string | null };
  memoryTier: { entries: number; bytes: number } | null;
  /** Invalidations waiting for Redis (no page is read from Redis meanwhile). */
  pendingInvalidations: number;
  /**
   * This instance's copy of the shared invalidation record: `known` once read from Redis, its
   * last number (`seq`), the `floor` below which every entry is stale, and the marks it holds.
   */
  invalidationRecord: { known: boolean; seq: number; floor: number; marks: number };
  redis: {
    status: 'up' | 'down';
    breaker: { state: BreakerState; opens: number; rejectedCommands: number; consecutiveFailures: number; changedAt: string | null };
    usedMemoryBytes: number | null;
    maxMemoryBytes: number | null;
    /** Share of maxmemory, or null without a limit. */
    memoryUsed: string | null;
    /** maxmemory-policy (the fullest master's on a cluster): writes pause only under `noeviction`. */
    maxMemoryPolicy: string | null;
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
  buildId?: string;
}

function report(summary: DurationSummary): DurationReport {
  const round = (seconds: number) => Math.round(seconds * 1000) / 1000;
  return {
    count: summary.count,
    meanSeconds: summary.count === 0 ? null : round(summary.sumSeconds / summary.count),
    maxSeconds: summary.count === 0 ? null : round(summary.maxSeconds),
    lastSeconds: summary.lastSeconds === null ? null : round(summary.lastSeconds),
  };
}

function share(part: number, whole: number): string {
  return percent(whole === 0 ? 0 : part / whole);
}

function crawlReport(stats: CacheStats): CrawlReport {
  const entries = Object.entries(stats.agents) as [AgentFamily, AgentCounts][];
  const agents = Object.fromEntries(
    entries.map(([family, counts]) => [family, { ...counts, hitRate: hitRate({ hits: counts.hits + counts.stale, misses: counts.misses }) }]),
  ) as CrawlReport['agents'];
  const answers = entries.reduce((sum, [, counts]) => sum + counts.requests, 0);
  const notModified = entries.reduce((sum, [, counts]) => sum + counts.notModified, 0);
  return {
    agents,
    notModifiedShare: share(notModified, answers),
    staleShare: share(stats.staleServed, stats.hits + stats.misses),
    staleAge: report(stats.staleAge),
    freshnessLag: report(stats.freshnessLag),
  };
}

export function readHealth({ enabled, redisTier, tiers, budget, stats, metrics, buildId }: HealthSources): CacheHealth {
  const { agents: _agents, staleAge: _staleAge, freshnessLag: _lag, ...counters } = stats;
  const redisUp = redisTier.isAvailable();
  const breaker = redisTier.breakerState();
  const memory = budget.lastMemory;
  const recent = metrics.window.counts();
  const seconds = Math.round(metrics.window.windowMs / 1000);
  return {
    status: (redisUp && breaker.state === 'closed') || !enabled ? 'ok' : 'degraded',
    // The in-process tier keeps caching while Redis is away.
    enabled: enabled && (redisUp || tiers.memory !== undefined),
    ...counters,
    totalRequests: stats.hits + stats.misses,
    hitRate: hitRate(stats),
    window: { seconds, ...recent, hitRate: hitRate(recent), staleShare: share(recent.stale, recent.hits + recent.misses) },
    crawl: crawlReport(stats),
    build: {
      id: buildId ?? null,
      redisPageReads: stats.redisPageReads,
      otherBuildReads: stats.otherBuildReads,
      runningBuildShare: buildId === undefined || stats.redisPageReads === 0 ? null : share(stats.redisPageReads - stats.otherBuildReads, stats.redisPageReads),
    },
    memoryTier: tiers.memory ? { entries: tiers.memory.size, bytes: tiers.memory.bytes } : null,
    pendingInvalidations: tiers.pending.size,
    invalidationRecord: { known: tiers.record.known, seq: tiers.record.seq, floor: tiers.record.floor, marks: tiers.record.size },
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
      maxMemoryPolicy: memory?.policy ?? null,
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
