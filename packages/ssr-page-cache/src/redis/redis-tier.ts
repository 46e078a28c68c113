import {
  decodeEntry,
  encodeEntry,
  encodeInvalidatedAt,
  INVALIDATED_AT_OFFSET,
  isNegative,
  lifetimeSeconds,
  STATUS_OFFSET,
  type CacheEntry,
} from '../entry/cache-entry';
import type { Logger } from '../logger';
import { CircuitBreaker, type BreakerSnapshot, type BreakerState } from './circuit-breaker';
import { clientKeyPrefix, isCluster, masters, type RedisClient } from './connection';
import { isReplyError } from './reply-errors';
import { parseRecord, RECORD_FIELD, type RecordSnapshot } from '../coordination/invalidation-record';

export interface RedisTierOptions {
  redis: RedisClient;
  logger: Logger;
  /** Failures in a row that open the circuit breaker, and its cool-down before a probe. */
  breaker?: { failureThreshold: number; cooldownMs: number };
  /** Names Redis in the breaker's log lines. */
  target?: string;
  /** Told of every change of the breaker's state. */
  onBreakerChange?(state: BreakerState): void;
  /** No command waits longer, counted from the call (the commandTimeoutMs option). */
  commandTimeoutMs?: number;
  /** Prepended to every key (the keyPrefix option); '' keeps keys exactly `ssr:/...`. */
  keyPrefix?: string;
  /** Used when neither `set`'s ttl nor the entry's own freshness gives one. */
  defaultTtlSeconds?: number;
  /** Keys asked for per SCAN call and removed per UNLINK call. */
  batchSize?: number;
  /** The same kind of failure is logged at most once per this interval, with a count. */
  failureLogIntervalMs?: number;
  /** At most this many negative entries (404, 410, redirects) in Redis; default 10000. */
  maxNegativeEntries?: number;
  /** A key the cache owns held a value of the wrong type: it was removed (`kind`: page, tag-index, lock, negative-index). */
  onGarbage?(kind: GarbageKind, count: number): void;
}

/** The kinds of keys the cache owns, as garbage found at them is counted. */
export type GarbageKind = 'page' | 'tag-index' | 'lock' | 'negative-index' | 'record';

/**
 * How much SCAN one invalidation may do: its calls left (each examines about `batchSize` keys),
 * and whether every pattern was scanned to the end. What a spent budget leaves unreached is
 * judged on read by the invalidation record.
 */
export interface ScanBudget {
  calls: number;
  examined: number;
  complete: boolean;
}

/** Outcome of a delete: how many keys went, and whether Redis answered every call. */
export interface DeleteResult {
  deleted: number;
  ok: boolean;
}

const GLOB_SPECIALS = /[*?[\]\\]/g;

/**
 * Lua: a key the cache owns that holds a value of another type than `want` (another program's
 * data, a hand-typed SET) is garbage: removed, and counted in `garbage`, so it never becomes a
 * lasting error of every command that names it.
 */
const HEAL = `local garbage = 0
local function heal(key, want)
  local found = redis.call('TYPE', key).ok
  if found ~= 'none' and found ~= want then
    redis.call('UNLINK', key)
    garbage = garbage + 1
  end
end
`;

/**
 * Stores an entry and records it in the index of each of its tags, in one step. A tag set
 * lives as long as its longest-lived page (its expiry only ever moves later), and two random
 * members are checked on each write, dead ones removed, so a set converges on live pages.
 * KEYS: entry key, then tag sets. ARGV: value, ttl ms, the entry's member name, the key prefix.
 */
const SET_WITH_TAGS = `${HEAL}redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  heal(KEYS[i], 'set')
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[i], 2)) do
    if redis.call('EXISTS', ARGV[4] .. member) == 0 then redis.call('SREM', KEYS[i], member) end
  end
end
return garbage`;

/**
 * Invalidates every page indexed under the tags in one step, and returns their keys.
 * KEYS: tag sets. ARGV: key prefix, 'hard' or 'soft', the invalidatedAt bytes (soft).
 * Hard unlinks the pages and takes exactly them out of the sets (pages stored meanwhile stay
 * indexed); soft marks the existing ones stale in place.
 */
