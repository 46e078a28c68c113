import type { RedisTier } from '../redis/redis-tier';
import type { RedisClient } from '../redis/connection';

/**
 * Takes the lock unless it is held. A value there that cannot be a lock (another type, or a
 * string without a TTL, which no lock of ours ever is) is garbage: removed, counted, and the
 * lock taken, so a foreign value never makes every request for the page wait.
 * KEYS: the lock. ARGV: token, ttl ms. Returns {taken (1/0), garbage removed (1/0)}.
 */
const ACQUIRE = `local garbage = 0
local found = redis.call('TYPE', KEYS[1]).ok
if found ~= 'none' and (found ~= 'string' or redis.call('PTTL', KEYS[1]) < 0) then
  redis.call('UNLINK', KEYS[1])
  garbage = 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {1, garbage} end
return {0, garbage}`;

/** Deletes the lock only while it still holds the owner's token (an expired lock may be someone else's now). */
const RELEASE_IF_OWNER = `if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface RenderLockOptions {
  redis: RedisClient;
  /** Commands go through it: bounded by the command timeout, refused while the breaker is open. */
  cache: RedisTier;
  keyPrefix: string;
  /** A lock whose owner died expires after this long. */
  ttlMs: number;
}

/**
 * One render per page across instances: a short Redis lock per cache key (`SET NX PX` with a
 * random token). When Redis cannot answer, the lock is granted: rendering beats waiting.
 */
export class RenderLock {
  constructor(private readonly options: RenderLockOptions) {}

  private lockKey(cacheKey: string): string {
    return `${this.options.keyPrefix}ssr-lock:${cacheKey}`;
  }

  /**
   * `held`: another holds it (wait for its page). `taken`: ours, release it. `granted`: Redis was
   * not asked (it just failed, or is failing: rendering beats timing out a second time), nothing
   * to release. A command sent but not answered in time may still run (queued in a pause): it is
   * `taken`, and released.
   */
  async acquire(cacheKey: string, token: string): Promise<'taken' | 'granted' | 'held'> {
    const { redis, cache, ttlMs } = this.options;
    if (!cache.isHealthy()) return 'granted';
    const answer = await cache.call(
      'lock',
      cacheKey,
      undefined,
      () => redis.eval(ACQUIRE, 1, this.lockKey(cacheKey), token, ttlMs) as Promise<[number, number]>,
    );
    if (answer === undefined) return 'taken';
    cache.noteGarbage('lock', answer[1], cacheKey);
    return answer[0] === 1 ? 'taken' : 'held';
  }

  /**
   * Always attempted while connected, even with the breaker open: the lock may have been taken by
   * a command that timed out here but ran in Redis (queued in a CLIENT PAUSE, say), and on the
   * same connection the release runs after it. Bounded by the command timeout; a release that
   * still fails is left to the lock's TTL.
   */
  async release(cacheKey: string, token: string): Promise<void> {
    const { redis, cache } = this.options;
    await cache.attempt('unlock', cacheKey, undefined, () => redis.eval(RELEASE_IF_OWNER, 1, this.lockKey(cacheKey), token));
  }
}
