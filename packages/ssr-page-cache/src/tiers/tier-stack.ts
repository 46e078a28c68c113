import { LRUCache } from 'lru-cache';
import { carriesCspNonce, freshnessLeftMs, graceLeftMs, isNegative, keepLeftMs, type BodyEncoding, type CacheEntry } from '../entry/cache-entry';
import type { RedisTier, DeleteResult, ScanBudget } from '../redis/redis-tier';
import { EVERY_PAGE, type InvalidationBus, type InvalidationMessage } from '../coordination/invalidation-bus';
import { InvalidationRecordCopy, type Verdict } from '../coordination/invalidation-record';
import type { InvalidationJournal } from '../coordination/invalidation-journal';
import { PendingInvalidations, type PendingInvalidation } from '../coordination/pending-invalidations';
import { compileGlob, type GlobMatcher } from '../glob';
import type { InvalidationOrigin } from '../observe/events';
import type { MemoryTier } from './memory-tier';
import { lastModifiedOf, PreparedPage, type PageVariant } from '../entry/prepared-page';
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

/** How far an invalidation's patterns were scanned in Redis (about `examined` keys looked at). */
export interface PatternScan {
  examined: number;
  complete: boolean;
}

/** What an invalidation did in Redis. */
export interface InvalidationOutcome extends DeleteResult {
  keys: string[];
  scan?: PatternScan;
  queued: boolean;
  /** How it was applied: soft falls back to hard when Redis refuses the mark (full, noeviction). */
  appliedAs: InvalidationMode;
  /** Redis's answer to the soft mark it refused, when it fell back to deleting. */
  refusedSoft?: string;
  /** Redis's answer when it refused the invalidation itself. */
  redisError?: string;
  /** Why it was not accepted at all (Redis away and the journal not writable). */
  refusal?: string;
}

/** What happened to a page handed to the stack for storing. */
export type StoreOutcome = 'stored' | 'memory-only' | 'over-budget' | 'not-stored';

export interface TierStackOptions {
  redis: RedisTier;
  /** Absent when memoryTierBytes is 0. */
  memory?: MemoryTier;
  bus?: InvalidationBus;
  budget?: WriteBudget;
  /** A queued invalidation Redis answered but refused even as a deletion: given up, to be logged. */
  onDropped?(message: InvalidationMessage): void;
  /** The running build (the buildId option): a Redis entry of another is stale. */
  buildId?: string;
  /** A page an invalidation named was stored fresh again, `seconds` after the invalidation was accepted. */
  onFreshAgain?(seconds: number): void;
  /**
   * An invalidation is about to apply here (made here, from another instance, found in the record,
   * recovered from the journal): the host drops the data it renders from. Called before the pages go.
   */
  onInvalidate?(origin: InvalidationOrigin, message: InvalidationMessage, everything: boolean): void;
  /** How long the invalidation record keeps a mark: at least the longest an entry lives. Default 1 day. */
  recordRetentionMs?: number;
  /** SCAN calls one invalidation's patterns may make in Redis; default 200 (about 100,000 keys examined). */
  maxScanCalls?: number;
  /** Where invalidations Redis could not take are kept across a crash (the invalidationJournal option). */
  journal?: InvalidationJournal;
  /**
   * Pages are shared with people (the allAgents option): an entry whose CSP carries a nonce (stored
   * before that, or by another instance) is never served from Redis: it is rendered anew (and not stored).
   */
  sharedWithPeople?: boolean;
  /** Failures to tell. */
  logger?: { warn(fields: object, message?: string): void; error(fields: object, message?: string): void };
}

/** A mark in the invalidation record outlives every entry it can concern (see recordRetentionMs). */
const DEFAULT_RECORD_RETENTION_MS = 24 * 3600 * 1000;
const DEFAULT_MAX_RECORD_MARKS = 50_000;
/** SCAN calls one invalidation's patterns may make (500 keys each: about 100,000 keys examined). */
const MAX_SCAN_CALLS = 200;

/** Every page under the cache's namespace, as an invalidation. */

