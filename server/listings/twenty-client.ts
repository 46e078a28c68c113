import type { Cluster, Redis } from 'ioredis';
import { ListingSourceError } from './listing';

/**
 * One client for every call to Twenty's REST API, pacing itself with a token bucket that mirrors
 * Twenty's own. Twenty (2.x) limits API-key queries per workspace with two buckets, 100 a second
 * and 100 a minute, refilled continuously (a token every 600 ms), and answers a call over them
 * with a bare 429 (no Retry-After, no rate-limit headers). Pacing here makes those 429s rare:
 * every call takes a token from both buckets first, and waits for one when there is none.
 *
 * Page renders ('page') go before background work ('background': sitemap walks, warm-ups), and
 * background calls leave a reserve of the per-minute bucket to pages. With `shared`, the bucket
 * lives in Redis so several instances of the server share the workspace's limit exactly.
 */

export type TwentyPriority = 'page' | 'background';

export interface TwentyRateLimit {
  perMinute: number;
  perSecond: number;
}

export interface TwentyClientOptions {
  apiUrl: string;
  apiKey: string;
  /** Per HTTP call, and the longest a 'page' call waits in all (for tokens and 429 retries). */
  timeoutMs: number;
  /** Twenty's limits for the workspace; default 100 a minute and 100 a second. */
  rateLimit?: TwentyRateLimit;
  /** The longest a 'background' call waits in all (for tokens and 429 retries); default 120 000 ms. */
  backgroundWaitMs?: number;
  /** Tokens of the per-minute bucket that background calls leave to pages; default 20% of perMinute. */
  backgroundReserve?: number;
  /**
   * The bucket in Redis (a hash under `key`), shared by every instance given the same key. When
   * Redis is not connected, fails, or does not answer within `timeoutMs` (default 100 ms), the call
   * is paced by this instance's own bucket instead (starting from the shared bucket as last seen);
   * Redis is asked again on the next call (after a timeout: once its late answer came, or a second
   * later, so a hung Redis does not cost every call its bound).
   */
  shared?: { redis: Redis | Cluster; key: string; timeoutMs?: number };
  logger?: { warn(fields: object, msg: string): void };
  /** For tests: the fetch to call. */
  fetch?: typeof fetch;
}

export type TwentyBucketMode = 'redis' | 'local' | 'local (redis unavailable)';

export interface TwentyClientStats {
  /** Where the bucket is: Redis (shared by instances), this instance only, or this instance while Redis does not answer. */
  mode: TwentyBucketMode;
  limits: TwentyRateLimit & { backgroundReserve: number };
  /** Tokens in each bucket now, as this instance last saw them (in 'redis' mode: at its last call). */
  tokens: { perSecond: number; perMinute: number };
  /** Calls waiting for a token now. */
  waiting: Record<TwentyPriority, number>;
  /** Calls asked for. */
  calls: Record<TwentyPriority, number>;
  /** Calls that had to wait for a token, and the time they waited in all. */
  waits: Record<TwentyPriority, number>;
  waitedMs: Record<TwentyPriority, number>;
  /** Calls given up as rate limited (no token within their bound). */
  rateLimited: Record<TwentyPriority, number>;
  /** 429 answers met from Twenty (each retried, within the bound). */
  twenty429s: number;
  /** Bucket operations (token takes, 429 reports) done on the local bucket because Redis did not answer (shared mode). */
  redisFallbacks: number;
}

