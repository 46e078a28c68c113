import { LRUCache } from 'lru-cache';
import { freshnessLeftMs, graceLeftMs, isNegative, keepLeftMs, type BodyEncoding, type CacheEntry } from '../entry/cache-entry';
import type { RedisTier, DeleteResult } from '../redis/redis-tier';
import type { InvalidationBus, InvalidationMessage } from '../coordination/invalidation-bus';
import { PendingInvalidations, type PendingInvalidation } from '../coordination/pending-invalidations';
import type { MemoryTier } from './memory-tier';
import { PreparedPage, type PageVariant } from '../entry/prepared-page';
import type { WriteBudget } from '../redis/write-budget';

export type TierName = 'memory' | 'redis';

export interface TierHit {
  page: PreparedPage;
  tier: TierName;
  /** Past its fresh TTL, soft-invalidated or from another build: serve it and re-render. */
  stale: boolean;
  /** Past grace, kept for stale-if-error: served only when a render fails or the render budget is spent. */
  fallback?: boolean;
  /** Rendered by another build than the running one. */
  otherBuild?: boolean;
}

/** hard deletes; soft marks stale (served at once, re-rendered once). */
export type InvalidationMode = 'hard' | 'soft';

/** What an invalidation did in Redis. */
export interface InvalidationOutcome extends DeleteResult {
  keys: string[];
  queued: boolean;
  /** How it was applied: soft falls back to hard when Redis refuses the mark (full, noeviction). */
  appliedAs: InvalidationMode;
  /** Redis's answer to the soft mark it refused, when it fell back to deleting. */
  refusedSoft?: string;
  /** Redis's answer when it refused the invalidation itself. */
  redisError?: string;
}

/** What happened to a page handed to the stack for storing. */
export type StoreOutcome = 'stored' | 'memory-only' | 'over-budget' | 'not-stored';

export interface TierStackOptions {
  redis: RedisTier;
  /** Absent when SSR_CACHE_MEMORY_MB=0. */
  memory?: MemoryTier;
  bus?: InvalidationBus;
  budget?: WriteBudget;
  /** A queued invalidation Redis answered but refused even as a deletion: given up, to be logged. */
  onDropped?(message: InvalidationMessage): void;
  /** The running build (the buildId option): a Redis entry of another is stale. */
  buildId?: string;
  /** A page an invalidation named was stored fresh again, `seconds` after the invalidation was accepted. */
  onFreshAgain?(seconds: number): void;
}

/** Bytes of decoded Redis reads kept, so a page read again from Redis is not decoded, re-hashed or re-compressed again. */
const DECODED_MEMO_BYTES = 8 * 1024 * 1024;

function sameStoredValue(a: CacheEntry, b: CacheEntry): boolean {
  return a.etag === b.etag && a.storedAt === b.storedAt && a.invalidatedAt === b.invalidatedAt && a.encoding === b.encoding && a.build === b.build;
}

/**
 * The tiers in lookup order: the in-process LRU, then Redis. Reads fill the memory tier;
 * writes go to both; invalidations clear both and reach the other instances through the bus.
 */
export class TierStack {
  /**
   * When each key and tag was last invalidated (here or, through the bus, elsewhere): a render
   * that began before that read data the change has since replaced.
   */
  private readonly invalidatedAt = new LRUCache<string, number>({ max: 100_000 });
  /** Accepted while Redis could not take them; applied as soon as it answers. */
  readonly pending = new PendingInvalidations();
  private draining: Promise<number> | undefined;
  /** Keys an invalidation named, with when it was accepted: the freshness lag ends when each is stored fresh again. */
  private readonly awaitingFresh = new LRUCache<string, number>({ max: 100_000 });
  /**
   * The last prepared page of each key read from Redis (Redis stays the authority: it is read on
   * every such hit, and the memo is used only when it holds the very value Redis returned).
   */
  private readonly decoded = new LRUCache<string, PreparedPage>({ maxSize: DECODED_MEMO_BYTES, sizeCalculation: (page) => page.byteSize });

  constructor(private readonly options: TierStackOptions) {}

  private noteInvalidation({ keys, tags }: InvalidationMessage, at = Date.now()): void {
    for (const key of keys) this.invalidatedAt.set(`key ${key}`, at);
    for (const tag of tags ?? []) this.invalidatedAt.set(`tag ${tag}`, at);
  }

  /** Whether the page or anything it shows was invalidated after `since` (epoch ms). */
  private changedSince(key: string, tags: readonly string[], since: number): boolean {
    if ((this.invalidatedAt.get(`key ${key}`) ?? 0) >= since) return true;
    return tags.some((tag) => (this.invalidatedAt.get(`tag ${tag}`) ?? 0) >= since);
  }

