import { loadConfig } from '../config';
import { decodeEntry, encodeEntry, encodeInvalidatedAt, INVALIDATED_AT_OFFSET, type CacheEntry } from './cache-entry';
import { createLogger, type Logger } from './logger';
import { createRedisClient, type Redis } from './redis-client';

export interface CacheManagerOptions {
  redis: Redis;
  logger: Logger;
  /** Prepended to every key (REDIS_KEY_PREFIX); '' keeps keys exactly `ssr:/...`. */
  keyPrefix?: string;
  /** Used when neither `set`'s ttl nor the entry's own freshness gives one. */
  defaultTtlSeconds?: number;
  /** Keys asked for per SCAN call and removed per UNLINK call. */
  batchSize?: number;
  /** The same kind of failure is logged at most once per this interval, with a count. */
  failureLogIntervalMs?: number;
}

/** Outcome of a delete: how many keys went, and whether Redis answered every call. */
export interface DeleteResult {
  deleted: number;
  ok: boolean;
}

const GLOB_SPECIALS = /[*?[\]\\]/g;

/**
 * Stores an entry and records it in the index of each of its tags, in one step. A tag set
 * lives as long as its longest-lived page (its expiry only ever moves later), and two random
 * members are checked on each write, dead ones removed, so a set converges on live pages.
 * KEYS: entry key, then tag sets. ARGV: value, ttl ms, the entry's member name, the key prefix.
 */
const SET_WITH_TAGS = `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[i], 2)) do
    if redis.call('EXISTS', ARGV[4] .. member) == 0 then redis.call('SREM', KEYS[i], member) end
  end
end
return 1`;

/**
 * Invalidates every page indexed under the tags in one step, and returns their keys.
 * KEYS: tag sets. ARGV: key prefix, 'hard' or 'soft', the invalidatedAt bytes (soft).
 * Hard unlinks the pages and takes exactly them out of the sets (pages stored meanwhile stay
 * indexed); soft marks the existing ones stale in place.
 */
const INVALIDATE_TAGS = `local found = {}
local seen = {}
local affected = 0
for _, tagKey in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', tagKey)
  for _, member in ipairs(members) do
    if not seen[member] then
      seen[member] = true
      found[#found + 1] = member
      local key = ARGV[1] .. member
      if ARGV[2] == 'hard' then
        affected = affected + redis.call('UNLINK', key)
      elseif redis.call('EXISTS', key) == 1 then
        redis.call('SETRANGE', key, ${INVALIDATED_AT_OFFSET}, ARGV[3])
        affected = affected + 1
      end
    end
  end
  if ARGV[2] == 'hard' and #members > 0 then
    for i = 1, #members, 5000 do redis.call('SREM', tagKey, unpack(members, i, math.min(i + 4999, #members))) end
  end
end
return {affected, found}`;

/** Removes members whose pages are gone from a tag set; returns how many it removed. */
const PRUNE_TAG = `local removed = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. member) == 0 then
    redis.call('SREM', KEYS[1], member)
    removed = removed + 1
  end
end
return removed`;

/** Marks entries stale in place (their invalidatedAt), only where they exist: never creates a key. */
const MARK_STALE = `local marked = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('SETRANGE', key, ${INVALIDATED_AT_OFFSET}, ARGV[1])
    marked = marked + 1
  end
end
return marked`;

/** Escapes Redis glob characters so a literal string only matches itself in SCAN MATCH. */
export function escapeGlob(literal: string): string {
  return literal.replace(GLOB_SPECIALS, '\\$&');
}

/**
 * The Redis tier of the page cache. Every method turns a Redis failure into a miss or a
 * no-op (logged) so a request is never failed by the cache; while the connection is down
 * it does not even try, so an outage costs nothing per request.
 */
export class CacheManager {
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly keyPrefix: string;
  /** ioredis prefixes command keys with its own keyPrefix, but not SCAN patterns or results. */
  private readonly clientPrefix: string;
  private readonly defaultTtlSeconds: number;
  private readonly batchSize: number;
  private readonly failureLogIntervalMs: number;
  private readonly failureLog = new Map<string, { loggedAt: number; suppressed: number }>();
  /** Whether the last command answered; a timed-out Redis stays 'ready' while it fails. */
  private lastCommandOk = true;