export interface TwentyClient {
  /**
   * GET `${apiUrl}/rest/${path}` with the bearer key and Accept json. Resolves with the Response for
   * any status but 429; throws ListingSourceError('rate-limited', ..., {retryAfterSeconds}) when no
   * token (or 429) could be waited out within the bound, ('timeout' | 'unavailable') when the call
   * times out or fails, and ('unavailable') once the client is closed.
   */
  get(path: string, priority: TwentyPriority): Promise<Response>;
  /** For /health: bucket mode, limits, tokens now (approx), waits and 429s counted, calls by priority. */
  stats(): TwentyClientStats;
  /** Clears the timers; calls still waiting for a token fail ('unavailable'), later calls too. */
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// The bucket, as pure functions (the Lua script below does the same in Redis).
//
// Each bucket (capacity N, window W, one token every T = W / N) is kept as the moment it is full
// again (`fullAt`, GCRA's "theoretical arrival time"): it holds (W - max(0, fullAt - now)) / T
// tokens; taking one moves fullAt to max(fullAt, now) + T. A bucket never needs a refill timer.
// ---------------------------------------------------------------------------------------------

/** When each bucket is full again, in ms of the clock `now` is read from (0: full). */
export interface TokenBucketState {
  perSecond: number;
  perMinute: number;
}

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;

const DEFAULT_TWENTY_RATE_LIMIT: Readonly<TwentyRateLimit> = Object.freeze({ perMinute: 100, perSecond: 100 });

function intervals(limits: TwentyRateLimit): { second: number; minute: number } {
  return { second: SECOND_MS / limits.perSecond, minute: MINUTE_MS / limits.perMinute };
}

/**
 * Ms until `count` tokens can have been taken from both buckets, the last one leaving `reserve`
 * tokens in the per-minute bucket; 0: the first may be taken now (count 1: take it with takeToken).
 * A lower bound when count > 1 (calls of other instances may come first).
 */
export function tokenBucketWaitMs(state: TokenBucketState, now: number, limits: TwentyRateLimit, reserve = 0, count = 1): number {
  const every = intervals(limits);
  const second = Math.max(state.perSecond, now) + count * every.second - SECOND_MS - now;
  const minute = Math.max(state.perMinute, now) + (count + reserve) * every.minute - MINUTE_MS - now;
  const wait = Math.max(second, minute);
  return wait <= 0 ? 0 : Math.ceil(wait);
}

/** The state after taking one token from both buckets at `now` (check tokenBucketWaitMs first). */
export function takeToken(state: TokenBucketState, now: number, limits: TwentyRateLimit): TokenBucketState {
  const every = intervals(limits);
  return { perSecond: Math.max(state.perSecond, now) + every.second, perMinute: Math.max(state.perMinute, now) + every.minute };
}

/** The state with both buckets empty until `nextTokenAt`, when each holds one token (a 429 from Twenty). */
export function emptyUntil(state: TokenBucketState, nextTokenAt: number, limits: TwentyRateLimit): TokenBucketState {
  const every = intervals(limits);
  return {
    perSecond: Math.max(state.perSecond, nextTokenAt + SECOND_MS - every.second),
    perMinute: Math.max(state.perMinute, nextTokenAt + MINUTE_MS - every.minute),
  };
}

/** Tokens in each bucket at `now` (fractions: the refill is continuous). */
export function tokensAt(state: TokenBucketState, now: number, limits: TwentyRateLimit): TokenBucketState {
  const every = intervals(limits);
  const tokens = (fullAt: number, window: number, interval: number) => Math.max(0, (window - Math.max(0, fullAt - now)) / interval);
  return { perSecond: tokens(state.perSecond, SECOND_MS, every.second), perMinute: tokens(state.perMinute, MINUTE_MS, every.minute) };
}

/**
 * The shared bucket: KEYS[1] is a hash of `s` and `m`, when the per-second and per-minute buckets
 * are full again, in ms of Redis' clock (TIME, so instances' clocks do not matter).
 * ARGV: 'take' or 'empty'; perSecond; perMinute; the per-minute reserve to leave ('take') or the
 * ms until the next token ('empty'); the key's least TTL in ms.
 * Returns {ms to wait (0: a token was taken from both), ms until each bucket is full again}.
 */
const TWENTY_TOKEN_BUCKET_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local second = 1000 / tonumber(ARGV[2])
local minute = 60000 / tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 's', 'm')
local s = math.max(tonumber(state[1]) or 0, now)
local m = math.max(tonumber(state[2]) or 0, now)
local wait = 0
if ARGV[1] == 'empty' then
  local at = now + tonumber(ARGV[4])
  s = math.max(s, at + 1000 - second)
  m = math.max(m, at + 60000 - minute)
else
  wait = math.max(s + second - 1000, m + (1 + tonumber(ARGV[4])) * minute - 60000) - now
  if wait <= 0 then
    wait = 0
    s = s + second
    m = m + minute
  end
end
if wait == 0 then
  redis.call('HSET', KEYS[1], 's', s, 'm', m)
  redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[5]), math.ceil(math.max(s, m) - now) + 1000))