  get memory(): MemoryTier | undefined {
    return this.options.memory;
  }

  /** Whether a rendered page can be kept anywhere now (the in-process tier, or a usable Redis). */
  canStore(): boolean {
    return this.options.memory !== undefined || this.options.redis.isUsable();
  }

  /** Whether Redis answered the last command: a miss after a failed read may be a page Redis holds. */
  redisAnswering(): boolean {
    return this.options.redis.isHealthy();
  }

  /** `memoryChecked`: the caller has just looked in the memory tier itself (the synchronous hit path). */
  async get(key: string, memoryChecked = false): Promise<TierHit | undefined> {
    const { memory, redis } = this.options;
    // The memory tier holds fresh pages only; stale ones are read from Redis until re-rendered.
    const held = memoryChecked ? undefined : memory?.get(key);
    if (held) return { page: held, tier: 'memory', stale: false };
    // Redis may hold pages an accepted invalidation removes: none is read from it until applied.
    if (this.pending.size > 0) {
      void this.applyPending();
      return undefined;
    }
    const started = Date.now();
    const entry = await redis.get(key);
    if (!entry) return undefined;
    const now = Date.now();
    if (keepLeftMs(entry, now) <= 0) return undefined;
    const page = this.preparedFromRedis(key, entry);
    const otherBuild = this.options.buildId !== undefined && entry.build !== this.options.buildId;
    const fallback = graceLeftMs(entry, now) <= 0;
    const stale = fallback || otherBuild || freshnessLeftMs(entry, now) <= 0;
    // A 404 or redirect is fresh or nothing: the record created or restored shows at once.
    if (stale && isNegative(entry)) return undefined;
    // An invalidation handled while the read was in flight (here or from the bus) outranks it: not kept.
    if (!stale && !this.changedSince(key, entry.tags, started)) memory?.set(key, page);
    return { page, tier: 'redis', stale, fallback, otherBuild };
  }

  /** Decode once: a value Redis returns again unchanged reuses its prepared page and derived representations. */
  private preparedFromRedis(key: string, entry: CacheEntry): PreparedPage {
    const known = this.decoded.get(key);
    if (known && sameStoredValue(known.entry, entry)) return known;
    const page = new PreparedPage(entry);
    this.decoded.set(key, page);
    return page;
  }

  /** Prepared pages of entries just rendered, by entry: every request that waited for a render shares one (one decode, one gzip). */
  private readonly preparedEntries = new WeakMap<CacheEntry, PreparedPage>();

  /** A page for an entry just stored: the in-process copy when there is one, else one prepared page per entry. */
  prepare(key: string, entry: CacheEntry): PreparedPage {
    const held = this.options.memory?.get(key);
    if (held?.entry === entry) return held;
    let page = this.preparedEntries.get(entry);
    if (!page) {
      page = new PreparedPage(entry);
      this.preparedEntries.set(entry, page);
    }
    return page;
  }

  /** The representation for a client; a newly derived one is re-counted in the memory bound. */
  variant(key: string, page: PreparedPage, encoding: BodyEncoding): PageVariant {
    if (page.hasVariant(encoding)) return page.variant(encoding);
    const variant = page.variant(encoding);
    if (this.options.memory?.get(key) === page) this.options.memory.set(key, page);
    if (this.decoded.get(key) === page) this.decoded.set(key, page);
    return variant;
  }

  /**
   * Stores a page rendered from data read at `renderedSince`. A page whose key or tags were
   * invalidated while it rendered is stored already stale: served once more at most, re-rendered.
   */
  async set(key: string, rendered: CacheEntry, renderedSince?: number, prepared?: PreparedPage): Promise<StoreOutcome> {
    const { memory, redis, budget } = this.options;
    const entry = renderedSince !== undefined && this.changedSince(key, rendered.tags, renderedSince) ? { ...rendered, invalidatedAt: Date.now() } : rendered;
    if (entry.invalidatedAt === 0) {
      memory?.set(key, prepared?.entry === entry ? prepared : new PreparedPage(entry));
      const acceptedAt = this.awaitingFresh.get(key);
      if (acceptedAt !== undefined) {
        this.awaitingFresh.delete(key);
        this.options.onFreshAgain?.((Date.now() - acceptedAt) / 1000);
      }
    }
    if (!redis.isUsable()) return memory ? 'memory-only' : 'not-stored';
    if (budget && !budget.allowsWrite()) return 'over-budget';
    return (await redis.set(key, entry)) ? 'stored' : 'not-stored';
  }

