import type { CacheEvents } from './observe/events';
import type { CacheMetrics } from './observe/metrics';
import type { CacheStats } from './observe/stats';
import type { RedisTier } from './redis/redis-tier';
import type { WriteBudget } from './redis/write-budget';
import type { TierStack } from './tiers/tier-stack';

/** The parts a cache is made of, for the engine's own tests and benchmarks: not part of the public API. */
export interface PageCacheInternals {
  cache: RedisTier;
  tiers: TierStack;
  stats: CacheStats;
  metrics: CacheMetrics;
  budget: WriteBudget;
  events: CacheEvents;
}

export const INTERNALS: unique symbol = Symbol('page-cache internals');

export function internalsOf(cache: object): PageCacheInternals {
  const parts = (cache as { [INTERNALS]?: PageCacheInternals })[INTERNALS];
  if (!parts) throw new TypeError('not a page cache made by createPageCache');
  return parts;
}