end
return { math.ceil(wait), math.ceil(s - now), math.ceil(m - now) }
`;

/** The command's name on the Redis client (defineCommand: EVALSHA, EVAL when the script is not loaded). */
const SCRIPT_COMMAND = 'twentyTokenBucketV1';
const SHARED_TIMEOUT_MS = 100;
/**
 * After Redis did not answer in time, calls use the local bucket until its late answer comes, or
 * for this long at most, before Redis is asked again: a hung Redis does not cost every call its bound.
 */
const SHARED_RETRY_MS = 1000;
/** An idle bucket key disappears after this (an absent key is a full bucket). */
const SHARED_KEY_TTL_MS = 180_000;
/** At most one warning a minute about Twenty's 429s. */
const WARN_429_EVERY_MS = 60_000;

type ScriptClient = { [SCRIPT_COMMAND]: (key: string, ...args: (string | number)[]) => Promise<unknown> };

interface Waiter {
  path: string;
  priority: TwentyPriority;
  /** The call's arrival: FIFO within a priority, a 429's retry keeping its place. */
  order: number;
  since: number;
  deadline: number;
  waited: boolean;
  resolve(): void;
  reject(error: Error): void;
}

/** Seconds a Retry-After asks for (a number or an HTTP date), as ms; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The script's answer: [ms to wait, ms until the per-second and per-minute buckets are full]; undefined if not that. */
function bucketReply(reply: unknown): [number, number, number] | undefined {
  if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  return reply as [number, number, number];
}

/** A fetch that failed, as a source error: `timeout` for an abort (the call's own timeout), else `unavailable`. */
export function sourceError(error: unknown, message: string): ListingSourceError {
  // fetch's abort errors are DOMExceptions, which need not be `instanceof Error` in every realm.
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  const failure = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unavailable';
  return new ListingSourceError(failure, failure === 'timeout' ? `${message}: timed out` : message, { cause: error });
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`createTwentyClient: ${name} must be a positive number (got ${value})`);
  return value;
}

export function createTwentyClient(options: TwentyClientOptions): TwentyClient {
  const { apiUrl, apiKey, shared, logger } = options;
  const timeoutMs = positive('timeoutMs', options.timeoutMs);
  const limits: TwentyRateLimit = {
    perMinute: positive('rateLimit.perMinute', options.rateLimit?.perMinute ?? DEFAULT_TWENTY_RATE_LIMIT.perMinute),
    perSecond: positive('rateLimit.perSecond', options.rateLimit?.perSecond ?? DEFAULT_TWENTY_RATE_LIMIT.perSecond),
  };
  const backgroundWaitMs = Math.max(0, options.backgroundWaitMs ?? 120_000);
  // At least one token is left to background calls, or they would never get one.
  const reserve = Math.min(Math.max(0, Math.floor(options.backgroundReserve ?? limits.perMinute * 0.2)), Math.ceil(limits.perMinute) - 1);
  const doFetch = options.fetch ?? ((input: string | URL | Request, init?: RequestInit) => fetch(input, init));
  const sharedTimeoutMs = shared?.timeoutMs ?? SHARED_TIMEOUT_MS;
  /** After a 429 without Retry-After, the next token of the emptied buckets (600 ms at the defaults). */
  const nextTokenMs = Math.max(MINUTE_MS / limits.perMinute, SECOND_MS / limits.perSecond);
  const now = () => performance.now();

  if (shared) (shared.redis as unknown as Redis).defineCommand(SCRIPT_COMMAND, { numberOfKeys: 1, lua: TWENTY_TOKEN_BUCKET_LUA });

  /** This instance's bucket; in shared mode, Redis' bucket as last seen (and the fallback when Redis does not answer). */
  let bucket: TokenBucketState = { perSecond: 0, perMinute: 0 };
  let redisAnswers = true;
  /** Redis answered this instance at least once (until then a fallback bucket starts empty). */
  let redisSeen = false;
  /** The bucket this instance paces by while Redis does not answer: empty when the client was made, and when Redis stopped answering. */
  let startBucket: TokenBucketState = { perSecond: now() + SECOND_MS, perMinute: now() + MINUTE_MS };
  /** After a Redis timeout: no Redis call before this (this instance's clock). */
  let redisQuietUntil = -Infinity;
  const queues: Record<TwentyPriority, Waiter[]> = { page: [], background: [] };
  let arrivals = 0;
  let pumping = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let closed = false;
  let last429Warning = -Infinity;
  const counts = {
    calls: { page: 0, background: 0 },
    waits: { page: 0, background: 0 },
    waitedMs: { page: 0, background: 0 },
    rateLimited: { page: 0, background: 0 },
    twenty429s: 0,
    redisFallbacks: 0,
  };

  const reserveOf = (priority: TwentyPriority) => (priority === 'background' ? reserve : 0);
  const budgetOf = (priority: TwentyPriority) => (priority === 'page' ? timeoutMs : backgroundWaitMs);
  const head = (): Waiter | undefined => queues.page[0] ?? queues.background[0];
  const closedError = (path: string) => new ListingSourceError('unavailable', `Twenty client closed: GET /rest/${path} not sent`);

  function redisFailed(error: unknown): void {
    counts.redisFallbacks += 1;
    if (!redisAnswers) return;
    redisAnswers = false;
    if (redisSeen) startBucket = { perSecond: now() + SECOND_MS, perMinute: now() + MINUTE_MS };
    logger?.warn(
      { key: shared?.key, err: errorMessage(error) },
      "twenty rate limit: Redis does not answer, Twenty calls are paced by this instance's own bucket until it does",
    );
  }

  function redisAnswered(): void {
    if (redisAnswers) return;
    redisAnswers = true;
    logger?.warn({ key: shared?.key }, 'twenty rate limit: Redis answers again, the bucket is shared by the instances again');
  }

  /** One script call, bounded; undefined when Redis is not ready, fails or is too slow (the local bucket then serves). */
  async function script(op: 'take' | 'empty', arg: number): Promise<[number, number, number] | undefined> {
    if (!shared) return undefined;
    const { redis, key } = shared;
    // 'wait': a lazyConnect client not connected yet (the command connects it). Others are down or on their way: not queued.
    if (redis.status !== 'ready' && redis.status !== 'wait') {
      redisFailed(new Error(`Redis connection ${redis.status}`));
      return undefined;
    }
    if (now() < redisQuietUntil) {
      redisFailed(new Error('Redis did not answer in time lately'));
      return undefined;
    }
    let bound: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      const call = (redis as unknown as ScriptClient)[SCRIPT_COMMAND](key, op, limits.perSecond, limits.perMinute, arg, SHARED_KEY_TTL_MS);
      call.then(
        (late) => {
          // Redis was slow, not gone: its late answer ends the quiet spell, and what it says of the bucket is kept.
          if (!timedOut || closed) return;
          const reply = bucketReply(late);
          if (!reply) return;
          redisQuietUntil = -Infinity;
          const at = now();
          bucket = { perSecond: Math.max(bucket.perSecond, at + reply[1]), perMinute: Math.max(bucket.perMinute, at + reply[2]) };
        },
        () => undefined,
      );
      const timeout = new Promise<never>((_resolve, reject) => {
        bound = setTimeout(() => {
          timedOut = true;
          reject(new Error(`Redis did not answer within ${sharedTimeoutMs} ms`));
        }, sharedTimeoutMs);
        bound.unref?.();
      });
      const reply = bucketReply(await Promise.race([call, timeout]));
      if (!reply) throw new Error('unexpected reply from the bucket script');
      redisAnswered();
      // Redis' bucket, seen from this instance's clock: the projections and the fallback start from it.
      const at = now();
      bucket = { perSecond: at + reply[1], perMinute: at + reply[2] };
      return reply;
    } catch (error) {
      if (timedOut) redisQuietUntil = now() + SHARED_RETRY_MS;
      redisFailed(error);
      return undefined;
    } finally {
      clearTimeout(bound);
    }
  }

  /** Takes a token from both buckets: 0, or the ms until there may be one. */
  async function take(priority: TwentyPriority): Promise<number> {
    const answer = await script('take', reserveOf(priority));
    if (answer) {
      redisSeen = true;
      return answer[0];
    }
    const at = now();
    if (shared) {
      // Redis does not answer (never yet, or not lately): the other instances may be spending the
      // shared bucket, so this one paces by a bucket of its own that was empty when Redis stopped
      // answering (or when the client was made): the refill rate, never tokens they spent. Its
      // projections stay on the shared bucket's side, so the next call asks Redis again.
      const wait = tokenBucketWaitMs(startBucket, at, limits, reserveOf(priority));
      if (wait === 0) startBucket = takeToken(startBucket, at, limits);
      return wait;
    }
    const wait = tokenBucketWaitMs(bucket, at, limits, reserveOf(priority));
    if (wait === 0) bucket = takeToken(bucket, at, limits);
    return wait;
  }

  /** Twenty said the workspace has no token: no call (of any instance) until `ms` from now. */
  async function empty(ms: number): Promise<void> {
    bucket = emptyUntil(bucket, now() + ms, limits);
    await script('empty', ms);
  }

  /** The least wait before a waiter can have its token: the tokens of the waiters before it, its reserve. */
  function projectedWait(waiter: Waiter, at: number): number {
    const queue = queues[waiter.priority];
    const ahead = (waiter.priority === 'background' ? queues.page.length : 0) + queue.indexOf(waiter);
    return tokenBucketWaitMs(bucket, at, limits, reserveOf(waiter.priority), ahead + 1);
  }

  function remove(waiter: Waiter): void {
    const queue = queues[waiter.priority];
    const index = queue.indexOf(waiter);
    if (index >= 0) queue.splice(index, 1);
  }

  function giveUp(waiter: Waiter, waitMs: number): void {
    remove(waiter);
    counts.rateLimited[waiter.priority] += 1;
    waiter.reject(
      new ListingSourceError(
        'rate-limited',
        `Twenty API rate limit: no token for GET /rest/${waiter.path} within ${budgetOf(waiter.priority)} ms ` +
          `(${waiter.priority} call; paced to ${limits.perMinute}/min and ${limits.perSecond}/s)`,
        { retryAfterSeconds: seconds(waitMs) },
      ),
    );
  }

  function grant(waiter: Waiter): void {
    remove(waiter);
    if (waiter.waited) {
      counts.waits[waiter.priority] += 1;
      counts.waitedMs[waiter.priority] += now() - waiter.since;
    }
    waiter.resolve();
  }

  /** Gives up now on the waiters whose token cannot come before their deadline, even if no other call came first. */
  function dropHopeless(at: number): void {
    // As projectedWait, in one pass: the waiters kept so far are the ones ahead (pages before background calls).
    let ahead = 0;
    for (const priority of ['page', 'background'] as const) {
      for (const waiter of [...queues[priority]]) {
        const wait = tokenBucketWaitMs(bucket, at, limits, reserveOf(priority), ahead + 1);
        if (at + wait > waiter.deadline) giveUp(waiter, wait);
        else ahead += 1;
      }
    }
  }

  function clearTimer(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    timerAt = Infinity;
  }

  /** Wakes the pump at `at` (or sooner, if it is already due sooner). */
  function wakeAt(at: number): void {
    if (closed || (timer && timerAt <= at)) return;
    clearTimer();
    timerAt = at;
    timer = setTimeout(
      () => {
        timer = undefined;
        timerAt = Infinity;
        kick();
      },
      Math.max(1, Math.ceil(at - now())),
    );
    timer.unref?.();
  }

  function kick(): void {
    if (pumping || closed) return;
    clearTimer();
    void pump();
  }

  /**
   * Serves the waiters, one token at a time, pages first, FIFO within a priority; when the head
   * must wait, sleeps until its token (or the first deadline). One pump at a time: no busy loop.
   */
  async function pump(): Promise<void> {
    pumping = true;
    try {
      for (;;) {
        const first = head();
        if (!first || closed) return;
        const wait = await take(first.priority);
        if (closed) return;
        if (wait === 0) {
          grant(first);
          continue;
        }
        // A page came in while Redis answered: it goes first.
        if (head() !== first) continue;
        const at = now();
        dropHopeless(at);
        if (head() !== first) continue;
        let deadline = Infinity;
        for (const waiter of [...queues.page, ...queues.background]) {
          waiter.waited = true;
          deadline = Math.min(deadline, waiter.deadline);
        }
        wakeAt(Math.min(at + wait, deadline));
        return;
      }
    } catch (error) {
      // Not expected (take falls back to the local bucket): fail the waiters rather than leave them hanging.
      for (const waiter of [...queues.page, ...queues.background]) {
        remove(waiter);
        waiter.reject(new ListingSourceError('unavailable', `Twenty client: ${errorMessage(error)}`, { cause: error }));
      }
    } finally {
      pumping = false;
    }
  }

  /** Resolves when the call has a token; rejects (rate-limited) when it cannot have one within `budgetMs`. */
  function acquire(path: string, priority: TwentyPriority, order: number, budgetMs: number): Promise<void> {
    if (closed) return Promise.reject(closedError(path));
    return new Promise<void>((resolve, reject) => {
      const at = now();
      const waiter: Waiter = { path, priority, order, since: at, deadline: at + Math.max(0, budgetMs), waited: false, resolve, reject };
      const queue = queues[priority];
      let index = queue.length;
      while (index > 0 && (queue[index - 1] as Waiter).order > order) index -= 1;
      queue.splice(index, 0, waiter);
      // Fail fast: even with no other call, its token comes too late.
      const wait = projectedWait(waiter, at);
      if (at + wait > waiter.deadline) {
        giveUp(waiter, wait);
        return;
      }
      if (head() === waiter) kick();
      else wakeAt(waiter.deadline);
    });
  }

  async function fetchOnce(path: string): Promise<Response> {
    try {
      return await doFetch(`${apiUrl}/rest/${path}`, {
        headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw sourceError(error, `Twenty API request failed: GET /rest/${path}`);
    }
  }

  function warn429(path: string, retryAfter: number | undefined): void {
    const at = now();
    if (at - last429Warning < WARN_429_EVERY_MS) return;
    last429Warning = at;
    logger?.warn(
      { path, retryAfterMs: retryAfter, twenty429s: counts.twenty429s, mode: mode() },
      'twenty rate limit: Twenty answered 429 (its workspace bucket is empty: another integration or instance used it), waiting for the next token',
    );
  }

  function mode(): TwentyBucketMode {
    if (!shared) return 'local';
    return redisAnswers ? 'redis' : 'local (redis unavailable)';
  }

  return {
    async get(path, priority) {
      if (closed) throw closedError(path);
      counts.calls[priority] += 1;
      const budget = budgetOf(priority);
      const order = arrivals++;
      let waited = 0;
      for (;;) {
        const start = now();
        await acquire(path, priority, order, budget - waited);
        waited += now() - start;
        const response = await fetchOnce(path);
        if (response.status !== 429) return response;

        counts.twenty429s += 1;
        const asked = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel().catch(() => undefined);
        warn429(path, asked);
        // Twenty's bare 429: its bucket is empty, the next token comes in one interval. A proxy's Retry-After: that long.
        const hold = asked ?? nextTokenMs;
        await empty(hold);
        if (closed) throw closedError(path);
        if (waited + hold > budget) {
          counts.rateLimited[priority] += 1;
          throw new ListingSourceError('rate-limited', `Twenty API rate limit (429) on GET /rest/${path}`, { retryAfterSeconds: seconds(hold) });
        }
      }
    },

    stats() {
      const tokens = tokensAt(bucket, now(), limits);
      const round = (n: number) => Math.floor(n * 10) / 10;
      return {
        mode: mode(),
        limits: { ...limits, backgroundReserve: reserve },
        tokens: { perSecond: round(tokens.perSecond), perMinute: round(tokens.perMinute) },
        waiting: { page: queues.page.length, background: queues.background.length },
        calls: { ...counts.calls },
        waits: { ...counts.waits },
        waitedMs: { page: Math.round(counts.waitedMs.page), background: Math.round(counts.waitedMs.background) },
        rateLimited: { ...counts.rateLimited },
        twenty429s: counts.twenty429s,
        redisFallbacks: counts.redisFallbacks,
      };
    },

    close() {
      if (closed) return;
      closed = true;
      clearTimer();
      for (const waiter of [...queues.page, ...queues.background]) {
        remove(waiter);
        waiter.reject(closedError(waiter.path));
      }
    },
  };
}