  constructor(options: CacheManagerOptions) {
    this.redis = options.redis;
    this.logger = options.logger;
    this.keyPrefix = options.keyPrefix ?? '';
    this.clientPrefix = options.redis.options.keyPrefix ?? '';
    this.defaultTtlSeconds = options.defaultTtlSeconds ?? 3600;
    this.batchSize = options.batchSize ?? 500;
    this.failureLogIntervalMs = options.failureLogIntervalMs ?? 10_000;
  }

  /** True while Redis is connected; the cache is then in use. */
  isAvailable(): boolean {
    return this.redis.status === 'ready';
  }

  /** Connected, and the last command answered: worth asking more of it on a request's path. */
  isHealthy(): boolean {
    return this.isAvailable() && this.lastCommandOk;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    if (!this.isAvailable()) return undefined;
    let value: Buffer | null;
    try {
      value = await this.redis.getBuffer(this.keyPrefix + key);
      this.lastCommandOk = true;
    } catch (error) {
      this.logFailure('get', error, key);
      return undefined;
    }
    if (value === null) return undefined;
    const entry = decodeEntry(value);
    if (!entry) this.logger.warn({ key, bytes: value.length }, 'cache: value at key is not a readable entry, treated as a miss');
    return entry;
  }

  /**
   * Stores an entry for `ttlSeconds` (default: the entry's fresh TTL plus grace), never without
   * a TTL, and indexes it under each of its tags.
   */
  async set(key: string, entry: CacheEntry, ttlSeconds?: number): Promise<boolean> {
    const ttl = ttlSeconds ?? (entry.freshTtl + entry.grace || this.defaultTtlSeconds);
    if (!(ttl > 0) || !this.isAvailable()) return false;
    const ttlMs = Math.ceil(ttl * 1000);
    try {
      if (entry.tags.length === 0) await this.redis.set(this.keyPrefix + key, encodeEntry(entry), 'PX', ttlMs);
      else {
        const tagKeys = entry.tags.map((tag) => this.tagKey(tag));
        await this.redis.eval(SET_WITH_TAGS, 1 + tagKeys.length, this.keyPrefix + key, ...tagKeys, encodeEntry(entry), ttlMs, key, this.clientPrefix + this.keyPrefix);
      }
      this.lastCommandOk = true;
      return true;
    } catch (error) {
      this.logFailure('set', error, key);
      return false;
    }
  }

  async delete(keys: string | readonly string[]): Promise<DeleteResult> {
    return this.inBatches('delete', typeof keys === 'string' ? [keys] : keys, (batch) => this.redis.unlink(...batch));
  }

  /**
   * Deletes every key matching a Redis glob pattern (in the cache's key space, e.g.
   * `ssr:/listings\?*`), with SCAN + UNLINK in batches: never KEYS, which blocks a shared Redis.
   */
  async deletePattern(pattern: string): Promise<DeleteResult> {
    return this.scanBatches('deletePattern', pattern, (batch) => this.redis.unlink(...batch));
  }

  /** Soft invalidation: the entries stay, marked stale, so the next request gets them at once and one re-render. */
  async markStale(keys: readonly string[]): Promise<DeleteResult> {
    const stamp = encodeInvalidatedAt(Date.now());
    return this.inBatches('markStale', keys, (batch) => this.redis.eval(MARK_STALE, batch.length, ...batch, stamp) as Promise<number>);
  }

  async markStalePattern(pattern: string): Promise<DeleteResult> {
    const stamp = encodeInvalidatedAt(Date.now());
    return this.scanBatches('markStalePattern', pattern, (batch) => this.redis.eval(MARK_STALE, batch.length, ...batch, stamp) as Promise<number>);
  }