const INVALIDATE_TAGS = `${HEAL}local found = {}
local seen = {}
local affected = 0
for _, tagKey in ipairs(KEYS) do
  heal(tagKey, 'set')
  local members = redis.call('SMEMBERS', tagKey)
  for _, member in ipairs(members) do
    if not seen[member] then
      seen[member] = true
      found[#found + 1] = member
      local key = ARGV[1] .. member
      if ARGV[2] == 'hard' then
        affected = affected + redis.call('UNLINK', key)
      elseif redis.call('TYPE', key).ok ~= 'string' then
        -- gone, or garbage: nothing to mark, and garbage goes
        if redis.call('UNLINK', key) == 1 then garbage = garbage + 1 end
      else
        redis.call('SETRANGE', key, ${INVALIDATED_AT_OFFSET}, ARGV[3])
        affected = affected + 1
      end
    end
  end
  if ARGV[2] == 'hard' and #members > 0 then
    for i = 1, #members, 5000 do redis.call('SREM', tagKey, unpack(members, i, math.min(i + 4999, #members))) end
  end
end
return {affected, found, garbage}`;

/** Removes members whose pages are gone from a tag set; returns how many it removed. */
const PRUNE_TAG = `${HEAL}heal(KEYS[1], 'set')
local removed = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. member) == 0 then
    redis.call('SREM', KEYS[1], member)
    removed = removed + 1
  end
end
return removed`;

/**
 * Cluster: adds a page to one tag set (the page lives in another slot, so this is a step of its
 * own) and returns two random members for the caller to check. KEYS: tag set. ARGV: member, ttl ms.
 */
const ADD_TO_TAG = `${HEAL}heal(KEYS[1], 'set')
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('SRANDMEMBER', KEYS[1], 2)`;

/** Marks entries stale in place (their invalidatedAt), only where they exist: never creates a key. */
const MARK_STALE = `local marked = 0
for _, key in ipairs(KEYS) do
  local found = redis.call('TYPE', key).ok
  if found == 'string' then
    redis.call('SETRANGE', key, ${INVALIDATED_AT_OFFSET}, ARGV[1])
    marked = marked + 1
  elseif found ~= 'none' then
    redis.call('UNLINK', key)
  end
end
return marked`;

/**
 * Admits a negative entry (404, 410, redirect) to the index that caps their number: drops the
 * members whose time is up, adds this one (score: its expiry), and returns the members over the
 * cap, nearest to expiry first, for the caller to evict (after the count of garbage removed). A
 * member is a JSON array of the page's key and its tags. KEYS: the index. ARGV: member,
 * expiry ms, now ms, cap, ttl ms.
 */
const ADMIT_NEGATIVE = `${HEAL}heal(KEYS[1], 'zset')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
local evicted = {}
if over > 0 then
  -- A few a store, however far over (a lowered cap): later stores catch up, Redis is never blocked long.
  local popped = redis.call('ZPOPMIN', KEYS[1], math.min(over, 100))
  for i = 1, #popped, 2 do evicted[#evicted + 1] = popped[i] end
end
return {garbage, evicted}`;

/**
 * Evicts a negative entry, only if the key still holds one (a page stored there since, a 200,
 * stays, and so do its index entries), and takes it out of its tag sets, dropping sets left
 * empty. KEYS: the page key, then its tag sets (none on a Cluster). ARGV: the member name.
 */
const EVICT_NEGATIVE = `if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
local head = redis.call('GETRANGE', KEYS[1], ${STATUS_OFFSET}, ${STATUS_OFFSET + 12})
local status = string.match(head, '^{"status":(%d+)')
if not status or status == '200' then return 0 end
redis.call('UNLINK', KEYS[1])
for i = 2, #KEYS do
  if redis.call('TYPE', KEYS[i]).ok == 'set' then
    redis.call('SREM', KEYS[i], ARGV[1])
    if redis.call('SCARD', KEYS[i]) == 0 then redis.call('UNLINK', KEYS[i]) end
  end
end
return 1`;

/** Cluster: takes an evicted page out of one tag set, and the set away once empty. KEYS: tag set. ARGV: member. */
const REMOVE_FROM_TAG = `if redis.call('TYPE', KEYS[1]).ok ~= 'set' then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('UNLINK', KEYS[1]) end
return 1`;

/**
 * Makes the invalidation record when there is none (never made, or evicted): its numbers start
 * from Redis's clock in microseconds, above any number an earlier record gave, and `floor` says
 * every entry rendered before now is stale (what the lost record said of them is unknown).
 */
const MAKE_RECORD = `local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if redis.call('HEXISTS', KEYS[1], 'seq') == 0 then
  local base = string.format('%d', tonumber(now[1]) * 1000000 + tonumber(now[2]))
  redis.call('HSET', KEYS[1], 'seq', base, 'floor', base, 'pruned', string.format('%d', nowMs))
end
`;

