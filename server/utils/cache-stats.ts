/** Counters since the process started; the /health endpoint reports them. */
export interface CacheStats {
  hits: number;
  misses: number;
  bypasses: number;
  stores: number;
  /** Responses not stored: not cacheable (status, cookies, private), too large, or Redis refused. */
  storeSkips: number;
  invalidations: number;
  keysInvalidated: number;
}

export function createCacheStats(): CacheStats {
  return { hits: 0, misses: 0, bypasses: 0, stores: 0, storeSkips: 0, invalidations: 0, keysInvalidated: 0 };
}

export function hitRate(stats: Pick<CacheStats, 'hits' | 'misses'>): string {
  const lookups = stats.hits + stats.misses;
  return `${(lookups === 0 ? 0 : (stats.hits / lookups) * 100).toFixed(2)}%`;
}