  /** Records a webhook nonce for ttlMs: true the first time, false when seen, undefined when Redis fails. */
  async claimNonce(nonce: string, ttlMs: number): Promise<boolean | undefined> {
    if (!this.isAvailable()) return undefined;
    try {
      return (await this.redis.set(`${this.keyPrefix}ssr-nonce:${nonce}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
    } catch (error) {
      this.logFailure('claimNonce', error, nonce);
      return undefined;
    }
  }

  /**
   * Deletes (hard) or marks stale (soft) every page indexed under any of the tags, in one round
   * trip: how many it changed and the keys indexed, or undefined when Redis fails.
   */
  async invalidateTags(tags: readonly string[], mode: 'hard' | 'soft'): Promise<{ deleted: number; keys: string[] } | undefined> {
    if (tags.length === 0) return { deleted: 0, keys: [] };
    if (!this.isAvailable()) return undefined;
    try {
      const stamp = encodeInvalidatedAt(Date.now());
      const [deleted, keys] = (await this.redis.eval(
        INVALIDATE_TAGS,
        tags.length,
        ...tags.map((tag) => this.tagKey(tag)),
        this.clientPrefix + this.keyPrefix,
        mode,
        stamp,
      )) as [number, string[]];
      return { deleted, keys };
    } catch (error) {
      this.logFailure('invalidateTags', error, tags[0]);
      return undefined;
    }
  }

  /** Removes members whose pages no longer exist from every tag index; returns how many. */
  async pruneTagIndex(): Promise<number> {
    const prefix = this.clientPrefix + this.keyPrefix;
    const result = await this.scanBatches('pruneTagIndex', 'ssr-tag:*', async (batch) => {
      let removed = 0;
      for (const tagKey of batch) removed += (await this.redis.eval(PRUNE_TAG, 1, tagKey, prefix)) as number;
      return removed;
    });
    return result.deleted;
  }

  private tagKey(tag: string): string {
    return `${this.keyPrefix}ssr-tag:${tag}`;
  }

  /** Runs `apply` on the keys (prefixed) in batches; counts what it reports. */
  private async inBatches(operation: string, keys: readonly string[], apply: (batch: string[]) => Promise<number>): Promise<DeleteResult> {
    if (keys.length === 0) return { deleted: 0, ok: true };
    if (!this.isAvailable()) return { deleted: 0, ok: false };
    let deleted = 0;
    try {
      for (let start = 0; start < keys.length; start += this.batchSize) {
        deleted += await apply(keys.slice(start, start + this.batchSize).map((key) => this.keyPrefix + key));
      }
      return { deleted, ok: true };
    } catch (error) {
      this.logFailure(operation, error, keys[0]);
      return { deleted, ok: false };
    }
  }

  /** SCAN for a pattern and run `apply` on each batch found, as the command-level names. */
  private async scanBatches(operation: string, pattern: string, apply: (batch: string[]) => Promise<number>): Promise<DeleteResult> {
    if (!this.isAvailable()) return { deleted: 0, ok: false };
    const match = escapeGlob(this.clientPrefix + this.keyPrefix) + pattern;
    let cursor = '0';
    let deleted = 0;
    try {
      do {
        const [next, found] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', this.batchSize);
        cursor = next;
        // SCAN returns full names; commands through ioredis would prefix them a second time.
        if (found.length > 0) deleted += await apply(found.map((key) => key.slice(this.clientPrefix.length)));
      } while (cursor !== '0');
      return { deleted, ok: true };
    } catch (error) {
      this.logFailure(operation, error, pattern);
      return { deleted, ok: false };
    }
  }

  /** Remaining time to live of a key in milliseconds (-2 absent, -1 no TTL), or undefined when Redis fails. */
  async ttlMs(key: string): Promise<number | undefined> {
    if (!this.isAvailable()) return undefined;
    try {
      return await this.redis.pttl(this.keyPrefix + key);
    } catch (error) {
      this.logFailure('ttl', error, key);
      return undefined;
    }
  }

  /** A Redis that times out or is full fails every command: log each kind once per interval. */
  private logFailure(operation: string, error: unknown, key: string | undefined): void {
    this.lastCommandOk = false;
    const kind = `${operation}:${error instanceof Error ? error.message.slice(0, 40) : String(error)}`;
    const now = Date.now();
    const seen = this.failureLog.get(kind);
    if (seen && now - seen.loggedAt < this.failureLogIntervalMs) {
      seen.suppressed += 1;
      return;
    }
    if (this.failureLog.size > 100) this.failureLog.clear();
    this.failureLog.set(kind, { loggedAt: now, suppressed: 0 });
    this.logger.warn({ err: error, key, operation, suppressed: seen?.suppressed ?? 0 }, `cache: redis ${operation} failed`);
  }
}

export function createCacheManager(options: CacheManagerOptions): CacheManager {
  return new CacheManager(options);
}

let shared: CacheManager | undefined;

/**
 * The process-wide cache manager for code that embeds the cache without createApp: built on
 * first use from the environment (same variables as the server).
 */
export function getCacheManager(): CacheManager {
  if (!shared) {
    const config = loadConfig();
    const logger = createLogger(config.logLevel);
    shared = createCacheManager({
      redis: createRedisClient(config.redis, logger),
      logger,
      keyPrefix: config.redis.keyPrefix,
      defaultTtlSeconds: config.cache.defaultTtlSeconds,
    });
  }
  return shared;
}
