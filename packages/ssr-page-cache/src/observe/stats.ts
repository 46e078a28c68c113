import type { AgentFamily } from '../flow/recv';
import type { CacheEvent } from './events';

export const AGENT_FAMILIES: readonly AgentFamily[] = ['googlebot', 'bingbot', 'other-bot', 'human'];

/** What one family of clients got from cached routes. */
export interface AgentCounts {
  requests: number;
  hits: number;
  stale: number;
  misses: number;
  bypasses: number;
  /** 304 Not Modified answers (If-None-Match or If-Modified-Since matched). */
  notModified: number;
  /** 404, 410 and permanent redirects (301, 308): the answers stored on their own short TTLs. */
  negative: number;
  /** Other 3xx and 4xx (a 302, a 400 for a malformed query, ...). */
  otherClientAnswers: number;
  /** 503s with Retry-After (render timeout, render budget) and other 5xx. */
  errors: number;
}

/** A running summary of observed durations (Prometheus has the histograms). */
export interface DurationSummary {
  count: number;
  sumSeconds: number;
  maxSeconds: number;
  lastSeconds: number | null;
}

function emptyAgentCounts(): AgentCounts {
  return { requests: 0, hits: 0, stale: 0, misses: 0, bypasses: 0, notModified: 0, negative: 0, otherClientAnswers: 0, errors: 0 };
}

function emptySummary(): DurationSummary {
  return { count: 0, sumSeconds: 0, maxSeconds: 0, lastSeconds: null };
}

function summarise(summary: DurationSummary, seconds: number): void {
  summary.count += 1;
  summary.sumSeconds += seconds;
  summary.maxSeconds = Math.max(summary.maxSeconds, seconds);
  summary.lastSeconds = seconds;
}

/** Counters since the cache started, kept from its event stream; health() reports them. */
export interface CacheStats {
  /** Answers from the cache without a render on the request's path: fresh, stale and coalesced. */
  hits: number;
  /** Of the hits, those served from the in-process tier without a Redis round trip. */
  memoryHits: number;
  misses: number;
  bypasses: number;
  /** Renders the cache asked the routes for (misses it did not coalesce). */
  renders: number;
  /** Requests that waited for another request's render instead of rendering. */
  coalescedWaits: number;
  /** Stale pages served at once while one re-render ran (grace, soft invalidation). */
  staleServed: number;
  /** Re-renders run in the background (stale pages, refresh invalidations). */
  backgroundRefreshes: number;
  /** Renders that threw, answered 5xx or passed the render timeout (a stale page stayed). */
  renderErrors: number;
  /** Waits for another render that passed the lock-wait bound, after which the request rendered itself. */
  lockWaitTimeouts: number;
  stores: number;
  /** Rendered responses that may not be shared (status, cookies, private, Vary, ...); those too large are `oversized`. */
  storeSkips: number;
  /** Pages above the entry size bound: served, not stored. */
  oversized: number;
  /** Writes skipped because Redis memory was above the write budget. */
  budgetSkips: number;
  /** Writes Redis refused or did not answer (OOM, timeout, disconnected). */
  writeFailures: number;
  invalidations: number;
  keysInvalidated: number;
  /** Invalidations accepted while Redis was unreachable (queued, applied once it answered). */
  invalidationsQueued: number;
  /** Times writes paused because Redis memory reached the write budget. */
  writePauses: number;
  /** Renders refused because the render budget was spent (a kept copy or a 503 went out). */
  renderBudgetSpent: number;
  /** Background re-renders that waited for a slot (refreshConcurrency); dropped: too many waited. */
  refreshesQueued: number;
  refreshesDropped: number;
  /** Pages read from Redis, and of them those another build rendered (served stale, re-rendered). */
  redisPageReads: number;
  otherBuildReads: number;
  /** Values of the wrong type removed from keys the cache owns (pages, tag indexes, locks, the negative index). */
  garbageKeys: number;
  /** Per client family: what they got, 304s included. */
  agents: Record<AgentFamily, AgentCounts>;
  /** How far past freshness the STALE pages served were. */
  staleAge: DurationSummary;
  /** From an accepted invalidation to the fresh page stored, per page it named. */
  freshnessLag: DurationSummary;
}