/**
 * Records one invalidation: the next number, and a mark `{seq}|{h|s}|{ms}` on each field (`k:key`,
 * `t:tag`, `p:pattern`). At most once a minute marks older than the retention are pruned, and
 * `floor` rises past them (entries rendered before a pruned mark are stale); more marks than the
 * cap collapse into the floor (every page rendered before this invalidation is stale). No TTL:
 * a volatile-* policy never evicts it. KEYS: the record. ARGV: 'h' or 's', retention ms, cap, fields.
 */
const RECORD_INVALIDATION = `${HEAL}heal(KEYS[1], 'hash')
${MAKE_RECORD}local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local value = string.format('%d', seq) .. '|' .. ARGV[1] .. '|' .. string.format('%d', nowMs)
for i = 4, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], value) end
local floor = tonumber(redis.call('HGET', KEYS[1], 'floor'))
local pruned = tonumber(redis.call('HGET', KEYS[1], 'pruned') or '0')
local cap = tonumber(ARGV[3])
if nowMs - pruned >= 60000 or redis.call('HLEN', KEYS[1]) > cap + 3 then
  local cutoff = nowMs - tonumber(ARGV[2])
  local fields = redis.call('HGETALL', KEYS[1])
  local kept = 0
  for i = 1, #fields, 2 do
    local s, at = string.match(fields[i + 1], '^(%d+)|%a|(%d+)$')
    if s and string.find(fields[i], '^[ktp]:') then
      if tonumber(at) < cutoff then
        redis.call('HDEL', KEYS[1], fields[i])
        if tonumber(s) > floor then floor = tonumber(s) end
      else
        kept = kept + 1
      end
    end
  end
  if kept > cap then
    for i = 1, #fields, 2 do
      local s = string.match(fields[i + 1], '^(%d+)|')
      if s and tonumber(s) < seq and string.find(fields[i], '^[ktp]:') then redis.call('HDEL', KEYS[1], fields[i]) end
    end
    floor = seq
  end
  redis.call('HSET', KEYS[1], 'floor', string.format('%d', floor), 'pruned', string.format('%d', nowMs))
end
return {seq, floor, garbage}`;

const ENSURE_RECORD = `${HEAL}heal(KEYS[1], 'hash')
${MAKE_RECORD}return garbage`;

/**
 * Raises the record's number past one an instance has seen, when Redis's is lower (it lost
 * writes): the floor goes with it, so entries numbered by the lost invalidations are stale.
 * Returns 1 when it raised. KEYS: the record. ARGV: the number seen.
 */
const RAISE_RECORD = `${HEAL}heal(KEYS[1], 'hash')
${MAKE_RECORD}local seq = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local seen = tonumber(ARGV[1])
if seq < seen then
  local next = string.format('%d', seen + 1)
  redis.call('HSET', KEYS[1], 'seq', next, 'floor', next)
  return 1
end
return 0`;

/** Redis's answer to a command on a key holding another type of value. */
function isWrongType(error: unknown): boolean {
  return isReplyError(error) && /^WRONGTYPE/.test((error as Error).message);
}

/** Escapes Redis glob characters so a literal string only matches itself in SCAN MATCH. */
export function escapeGlob(literal: string): string {
  return literal.replace(GLOB_SPECIALS, '\\$&');
}

const COMMAND_TIMED_OUT = 'Command timed out';

/**
 * Resolves as `command`, or rejects once `ms` have passed. The rejection waits for one turn of
 * the event loop (setImmediate runs after the poll phase, where socket data is read): when the
 * timer fires late because this process was busy, a reply that is already in the socket still
 * wins, so a blocked event loop is not taken for a slow Redis (nor counted by the breaker).
 */
function withDeadline<T>(command: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => setImmediate(() => reject(new Error(COMMAND_TIMED_OUT))), ms);
    timer.unref();
  });
  return Promise.race([command, deadline]).finally(() => clearTimeout(timer));
}

