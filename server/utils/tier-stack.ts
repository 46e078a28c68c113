import { freshnessLeftMs, graceLeftMs, type BodyEncoding, type CacheEntry } from './cache-entry';
import type { CacheManager, DeleteResult } from './cache-manager';
import type { InvalidationBus, InvalidationMessage } from './invalidation-bus';
import type { MemoryTier } from './memory-tier';
import { PreparedPage, type PageVariant } from './prepared-page';
import type { WriteBudget } from './write-budget';

export type TierName = 'memory' | 'redis';

export interface TierHit {
  page: PreparedPage;
  tier: TierName;
  /** Past its fresh TTL (or soft-invalidated) but within grace: serve it and re-render. */
  stale: boolean;
}

/** hard deletes; soft marks stale (served at once, re-rendered once). */
export type InvalidationMode = 'hard' | 'soft';

/** What happened to a page handed to the stack for storing. */
export type StoreOutcome = 'stored' | 'memory-only' | 'over-budget' | 'not-stored';

export interface TierStackOptions {
  redis: CacheManager;
  /** Absent when SSR_CACHE_MEMORY_MB=0. */
  memory?: MemoryTier;
  bus?: InvalidationBus;
  budget?: WriteBudget;
}

/**
 * The tiers in lookup order: the in-process LRU, then Redis. Reads fill the memory tier;
 * writes go to both; invalidations clear both and reach the other instances through the bus.
 */
export class TierStack {
  constructor(private readonly options: TierStackOptions) {}

  get memory(): MemoryTier | undefined {
    return this.options.memory;
  }

  async get(key: string): Promise<TierHit | undefined> {
    const { memory, redis } = this.options;
    // The memory tier holds fresh pages only; stale ones are read from Redis until re-rendered.
    const held = memory?.get(key);
    if (held) return { page: held, tier: 'memory', stale: false };
    const entry = await redis.get(key);
    if (!entry || graceLeftMs(entry) <= 0) return undefined;
    const page = new PreparedPage(entry);
    const stale = freshnessLeftMs(entry) <= 0;
    if (!stale) memory?.set(key, page);
    return { page, tier: 'redis', stale };
  }

  /** A page for an entry just stored: the in-process copy when there is one. */
  prepare(key: string, entry: CacheEntry): PreparedPage {
    const held = this.options.memory?.get(key);
    return held?.entry === entry ? held : new PreparedPage(entry);
  }

  /** The representation for a client; a newly derived one is re-counted in the memory bound. */
  variant(key: string, page: PreparedPage, encoding: BodyEncoding): PageVariant {
    if (page.hasVariant(encoding)) return page.variant(encoding);
    const variant = page.variant(encoding);
    if (this.options.memory?.get(key) === page) this.options.memory.set(key, page);
    return variant;
  }

  async set(key: string, entry: CacheEntry): Promise<StoreOutcome> {
    const { memory, redis, budget } = this.options;
    memory?.set(key, new PreparedPage(entry));
    if (!redis.isAvailable()) return memory ? 'memory-only' : 'not-stored';
    if (budget && !budget.allowsWrite()) return 'over-budget';
    return (await redis.set(key, entry)) ? 'stored' : 'not-stored';
  }

  /**
   * Removes (hard) or marks stale (soft) keys and key patterns in Redis, drops the in-process
   * copies, and tells the other instances to drop theirs.
   */
  async invalidate(message: InvalidationMessage, mode: InvalidationMode = 'hard'): Promise<DeleteResult> {
    const { redis, bus } = this.options;
    this.dropFromMemory(message);
    const results = await Promise.all(
      mode === 'hard'
        ? [redis.delete(message.keys), ...message.patterns.map((pattern) => redis.deletePattern(pattern))]
        : [redis.markStale(message.keys), ...message.patterns.map((pattern) => redis.markStalePattern(pattern))],
    );
    const published = bus ? await bus.publish(message) : true;
    return {
      deleted: results.reduce((sum, result) => sum + result.deleted, 0),
      ok: published && results.every((result) => result.ok),
    };
  }

  /** Applies another instance's invalidation to this one's memory tier. */
  dropFromMemory({ keys, patterns }: InvalidationMessage): void {
    const { memory } = this.options;
    if (!memory) return;
    memory.delete(keys);
    for (const pattern of patterns) memory.deletePattern(pattern);
  }
}