  /**
   * Removes (hard) or marks stale (soft) keys, key patterns and tagged pages in Redis, drops the
   * in-process copies, and tells the other instances to drop theirs. A tag costs as many pages
   * as carry it: its index is read, never the keyspace. When Redis cannot take it (down, timing
   * out, breaker open) it is queued (`queued`) and applied as soon as Redis answers, before any
   * page is read from Redis again.
   */
  async invalidate(message: InvalidationMessage, mode: InvalidationMode = 'hard'): Promise<InvalidationOutcome> {
    const acceptedAt = Date.now();
    this.noteInvalidation(message, acceptedAt);
    // Earlier ones first: a later invalidation must not be overtaken by an older one's replay.
    if (this.pending.size > 0) await this.applyPending();
    let result = this.pending.size > 0 ? undefined : await this.applyToRedis(message, mode);
    let appliedAs = mode;
    let refusedSoft: string | undefined;
    // Redis answers but refuses the soft mark (a write, at maxmemory with noeviction): delete instead.
    if (result && !result.ok && mode === 'soft' && this.options.redis.isHealthy()) {
      refusedSoft = this.options.redis.lastReplyError;
      result = await this.applyToRedis(message, 'hard');
      appliedAs = 'hard';
    }
    const keys = result?.keys ?? message.keys;
    this.dropFromMemory({ ...message, keys });
    // The lag runs from the first invalidation still waiting for a fresh page.
    for (const key of keys) if (!this.awaitingFresh.has(key)) this.awaitingFresh.set(key, acceptedAt);
    if (result?.ok) return { ...result, queued: false, appliedAs, refusedSoft };
    // Redis answered with an error about the command itself (it is healthy): the caller hears of it, with Redis's words.
    if (result && this.options.redis.isHealthy()) return { ...result, queued: false, appliedAs, refusedSoft, redisError: this.options.redis.lastReplyError };
    this.pending.add(message, mode);
    return { deleted: result?.deleted ?? 0, ok: false, keys, queued: true, appliedAs: mode };
  }

  /** Applies the queued invalidations once Redis is usable again; how many it applied. */
  applyPending(): Promise<number> {
    if (this.pending.size === 0 || !this.options.redis.isUsable()) return Promise.resolve(0);
    this.draining ??= this.pending
      .drain((item) => this.replay(item))
      .finally(() => {
        this.draining = undefined;
      });
    return this.draining;
  }

  private async replay({ message, mode }: PendingInvalidation): Promise<boolean> {
    const result = await this.applyToRedis(message, mode);
    if (result.ok) return true;
    if (!this.options.redis.isHealthy()) return false;
    // Redis answers but refuses this one (a soft mark on a full Redis, say): delete instead, or drop it, said.
    if (mode === 'soft' && (await this.applyToRedis(message, 'hard')).ok) return true;
    this.options.onDropped?.(message);
    return true;
  }

  private async applyToRedis(message: InvalidationMessage, mode: InvalidationMode): Promise<DeleteResult & { keys: string[] }> {
    const { redis, bus } = this.options;
    const tags = message.tags ?? [];
    // Tagged pages first, in one script; then the named keys it did not already reach.
    const tagged = await redis.invalidateTags(tags, mode);
    const taggedKeys = new Set(tagged?.keys ?? []);
    const named = message.keys.filter((key) => !taggedKeys.has(key));
    const results = await Promise.all(
      mode === 'hard'
        ? [redis.delete(named), ...message.patterns.map((pattern) => redis.deletePattern(pattern))]
        : [redis.markStale(named), ...message.patterns.map((pattern) => redis.markStalePattern(pattern))],
    );
    const keys = [...taggedKeys, ...named];
    const redisOk = tagged !== undefined && results.every((result) => result.ok);
    // The other instances drop their copies whatever Redis made of it.
    const published = bus ? await bus.publish({ ...message, keys, tags }) : true;
    return {
      deleted: (tagged?.deleted ?? 0) + results.reduce((sum, result) => sum + result.deleted, 0),
      ok: redisOk && published,
      keys,
    };
  }

  /** Applies an invalidation to this instance's memory tier (also for another instance's). */
  dropFromMemory({ keys, patterns, tags }: InvalidationMessage): void {
    this.noteInvalidation({ keys, patterns, tags });
    const { memory } = this.options;
    if (!memory) return;
    memory.delete(keys);
    for (const pattern of patterns) memory.deletePattern(pattern);
    if (tags) memory.deleteTags(tags);
  }
}