export function createCacheStats(): CacheStats {
  return {
    hits: 0,
    memoryHits: 0,
    misses: 0,
    bypasses: 0,
    renders: 0,
    coalescedWaits: 0,
    staleServed: 0,
    backgroundRefreshes: 0,
    renderErrors: 0,
    lockWaitTimeouts: 0,
    stores: 0,
    storeSkips: 0,
    oversized: 0,
    budgetSkips: 0,
    writeFailures: 0,
    invalidations: 0,
    keysInvalidated: 0,
    invalidationsQueued: 0,
    writePauses: 0,
    renderBudgetSpent: 0,
    refreshesQueued: 0,
    refreshesDropped: 0,
    redisPageReads: 0,
    otherBuildReads: 0,
    garbageKeys: 0,
    agents: { googlebot: emptyAgentCounts(), bingbot: emptyAgentCounts(), 'other-bot': emptyAgentCounts(), human: emptyAgentCounts() },
    staleAge: emptySummary(),
    freshnessLag: emptySummary(),
  };
}

function countResponse(counts: AgentCounts, event: Extract<CacheEvent, { type: 'response' }>): void {
  counts.requests += 1;
  if (event.outcome === 'HIT') counts.hits += 1;
  else if (event.outcome === 'STALE') counts.stale += 1;
  else if (event.outcome === 'MISS') counts.misses += 1;
  else counts.bypasses += 1;
  const status = event.status;
  if (status === 304) counts.notModified += 1;
  else if (status >= 500) counts.errors += 1;
  else if (status === 404 || status === 410 || status === 301 || status === 308) counts.negative += 1;
  else if (status >= 300) counts.otherClientAnswers += 1;
}

/** The counters' reader of the event stream. */
export function countEvent(stats: CacheStats, event: CacheEvent): void {
  switch (event.type) {
    case 'request':
      if (event.outcome === 'MISS') stats.misses += 1;
      else if (event.outcome === 'BYPASS') stats.bypasses += 1;
      else {
        stats.hits += 1;
        if (event.outcome === 'STALE') stats.staleServed += 1;
        else if (event.source === 'memory') stats.memoryHits += 1;
        else if (event.source === 'coalesced') stats.coalescedWaits += 1;
      }
      return;
    case 'render':
      stats.renders += 1;
      return;
    case 'render-error':
      stats.renderErrors += 1;
      return;
    case 'refresh':
      stats.backgroundRefreshes += 1;
      return;
    case 'store':
      if (event.outcome === 'stored') stats.stores += 1;
      else if (event.outcome === 'over-budget') stats.budgetSkips += 1;
      else if (event.outcome === 'not-stored') stats.writeFailures += 1;
      return;
    case 'store-skip':
      if (event.reason === 'too-large') stats.oversized += 1;
      else stats.storeSkips += 1;
      return;
    case 'lock-wait-timeout':
      stats.lockWaitTimeouts += 1;
      return;
    case 'invalidation':
      stats.invalidations += 1;
      stats.keysInvalidated += event.keys;
      if (event.queued) stats.invalidationsQueued += 1;
      return;
    case 'write-pause':
      if (event.paused) stats.writePauses += 1;
      return;
    case 'response':
      countResponse(stats.agents[event.agent], event);
      if (event.staleSeconds !== undefined) summarise(stats.staleAge, event.staleSeconds);
      return;
    case 'lookup':
      if (event.result === 'redis') {
        stats.redisPageReads += 1;
        if (event.otherBuild) stats.otherBuildReads += 1;
      }
      return;
    case 'render-budget-spent':
      stats.renderBudgetSpent += 1;
      return;
    case 'refresh-queued':
      if (event.dropped) stats.refreshesDropped += 1;
      else stats.refreshesQueued += 1;
      return;
    case 'garbage':
      stats.garbageKeys += event.count;
      return;
    case 'fresh-again':
      summarise(stats.freshnessLag, event.seconds);
      return;
    default:
      return;
  }
}

/** A share as /health shows it: `"42.10%"`. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

export function hitRate(stats: Pick<CacheStats, 'hits' | 'misses'>): string {
  const lookups = stats.hits + stats.misses;
  return percent(lookups === 0 ? 0 : stats.hits / lookups);
}
