import Redis, { type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config';
import type { Logger } from './logger';

export type { Redis };

const RECONNECT_MAX_DELAY_MS = 2000;

/**
 * A cache must fail fast: no offline queue (commands fail at once while disconnected), no
 * retries of a command, a short command timeout, and reconnection in the background.
 */
export function failFastOptions(config: Pick<RedisConfig, 'commandTimeoutMs' | 'connectTimeoutMs'>): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    // On close, a socket that does not end by itself is destroyed after this long.
    disconnectTimeout: 200,
    enableAutoPipelining: true,
    // Exponential backoff with jitter, capped, so many instances do not reconnect in lockstep.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), RECONNECT_MAX_DELAY_MS) + Math.floor(Math.random() * 100),
  };
}

export function describeRedisTarget(config: RedisConfig): string {
  if (config.url) {
    const url = new URL(config.url);
    return `${url.protocol}//${url.hostname}:${url.port || 6379}${url.pathname}`;
  }
  return `redis://${config.host}:${config.port}/${config.db ?? 0}`;
}

/** `REDIS_DB` wins over a database number in `REDIS_URL`, so a Twenty URL can be reused as is. */
function urlWithDb(url: string, db: number | undefined): string {
  if (db === undefined) return url;
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.toString();
}

export function createRedisClient(config: RedisConfig, logger: Logger): Redis {
  const options = failFastOptions(config);
  const client = config.url
    ? new Redis(urlWithDb(config.url, config.db), { ...options, ...(config.password ? { password: config.password } : {}) })
    : new Redis({ ...options, host: config.host, port: config.port, password: config.password, db: config.db ?? 0 });
  logConnectionChanges(client, logger, describeRedisTarget(config));
  return client;
}

export function isFailFast(client: Redis): boolean {
  const { enableOfflineQueue, commandTimeout, maxRetriesPerRequest } = client.options;
  return enableOfflineQueue === false && typeof commandTimeout === 'number' && maxRetriesPerRequest !== null;
}

/**
 * Uses an embedding server's client when it already fails fast; otherwise opens a fail-fast
 * connection of our own to the same server (e.g. Twenty's queue client waits forever).
 */
export function adoptRedisClient(client: Redis, config: RedisConfig, logger: Logger): { client: Redis; owned: boolean } {
  if (isFailFast(client)) return { client, owned: false };
  const own = client.duplicate({ ...failFastOptions(config), keyPrefix: client.options.keyPrefix });
  logger.info({ redis: `${client.options.host}:${client.options.port}` }, 'redis: opened a fail-fast connection beside the given client');
  logConnectionChanges(own, logger, `${client.options.host}:${client.options.port}`);
  return { client: own, owned: true };
}

/** Logs `connected` / `unavailable` once per change of state, not once per failed attempt. */
export function logConnectionChanges(client: Redis, logger: Logger, target: string): void {
  let state: 'unknown' | 'up' | 'down' = 'unknown';
  let lastError: string | undefined;
  client.on('error', (error: Error) => {
    lastError = error.message;
  });
  client.on('ready', () => {
    if (state === 'up') return;
    state = 'up';
    logger.info({ redis: target }, 'redis connected: Redis tier on');
  });
  client.on('close', () => {
    if (state === 'down') return;
    state = 'down';
    logger.warn({ redis: target, err: lastError }, 'redis unavailable: Redis tier off until it reconnects');
  });
}