/** `host:port` of the client, or `cluster`, for log lines. */
function describeClient(redis: RedisClient): string {
  if (isCluster(redis)) return 'cluster';
  const { host, port, sentinels, name } = redis.options;
  return sentinels ? `sentinel ${name ?? ''}` : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

/**
 * The Redis tier of the page cache. Every method turns a Redis failure into a miss or a
 * no-op (logged) so a request is never failed by the cache; while the connection is down, or
 * the circuit breaker is open after repeated failures, it does not even try, so an outage
 * costs nothing per request.
 *
 * On a Redis Cluster a page and its tag sets live in different slots: each is written by a
 * command of its own, tag sets are read and their pages changed key by key, and a pattern is
 * scanned on every master.
 */
export class RedisTier {
  private readonly redis: RedisClient;
  private readonly cluster: boolean;
  readonly breaker: CircuitBreaker;
  private readonly commandTimeoutMs: number;
  private readonly logger: Logger;
  private readonly keyPrefix: string;
  /** ioredis prefixes command keys with its own keyPrefix, but not SCAN patterns or results. */
  private readonly clientPrefix: string;
  private readonly defaultTtlSeconds: number;
  private readonly batchSize: number;
  private readonly failureLogIntervalMs: number;
  private readonly failureLog = new Map<string, { loggedAt: number; suppressed: number }>();
  private readonly maxNegativeEntries: number;
  private readonly onGarbage: ((kind: GarbageKind, count: number) => void) | undefined;
  private readonly onReady = () => this.breaker.reset();

  constructor(options: RedisTierOptions) {
    this.redis = options.redis;
    this.cluster = isCluster(options.redis);
    this.logger = options.logger;
    this.keyPrefix = options.keyPrefix ?? '';
    this.clientPrefix = clientKeyPrefix(options.redis);
    this.defaultTtlSeconds = options.defaultTtlSeconds ?? 3600;
    this.batchSize = options.batchSize ?? 500;
    this.failureLogIntervalMs = options.failureLogIntervalMs ?? 10_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 250;
    this.maxNegativeEntries = options.maxNegativeEntries ?? 10_000;
    this.onGarbage = options.onGarbage;
    this.breaker = new CircuitBreaker({
      failureThreshold: options.breaker?.failureThreshold ?? 5,
      cooldownMs: options.breaker?.cooldownMs ?? 5000,
      probe: () => withDeadline(this.redis.ping(), this.commandTimeoutMs),
      logger: this.logger,
      target: options.target ?? describeClient(options.redis),
      onChange: options.onBreakerChange,
    });
    this.redis.on('ready', this.onReady);
  }

  /** True while Redis is connected; the cache is then in use (unless the breaker is open). */
  isAvailable(): boolean {
    return this.redis.status === 'ready';
  }

  /** Connected, the breaker closed and the last command answered: worth a second command on a request's path. */
  isHealthy(): boolean {
    return this.isAvailable() && this.breaker.isClear;
  }

  /** Connected and the breaker closed: a command would be sent (nothing counted). */
  isUsable(): boolean {
    return this.isAvailable() && this.breaker.state === 'closed';
  }

  /** Whether the next command would be sent: connected and the breaker closed (a refusal is counted). */
  canAsk(): boolean {
    return this.isAvailable() && this.breaker.allows();
  }

  breakerState(): BreakerSnapshot {
    return this.breaker.snapshot();
  }

  /** Stops the breaker's probe timer; the connection is the app's to close. */
  stop(): void {
    this.breaker.stop();
    this.redis.off('ready', this.onReady);
  }

  /**
   * Sends one command unless Redis is down or the breaker open; its answer, or `failed` when it
   * was not sent or failed (logged, and counted by the breaker unless Redis answered). Other
   * parts of the cache that talk to Redis (render locks, the invalidation bus) go through it too.
   */
  async call<T, F>(operation: string, key: string | undefined, failed: F, command: () => Promise<T>): Promise<T | F> {
    if (!this.canAsk()) return failed;
    try {
      const value = await this.bounded(command());
      this.breaker.recordSuccess();
      return value;
    } catch (error) {
      this.noteFailure(operation, error, key);
      return failed;
    }
  }

  /**
   * Sends one command whatever the breaker says (a lock release must not depend on its opinion:
   * a lock left behind makes other requests wait), bounded by the command timeout like every
   * other; its answer, or `failed`. The outcome is logged but not counted by the breaker.
   */
  async attempt<T, F>(operation: string, key: string | undefined, failed: F, command: () => Promise<T>): Promise<T | F> {
    if (!this.isAvailable()) return failed;
    try {
      return await this.bounded(command());
    } catch (error) {
      this.logFailure(operation, error, key);
      return failed;
    }
  }

  /**
   * ioredis times a command from when it is written, but an auto-pipelined command waits for the
   * batch before it (one batch at a time per connection), and the Cluster client can hold one
   * while it refreshes its slot map: with a frozen Redis the waits add up. The deadline counts
   * from the call, so no request waits on Redis longer than the command timeout.
   */
  private bounded<T>(command: Promise<T>): Promise<T> {
    return withDeadline(command, this.commandTimeoutMs);
  }

  /** What Redis last answered with an error (a reply error: OOM, WRONGTYPE, ...), for the texts that say why something did not complete. */
  lastReplyError: string | undefined;

  private noteFailure(operation: string, error: unknown, key: string | undefined): void {
    if (isReplyError(error)) this.lastReplyError = (error as Error).message.slice(0, 200);
    if (isReplyError(error)) this.breaker.recordSuccess();
    else this.breaker.recordFailure(error);
    this.logFailure(operation, error, key);
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const value = await this.call('get', key, undefined, async () => {
      try {
        return await this.redis.getBuffer(this.keyPrefix + key);
      } catch (error) {
        if (!isWrongType(error)) throw error;
        // A list, hash or set where a page should be: garbage, removed (the render stores the page).
        await this.redis.unlink(this.keyPrefix + key);
        this.noteGarbage('page', 1, key);
        return null;
      }
    });
    if (value === undefined || value === null) return undefined;
    const entry = decodeEntry(value);
    // Another program's string, a truncated or older entry: a miss, and the render writes over it.
    if (!entry)
      this.throttled('unreadable', (suppressed) =>
        this.logger.warn({ key, bytes: value.length, suppressed }, 'cache: value at key is not a readable entry, treated as a miss'),
      );
    return entry;
  }

  /**
   * Stores an entry for `ttlSeconds` (default: fresh TTL, grace and stale-if-error), never without
   * a TTL, and indexes it under each of its tags. A negative entry (404, 410, redirect) also
   * enters the index that caps their number, evicting the ones over the cap.
   */
  async set(key: string, entry: CacheEntry, ttlSeconds?: number): Promise<boolean> {
    const stored = await this.setEntry(key, entry, ttlSeconds);
    if (stored && isNegative(entry)) await this.admitNegative(key, entry, ttlSeconds ?? (lifetimeSeconds(entry) || this.defaultTtlSeconds));
    return stored;
  }

  private async setEntry(key: string, entry: CacheEntry, ttlSeconds?: number): Promise<boolean> {
    const ttl = ttlSeconds ?? (lifetimeSeconds(entry) || this.defaultTtlSeconds);
    if (!(ttl > 0)) return false;
    const ttlMs = Math.ceil(ttl * 1000);
    const pageKey = this.keyPrefix + key;
    const tagKeys = entry.tags.map((tag) => this.tagKey(tag));
    if (tagKeys.length === 0) return this.call('set', key, false, async () => (await this.redis.set(pageKey, encodeEntry(entry), 'PX', ttlMs)) === 'OK');
    if (!this.cluster) {
      return this.call('set', key, false, async () => {
        const garbage = (await this.redis.eval(
          SET_WITH_TAGS,
          1 + tagKeys.length,
          pageKey,
          ...tagKeys,
          encodeEntry(entry),
          ttlMs,
          key,
          this.clientPrefix + this.keyPrefix,
        )) as number;
        this.noteGarbage('tag-index', garbage, key);
        return true;
      });
    }
    // Cluster: the page first, then its index entries, so a page is never indexed before it exists.
    return this.call('set', key, false, async () => {
      await this.redis.set(pageKey, encodeEntry(entry), 'PX', ttlMs);
      const sampled = await Promise.all(tagKeys.map((tagKey) => this.redis.eval(ADD_TO_TAG, 1, tagKey, key, ttlMs) as Promise<string[]>));
      await Promise.all(
        tagKeys.map((tagKey, i) =>
          this.removeDeadMembers(
            tagKey,
            (sampled[i] ?? []).filter((member) => member !== key),
          ),
        ),
      );
      return true;
    });
  }

  /** Keeps the negative entries within the cap: this one is admitted, the nearest to expiry over the cap evicted with their index entries. */
  private async admitNegative(key: string, entry: CacheEntry, ttlSeconds: number): Promise<void> {
    const ttlMs = Math.ceil(ttlSeconds * 1000);
    // JSON: a key or tag may hold any character (a decoded id with a newline, say).
    const member = JSON.stringify([key, ...entry.tags]);
    const now = Date.now();
    const evicted = await this.call('admitNegative', key, [] as string[], async () => {
      const [garbage, over] = (await this.redis.eval(ADMIT_NEGATIVE, 1, this.negativeIndexKey(), member, now + ttlMs, now, this.maxNegativeEntries, ttlMs)) as [
        number,
        string[],
      ];
      this.noteGarbage('negative-index', garbage, key);
      return over;
    });
    for (const one of evicted) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(one);
      } catch {
        continue; // not a member this code wrote
      }
      if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) continue;
      const [evictedKey, ...tags] = parsed as string[];
      if (!evictedKey) continue;
      const pageKey = this.keyPrefix + evictedKey;
      await this.call('evictNegative', evictedKey, 0, async () => {
        if (!this.cluster) return this.redis.eval(EVICT_NEGATIVE, 1 + tags.length, pageKey, ...tags.map((tag) => this.tagKey(tag)), evictedKey);
        if ((await this.redis.eval(EVICT_NEGATIVE, 1, pageKey, evictedKey)) !== 1) return 0;
        for (const tag of tags) {
          await this.redis.eval(REMOVE_FROM_TAG, 1, this.tagKey(tag), evictedKey);
          // A page stored there meanwhile keeps its index entry.
          if ((await this.redis.exists(pageKey)) === 1) await this.redis.sadd(this.tagKey(tag), evictedKey);
        }
        return 1;
      });
    }
  }

  /** Cluster: a tag set's members; a value of another type there is garbage, removed (an empty set). */
  private async tagMembers(tagKey: string): Promise<string[]> {
    try {
      return await this.redis.smembers(tagKey);
    } catch (error) {
      if (!isWrongType(error)) throw error;
      await this.redis.unlink(tagKey);
      this.noteGarbage('tag-index', 1, tagKey);
      return [];
    }
  }

  /** Garbage removed from a key the cache owns: counted, and logged once per kind per interval. */
  noteGarbage(kind: GarbageKind, count: number, key: string | undefined): void {
    if (!(count > 0)) return;
    this.onGarbage?.(kind, count);
    this.throttled(`garbage:${kind}`, (suppressed) =>
      this.logger.warn({ key, kind, count, suppressed }, `cache: a value of the wrong type at a ${kind} key was removed (garbage; the cache rebuilds it)`),
    );
  }

  private negativeIndexKey(): string {
    return `${this.keyPrefix}ssr-negative`;
  }

  /**
   * Cluster: takes members whose pages are gone out of a tag set. A page stored meanwhile puts
   * itself back (SET, then SADD), and a removal is undone when the page turns out to exist.
   */
  private async removeDeadMembers(tagKey: string, members: readonly string[]): Promise<number> {
    let removed = 0;
    for (const member of members) {
      if ((await this.redis.exists(this.keyPrefix + member)) === 1) continue;
      await this.redis.srem(tagKey, member);
      if ((await this.redis.exists(this.keyPrefix + member)) === 1) await this.redis.sadd(tagKey, member);
      else removed += 1;
    }
    return removed;
  }

  async delete(keys: string | readonly string[]): Promise<DeleteResult> {
    return this.inBatches('delete', typeof keys === 'string' ? [keys] : keys, (batch) => this.unlinkAll(batch));
  }

  /** UNLINK of several keys: one command, or one per key on a cluster (keys of many slots). */
  private unlinkAll(keys: string[]): Promise<number> {
    if (!this.cluster) return this.redis.unlink(...keys);
    return this.perKey(keys, (key) => this.redis.unlink(key));
  }

  private markStaleAll(keys: string[], stamp: Buffer): Promise<number> {
    if (!this.cluster) return this.redis.eval(MARK_STALE, keys.length, ...keys, stamp) as Promise<number>;
    return this.perKey(keys, (key) => this.redis.eval(MARK_STALE, 1, key, stamp) as Promise<number>);
  }

  /** Runs a command per key at once (auto-pipelined per node) and adds up the counts. */
  private async perKey(keys: readonly string[], command: (key: string) => Promise<number>): Promise<number> {
    const counts = await Promise.all(keys.map(command));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /**
   * Deletes every key matching a Redis glob pattern (in the cache's key space, e.g.
   * `ssr:/posts\?*`), with SCAN + UNLINK in batches: never KEYS, which blocks a shared Redis.
   */
  async deletePattern(pattern: string, budget?: ScanBudget): Promise<DeleteResult> {
    return this.scanBatches('deletePattern', pattern, (batch) => this.unlinkAll(batch), budget);
  }

  /** Soft invalidation: the entries stay, marked stale, so the next request gets them at once and one re-render. */
  async markStale(keys: readonly string[]): Promise<DeleteResult> {
    const stamp = encodeInvalidatedAt(Date.now());
    return this.inBatches('markStale', keys, (batch) => this.markStaleAll(batch, stamp));
  }

  async markStalePattern(pattern: string, budget?: ScanBudget): Promise<DeleteResult> {
    const stamp = encodeInvalidatedAt(Date.now());
    return this.scanBatches('markStalePattern', pattern, (batch) => this.markStaleAll(batch, stamp), budget);
  }

  /**
   * Deletes (hard) or marks stale (soft) every page indexed under any of the tags, in one round
   * trip: how many it changed and the keys indexed, or undefined when Redis fails.
   */
  async invalidateTags(tags: readonly string[], mode: 'hard' | 'soft'): Promise<{ deleted: number; keys: string[] } | undefined> {
    if (tags.length === 0) return { deleted: 0, keys: [] };
    const stamp = encodeInvalidatedAt(Date.now());
    const tagKeys = tags.map((tag) => this.tagKey(tag));
    if (!this.cluster) {
      return this.call('invalidateTags', tags[0], undefined, async () => {
        const [deleted, keys, garbage] = (await this.redis.eval(
          INVALIDATE_TAGS,
          tagKeys.length,
          ...tagKeys,
          this.clientPrefix + this.keyPrefix,
          mode,
          stamp,
        )) as [number, string[], number];
        this.noteGarbage('tag-index', garbage, tags[0]);
        return { deleted, keys };
      });
    }
    // Cluster: read the sets, then change their pages key by key. Members stay in the sets (a
    // page stored meanwhile must stay indexed); dead ones are pruned as pages are written.
    return this.call('invalidateTags', tags[0], undefined, async () => {
      const keys = [...new Set((await Promise.all(tagKeys.map((tagKey) => this.tagMembers(tagKey)))).flat())];
      const pageKeys = keys.map((key) => this.keyPrefix + key);
      const deleted = mode === 'hard' ? await this.unlinkAll(pageKeys) : await this.markStaleAll(pageKeys, stamp);
      return { deleted, keys };
    });
  }

  /** Removes members whose pages no longer exist from every tag index; returns how many. */
  async pruneTagIndex(): Promise<number> {
    const prefix = this.clientPrefix + this.keyPrefix;
    const result = await this.scanBatches('pruneTagIndex', 'ssr-tag:*', async (batch) => {
      let removed = 0;
      for (const tagKey of batch) {
        removed += this.cluster
          ? await this.removeDeadMembers(tagKey, await this.tagMembers(tagKey))
          : ((await this.redis.eval(PRUNE_TAG, 1, tagKey, prefix)) as number);
      }
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
    let deleted = 0;
    for (let start = 0; start < keys.length; start += this.batchSize) {
      const batch = keys.slice(start, start + this.batchSize).map((key) => this.keyPrefix + key);
      const count = await this.call(operation, keys[start], undefined, () => apply(batch));
      if (count === undefined) return { deleted, ok: false };
      deleted += count;
    }
    return { deleted, ok: true };
  }

  /**
   * SCAN for a pattern (on every master of a cluster) and run `apply` on each batch found, as
   * the command-level names. With a budget, stops when its SCAN calls are spent (`complete` false).
   */
  private async scanBatches(operation: string, pattern: string, apply: (batch: string[]) => Promise<number>, budget?: ScanBudget): Promise<DeleteResult> {
    if (!this.isAvailable()) return { deleted: 0, ok: false };
    const match = escapeGlob(this.clientPrefix + this.keyPrefix) + pattern;
    let deleted = 0;
    for (const node of masters(this.redis)) {
      let cursor = '0';
      do {
        if (budget) {
          if (budget.calls <= 0) {
            budget.complete = false;
            return { deleted, ok: true };
          }
          budget.calls -= 1;
          budget.examined += this.batchSize;
        }
        const page = await this.call(operation, pattern, undefined, () => node.scan(cursor, 'MATCH', match, 'COUNT', this.batchSize));
        if (page === undefined) return { deleted, ok: false };
        const [next, found] = page;
        cursor = next;
        // SCAN returns full names; commands through ioredis would prefix them a second time.
        const count =
          found.length > 0 ? await this.call(operation, pattern, undefined, () => apply(found.map((key) => key.slice(this.clientPrefix.length)))) : 0;
        if (count === undefined) return { deleted, ok: false };
        deleted += count;
      } while (cursor !== '0');
    }
    return { deleted, ok: true };
  }

  private recordKey(): string {
    return `${this.keyPrefix}ssr-inv`;
  }

  /**
   * Reads a page and the invalidation record's counters at once (two commands in flight
   * together: one round trip). `counters` is undefined when they could not be read; `seq` and
   * `floor` are undefined when there is no record.
   */
  async getWithRecord(key: string): Promise<{ entry: CacheEntry | undefined; counters?: { seq?: number; floor?: number } }> {
    const [entry, counters] = await Promise.all([this.get(key), this.readCounters()]);
    return { entry, counters };
  }

  private readCounters(): Promise<{ seq?: number; floor?: number } | undefined> {
    return this.call('readRecord', undefined, undefined, async () => {
      let values: (string | null)[];
      try {
        values = await this.redis.hmget(this.recordKey(), 'seq', 'floor');
      } catch (error) {
        if (!isWrongType(error)) throw error;
        return {}; // garbage at the record's key: as no record (making it heals the key)
      }
      const [seq, floor] = values.map((value) => (value === null ? undefined : Number(value)));
      return { seq, floor };
    });
  }

  /** The whole invalidation record, made first when there is none; undefined when Redis fails. */
  async readRecord(): Promise<RecordSnapshot | undefined> {
    const read = () =>
      this.call('readRecord', undefined, undefined, async () => {
        try {
          return parseRecord(await this.redis.hgetall(this.recordKey()));
        } catch (error) {
          if (!isWrongType(error)) throw error;
          return undefined;
        }
      });
    const snapshot = await read();
    if (snapshot) return snapshot;
    const made = await this.call('makeRecord', undefined, undefined, async () => {
      this.noteGarbage('record', (await this.redis.eval(ENSURE_RECORD, 1, this.recordKey())) as number, undefined);
      return true;
    });
    return made ? read() : undefined;
  }

  /** Raises the record past `seen` when Redis's number is lower (see RAISE_RECORD); true when it did. */
  async raiseRecord(seen: number): Promise<boolean> {
    return this.call('raiseRecord', undefined, false, async () => (await this.redis.eval(RAISE_RECORD, 1, this.recordKey(), seen)) === 1);
  }

  /**
   * Records an invalidation (see RECORD_INVALIDATION): its number and the record's floor, or
   * undefined when Redis did not take it (`lastReplyError` says why when Redis answered).
   */
  async recordInvalidation(
    invalidation: { mode: 'hard' | 'soft'; keys: readonly string[]; tags: readonly string[]; patterns: readonly string[] },
    retentionMs: number,
    maxMarks: number,
  ): Promise<{ seq: number; floor: number } | undefined> {
    const fields = [
      ...invalidation.keys.map((key) => RECORD_FIELD.key + key),
      ...invalidation.tags.map((tag) => RECORD_FIELD.tag + tag),
      ...invalidation.patterns.map((pattern) => RECORD_FIELD.pattern + pattern),
    ];
    return this.call('recordInvalidation', undefined, undefined, async () => {
      const [seq, floor, garbage] = (await this.redis.eval(
        RECORD_INVALIDATION,
        1,
        this.recordKey(),
        invalidation.mode === 'hard' ? 'h' : 's',
        Math.ceil(retentionMs),
        maxMarks,
        ...fields,
      )) as [number, number, number];
      this.noteGarbage('record', garbage, undefined);
      return { seq, floor };
    });
  }

  /** Remaining time to live of a key in milliseconds (-2 absent, -1 no TTL), or undefined when Redis fails. */
  async ttlMs(key: string): Promise<number | undefined> {
    return this.call('ttl', key, undefined, () => this.redis.pttl(this.keyPrefix + key));
  }

  /** A Redis that times out or is full fails every command: log each kind once per interval. */
  private logFailure(operation: string, error: unknown, key: string | undefined): void {
    const kind = `${operation}:${error instanceof Error ? error.message.slice(0, 40) : String(error)}`;
    this.throttled(kind, (suppressed) => this.logger.warn({ err: error, key, operation, suppressed }, `cache: redis ${operation} failed`));
  }

  /** Runs `log` at most once per kind per interval, telling it how many were left out since. */
  private throttled(kind: string, log: (suppressed: number) => void): void {
    const now = Date.now();
    const seen = this.failureLog.get(kind);
    if (seen && now - seen.loggedAt < this.failureLogIntervalMs) {
      seen.suppressed += 1;
      return;
    }
    if (this.failureLog.size > 100) this.failureLog.clear();
    this.failureLog.set(kind, { loggedAt: now, suppressed: 0 });
    log(seen?.suppressed ?? 0);
  }
}
