/** Counters since the process started; the /health endpoint reports them. */
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
  /** Background re-renders that threw, answered 5xx or passed SSR_RENDER_TIMEOUT_MS (the stale page stayed). */
  renderErrors: number;
  /** Waits for another render that passed SSR_CACHE_LOCK_WAIT_MS, after which the request rendered itself. */
  lockWaitTimeouts: number;
  stores: number;
  /** Rendered responses that may not be shared (status, cookies, private, undecodable). */
  storeSkips: number;
  /** Pages above SSR_CACHE_MAX_ENTRY_KB: served, not stored. */
  oversized: number;
  /** Writes skipped because Redis memory was above the write budget. */
  budgetSkips: number;
  /** Writes Redis refused or did not answer (OOM, timeout, disconnected). */
  writeFailures: number;
  invalidations: number;
  keysInvalidated: number;
  /** Signed Twenty webhooks received, refused (401/403) and ignored (other objects, 202). */
  webhooks: number;
  webhooksRejected: number;
  webhooksIgnored: number;
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
    webhooks: 0,
    webhooksRejected: 0,
    webhooksIgnored: 0,
  };
}

/** A share as /health shows it: `"42.10%"`. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

export function hitRate(stats: Pick<CacheStats, 'hits' | 'misses'>): string {
  const lookups = stats.hits + stats.misses;
  return percent(lookups === 0 ? 0 : stats.hits / lookups);
}
