import type { Logger } from './logger';
import type { RedisClient } from './redis-client';

/** Deletes the lock only while it still holds the owner's token (an expired lock may be someone else's now). */
const RELEASE_IF_OWNER = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface RenderLockOptions {
  redis: RedisClient;
  logger: Logger;
  keyPrefix: string;
  /** A lock whose owner died expires after this long. */
  ttlMs: number;
  /** False while Redis is failing: the lock is then granted at once instead of timing out too. */
  isHealthy(): boolean;
  /** False while Redis is down or the breaker open: a release is then left to the lock's TTL. */
  isUsable(): boolean;
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

  async acquire(cacheKey: string, token: string): Promise<boolean> {
    const { redis, ttlMs, isHealthy } = this.options;
    if (!isHealthy()) return true;
    try {
      return (await redis.set(this.lockKey(cacheKey), token, 'PX', ttlMs, 'NX')) === 'OK';
    } catch {
      return true;
    }
  }

  async release(cacheKey: string, token: string): Promise<void> {
    const { redis, logger, isUsable } = this.options;
    if (!isUsable()) return;
    try {
      await redis.eval(RELEASE_IF_OWNER, 1, this.lockKey(cacheKey), token);
    } catch (error) {
      // It expires on its own; another instance waits at most its TTL.
      logger.debug({ err: error, key: cacheKey }, 'cache: render lock release failed');
    }
  }
}