/** Bytes of decoded Redis reads kept, so a page read again from Redis is not decoded, re-hashed or re-compressed again. */
const DECODED_MEMO_BYTES = 8 * 1024 * 1024;

/** The last page of a key seen here (rendered here, or read from Redis): what a re-render of it is dated against. */
interface SeenPage {
  etag: string;
  storedAt: number;
  lastModified: number;
}

/** Keys whose last page is remembered for its date: about 6 MB when full (measured with 45-character keys). */
const SEEN_PAGES_MAX = 20_000;

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
  /** Accepted while Redis could not take them (and journaled, with a journal); applied as soon as it answers. */
  readonly pending: PendingInvalidations;
  private draining: Promise<number> | undefined;
  /** Keys an invalidation named, with when it was accepted: the freshness lag ends when each is stored fresh again. */
  private readonly awaitingFresh = new LRUCache<string, number>({ max: 100_000 });
  /**
   * The last prepared page of each key read from Redis (Redis stays the authority: it is read on
   * every such hit, and the memo is used only when it holds the very value Redis returned).
   */
  private readonly decoded = new LRUCache<string, PreparedPage>({ maxSize: DECODED_MEMO_BYTES, sizeCalculation: (page) => page.byteSize });
  /** Outlives invalidations and evictions: a page re-rendered after them is compared with it, with no Redis read. */
  private readonly seen = new LRUCache<string, SeenPage>({ max: SEEN_PAGES_MAX });

  constructor(private readonly options: TierStackOptions) {
    this.pending = new PendingInvalidations(options.journal);
    // What a stopped process had accepted: told like any other, and no page is read from Redis until it is applied.
    for (const { message } of options.journal?.recovered ?? []) this.applyHere('journal', message, false);
  }

  /** Patterns invalidated here or announced, with when: a render of a matching page that overlapped one is not fresh. */
  private readonly patternsAt = new LRUCache<string, { at: number; matcher: GlobMatcher }>({ max: 10_000 });
  /** When the newest of them was: a render that began after it needs no pattern matched. */
  private latestPatternAt = -Infinity;
  /** This instance's copy of the shared invalidation record (see invalidation-record.ts). */
  readonly record = new InvalidationRecordCopy();
  private syncing: Promise<void> | undefined;

  private noteInvalidation({ keys, tags, patterns }: InvalidationMessage, at = Date.now()): void {
    for (const key of keys) this.invalidatedAt.set(`key ${key}`, at);
    for (const tag of tags ?? []) this.invalidatedAt.set(`tag ${tag}`, at);
    for (const pattern of patterns) this.patternsAt.set(pattern, { at, matcher: this.patternsAt.get(pattern)?.matcher ?? compileGlob(pattern) });
    if (patterns.length > 0 && at > this.latestPatternAt) this.latestPatternAt = at;
  }

  /** Whether the page or anything it shows was invalidated after `since` (epoch ms). */
  private changedSince(key: string, tags: readonly string[], since: number): boolean {
    if ((this.invalidatedAt.get(`key ${key}`) ?? 0) >= since) return true;
    if (tags.some((tag) => (this.invalidatedAt.get(`tag ${tag}`) ?? 0) >= since)) return true;
    if (this.latestPatternAt < since) return false;
    for (const { at, matcher } of this.patternsAt.values()) if (at >= since && matcher.matches(key)) return true;
    return false;
  }

  /** The record's number a render beginning now reads under; undefined while the record is not known. */
  renderSeq(): number | undefined {
    return this.record.known ? this.record.seq : undefined;
  }

  /**
   * Reads the record from Redis (made there first when there is none) and applies what this
   * instance had missed: the host's data and the in-process tier, as for a message from the bus.
   * One read at a time; a caller waits for the one under way.
   */
  syncRecord(): Promise<void> {
    this.syncing ??= (async () => {
      let snapshot = await this.options.redis.readRecord();
      // Redis's number below one this copy has seen: it lost writes (a restore, a failover), or
      // this read raced an invalidation. Redis decides which, atomically: only a lost one is raised
      // past, with a floor (entries numbered by the lost ones are stale).
      if (snapshot && this.record.known && snapshot.seq < this.record.seq && (await this.options.redis.raiseRecord(this.record.seq)))
        snapshot = await this.options.redis.readRecord();
      if (!snapshot) return;
      const { missed, everything } = this.record.replace(snapshot);
      if (everything) this.applyHere('record', EVERY_PAGE, true);
      for (const one of missed) this.applyHere('record', { keys: one.keys, tags: one.tags, patterns: one.patterns }, false);
    })().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** The host's data first, then this instance's pages: a re-render after this reads the change. */
  private applyHere(origin: InvalidationOrigin, message: InvalidationMessage, everything: boolean): void {
    try {
      this.options.onInvalidate?.(origin, message, everything);
    } catch (error) {
      this.options.logger?.error({ err: error, origin }, 'cache: an invalidate listener threw (the invalidation still applies)');
    }
    // One found in the record was applied before this request's render began (it waited for the
    // read): the record's numbers judge its renders, a time noted now would wrongly catch them.
    if (origin !== 'record') this.noteInvalidation(everything ? EVERY_PAGE : message);
    if (everything) this.options.memory?.clear();
    else this.dropPages(message);
  }

  /** Another instance made an invalidation (the bus): applied here, and the record read again if one was missed. */
  receive(message: InvalidationMessage): void {
    this.applyHere('peer', message, false);
    const numbered = message.seq !== undefined && message.mode !== undefined;
    if (
      numbered &&
      !this.record.note({
        seq: message.seq as number,
        mode: message.mode as 'hard' | 'soft',
        keys: message.keys,
        tags: message.tags ?? [],
        patterns: message.patterns,
      }).gap
    )
      return;
    void this.syncRecord().catch(() => undefined);
  }

  /** The bus may have missed messages: drop the in-process pages and read the record again. */
  onBusGap(): void {
    this.options.memory?.clear();
    void this.syncRecord().catch(() => undefined);
  }

  /** What the record says of a Redis entry, after reading the record again when the read showed this copy behind. */
  private async judge(key: string, entry: CacheEntry | undefined, counters: { seq?: number; floor?: number } | undefined): Promise<Verdict> {
    if (counters && this.record.differs(counters.seq, counters.floor)) {
      await this.syncRecord().catch(() => undefined);
      // A read of the record already under way may predate these counters: once more.
      if (this.record.isBehind(counters.seq, counters.floor)) await this.syncRecord().catch(() => undefined);
    }
    if (!entry) return 'gone';
    const verdict = this.record.verdict(key, entry.tags, entry.seq);
    // Still behind (Redis failing), or the counters not read: not known to be fresh.
    return verdict === 'fresh' && (!counters || this.record.isBehind(counters.seq, counters.floor)) ? 'stale' : verdict;
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
    const { entry, counters } = await redis.getWithRecord(key);
    // Read again when Redis shows this instance behind, also on a miss: the render that follows must not read old data.
    const verdict = await this.judge(key, entry, counters);
    if (!entry || verdict === 'gone' || (this.options.sharedWithPeople && carriesCspNonce(entry))) return undefined;
    const now = Date.now();
    if (keepLeftMs(entry, now) <= 0) return undefined;
    const page = this.preparedFromRedis(key, entry);
    const otherBuild = this.options.buildId !== undefined && entry.build !== this.options.buildId;
    const fallback = graceLeftMs(entry, now) <= 0;
    const stale = fallback || otherBuild || verdict === 'stale' || freshnessLeftMs(entry, now) <= 0;
    // A 404 or redirect is fresh or nothing: the record created or restored shows at once.
    if (stale && isNegative(entry)) return undefined;
    // An invalidation handled while the read was in flight (here or from the bus) outranks it: not kept.
    if (!stale && !this.changedSince(key, entry.tags, started)) memory?.set(key, page);
    return { page, tier: 'redis', stale, fallback, otherBuild };
  }

  /**
   * Another instance's render of this page, if Redis holds it fresh and the record does not say
   * otherwise (of whichever build: during a rolling deploy the other build's page is what there
   * is); none while accepted invalidations wait for Redis.
   */
  async readFresh(key: string): Promise<CacheEntry | undefined> {
    if (this.pending.size > 0) return undefined;
    const { entry, counters } = await this.options.redis.getWithRecord(key);
    if (!entry || freshnessLeftMs(entry) <= 0 || (this.options.sharedWithPeople && carriesCspNonce(entry))) return undefined;
    if ((await this.judge(key, entry, counters)) !== 'fresh') return undefined;
    this.noteSeen(key, entry);
    return entry;
  }

  /** Decode once: a value Redis returns again unchanged reuses its prepared page and derived representations. */
  private preparedFromRedis(key: string, entry: CacheEntry): PreparedPage {
    const known = this.decoded.get(key);
    if (known && sameStoredValue(known.entry, entry)) return known;
    const page = new PreparedPage(entry);
    this.decoded.set(key, page);
    this.noteSeen(key, entry);
    return page;
  }

  /** Remembers the page as the key's latest, unless a later one is known. */
  private noteSeen(key: string, entry: CacheEntry): void {
    const known = this.seen.get(key);
    if (known && known.storedAt > entry.storedAt) return;
    this.seen.set(key, { etag: entry.etag, storedAt: entry.storedAt, lastModified: lastModifiedOf(entry) });
  }

  /**
   * Dates a page rendered here against the one it replaces, when that one was seen here: the same
   * bytes keep its Last-Modified; other bytes that the route dates no later than it (a change its
   * data's date does not show: a row gone from a list, a new template) get the render time, so
   * an If-Modified-Since never hides a change. Not seen here: the route's date, or the last
   * invalidation that named the page when that is later. Otherwise the route's date or the render time stands.
   */
  private dateRendered(key: string, entry: CacheEntry): void {
    const previous = this.seen.get(key);
    if (previous && previous.storedAt < entry.storedAt && entry.lastModified === undefined) {
      const own = lastModifiedOf(entry);
      if (entry.etag === previous.etag) {
        if (own !== previous.lastModified) entry.lastModified = previous.lastModified;
      } else if (own < entry.storedAt && Math.floor(own / 1000) <= Math.floor(previous.lastModified / 1000)) {
        entry.lastModified = entry.storedAt;
      }
    }
    // Not seen here (another instance had it, or this one restarted): a page invalidated after the
    // date its route gives changed since then, so it is dated no earlier than that invalidation.
    if (!previous && entry.lastModified === undefined) {
      const changedAt = this.record.lastChangedAt(key, entry.tags);
      if (changedAt !== undefined && lastModifiedOf(entry) < changedAt) entry.lastModified = Math.min(changedAt, entry.storedAt);
    }
    this.noteSeen(key, entry);
  }

  /** Prepared pages of entries just rendered, by entry: every request that waited for a render shares one (one decode, one gzip). */
  private readonly preparedEntries = new WeakMap<CacheEntry, PreparedPage>();

  /**
   * A page for an entry just rendered (here, or by another instance for a request that waited):
   * the in-process copy when there is one, else one prepared page per entry, dated first.
   */
  prepare(key: string, entry: CacheEntry): PreparedPage {
    const held = this.options.memory?.get(key);
    if (held?.entry === entry) return held;
    let page = this.preparedEntries.get(entry);
    if (!page) {
      this.dateRendered(key, entry);
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
   * Numbers a rendered entry with the record's number when its render began (an invalidation
   * after it, on any instance, makes the entry stale on read), and says whether it is still fresh:
   * no invalidation known here names it since the render began. (The number is set on the entry
   * itself: its prepared page, shared with the requests that waited, is the same object.)
   */
  isFreshRender(key: string, rendered: CacheEntry, render?: { since: number; seq: number | undefined }): boolean {
    const seq = render ? render.seq : this.renderSeq();
    if (seq !== undefined) rendered.seq = seq;
    if (render !== undefined && this.changedSince(key, rendered.tags, render.since)) return false;
    return !this.record.known || this.record.verdict(key, rendered.tags, seq) === 'fresh';
  }

  /**
   * Stores a page rendered from data read at `renderedSince`. A page whose key or tags were
   * invalidated while it rendered is stored already stale: served once more at most, re-rendered.
   */
  async set(key: string, rendered: CacheEntry, render?: { since: number; seq: number | undefined }, prepared?: PreparedPage): Promise<StoreOutcome> {
    const { memory, redis, budget } = this.options;
    if (prepared?.entry !== rendered) this.dateRendered(key, rendered);
    const entry = this.isFreshRender(key, rendered, render) ? rendered : { ...rendered, invalidatedAt: Date.now() };
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
    this.applyHere('here', message, false);
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
    try {
      this.pending.add(message, mode);
    } catch (error) {
      // Neither Redis nor the journal took it: not accepted (the caller answers 503, the sender retries).
      return {
        deleted: 0,
        ok: false,
        keys,
        queued: false,
        appliedAs: mode,
        refusal: `Redis is unreachable and the invalidation journal could not be written: ${(error as Error).message}`,
      };
    }
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

  private async applyToRedis(message: InvalidationMessage, mode: InvalidationMode): Promise<DeleteResult & { keys: string[]; scan?: PatternScan }> {
    const { redis, bus } = this.options;
    const tags = message.tags ?? [];
    // The record first: whatever the steps below miss (an evicted tag index, a page stored by a
    // render that overlapped this), an entry rendered before this number is judged on read.
    const record = async () => {
      const recorded = await redis.recordInvalidation(
        { mode, keys: message.keys, tags, patterns: message.patterns },
        this.options.recordRetentionMs ?? DEFAULT_RECORD_RETENTION_MS,
        DEFAULT_MAX_RECORD_MARKS,
      );
      if (recorded && this.record.note({ seq: recorded.seq, mode, keys: message.keys, tags, patterns: message.patterns }).gap)
        void this.syncRecord().catch(() => undefined);
      return recorded;
    };
    // The other instances hear of it at once, whatever Redis makes of the steps below: with the
    // record made, their reads judge its pages right away.
    const publish = (seq: number | undefined) => (bus ? bus.publish({ ...message, tags, mode, ...(seq === undefined ? {} : { seq }) }) : Promise.resolve(true));
    let recorded = await record();
    if (!recorded && !redis.isHealthy()) return { deleted: 0, ok: false, keys: message.keys };
    let published = recorded ? await publish(recorded.seq) : undefined;
    // Tagged pages first, in one script; then the named keys it did not already reach.
    const tagged = await redis.invalidateTags(tags, mode);
    const taggedKeys = new Set(tagged?.keys ?? []);
    const named = message.keys.filter((key) => !taggedKeys.has(key));
    // Patterns are scanned within a budget: what it leaves unreached is stale on read (recorded above).
    const scan: ScanBudget = { calls: recorded ? (this.options.maxScanCalls ?? MAX_SCAN_CALLS) : Number.POSITIVE_INFINITY, examined: 0, complete: true };
    const results = await Promise.all(
      mode === 'hard'
        ? [redis.delete(named), ...message.patterns.map((pattern) => redis.deletePattern(pattern, scan))]
        : [redis.markStale(named), ...message.patterns.map((pattern) => redis.markStalePattern(pattern, scan))],
    );
    // Redis refused the record (full, under noeviction): the deletions above freed memory, and a
    // page another instance stores before it hears of this must still be judged by it: once more.
    if (!recorded) recorded = await record();
    published ??= await publish(recorded?.seq);
    const keys = [...taggedKeys, ...named];
    const redisOk = tagged !== undefined && results.every((result) => result.ok);
    return {
      deleted: (tagged?.deleted ?? 0) + results.reduce((sum, result) => sum + result.deleted, 0),
      ok: redisOk && published,
      keys,
      scan: { examined: scan.examined, complete: scan.complete },
    };
  }

  /** Applies an invalidation to this instance's memory tier (also for another instance's). */
  dropFromMemory(message: InvalidationMessage): void {
    this.noteInvalidation(message);
    this.dropPages(message);
  }

  private dropPages({ keys, patterns, tags }: InvalidationMessage): void {
    const { memory } = this.options;
    if (!memory) return;
    memory.delete(keys);
    memory.deletePatterns(patterns);
    if (tags) memory.deleteTags(tags);
  }
}
