import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { HostPort, RedisConfig } from '../config';
import type { Logger } from './logger';

export type { Redis, Cluster };
import type { RedisClient } from 'ssr-page-cache';
export type { RedisClient };

/**
 * Reconnection backoff cap: a Redis that comes back is found within about 0.6 s (pages HIT
 * again well inside 2 s); a refused connect costs nothing, so two attempts a second are cheap.
 */
const RECONNECT_MAX_DELAY_MS = 500;
const COMMAND_TIMEOUT_BACKSTOP_MS = 1000;

function reconnectDelay(attempt: number): number {
  // Exponential backoff with jitter, capped, so many instances do not reconnect in lockstep.
  return Math.min(50 * 2 ** Math.min(attempt, 6), RECONNECT_MAX_DELAY_MS) + Math.floor(Math.random() * 100);
}

/**
 * A cache must fail fast: no offline queue (commands fail at once while disconnected), no
 * retries of a command, a short command timeout, and reconnection in the background.
 */
export function failFastOptions(config: Pick<RedisConfig, 'commandTimeoutMs' | 'connectTimeoutMs'>): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // The cache bounds each command itself, from its call (withDeadline in the engine's redis-tier.ts), in
    // a way a busy event loop cannot trip. ioredis' own timer fires in the timers phase, before a
    // reply already in the socket is read: it stays only as a backstop for the few commands outside
    // the cache manager (INFO for the write budget, SUBSCRIBE), a second past the deadline.
    commandTimeout: config.commandTimeoutMs + COMMAND_TIMEOUT_BACKSTOP_MS,
    connectTimeout: config.connectTimeoutMs,
    // On close, a socket that does not end by itself is destroyed after this long.
    disconnectTimeout: 200,
    enableAutoPipelining: true,
    retryStrategy: reconnectDelay,
  };
}

const hostPorts = (nodes: HostPort[]) => nodes.map(({ host, port }) => `${host}:${port}`).join(',');

export function describeRedisTarget(config: RedisConfig): string {
  if (config.clusterNodes) return `cluster ${hostPorts(config.clusterNodes)}`;
  if (config.sentinels) return `sentinel ${config.sentinelName}@${hostPorts(config.sentinels)}`;
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

/** failFastOptions for each node of a cluster: retries and the offline queue are the Cluster client's own. */
function clusterNodeOptions(config: Pick<RedisConfig, 'commandTimeoutMs' | 'connectTimeoutMs'>): RedisOptions {
  const { retryStrategy: _perNode, enableOfflineQueue: _queue, ...nodeOptions } = failFastOptions(config);
  return nodeOptions;
}

/**
 * The Cluster client, failing as fast: no offline queue, each node connection with the command
 * timeout, slot map refreshed in the background, reconnection with the same capped backoff.
 */
function createClusterClient(config: RedisConfig, nodes: HostPort[]): Cluster {
  return new Cluster(nodes, {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    clusterRetryStrategy: reconnectDelay,
    slotsRefreshTimeout: config.connectTimeoutMs,
    // A MOVED/ASK answer is followed at once; a cluster that is down is not waited for.
    retryDelayOnClusterDown: 0,
    redisOptions: { ...clusterNodeOptions(config), ...(config.password ? { password: config.password } : {}) },
  });
}

export function createRedisClient(config: RedisConfig, logger: Logger): RedisClient {
  const options = failFastOptions(config);
  const password = config.password ? { password: config.password } : {};
  const client = config.clusterNodes
    ? createClusterClient(config, config.clusterNodes)
    : config.sentinels
      ? new Redis({
          ...options,
          ...password,
          sentinels: config.sentinels,
          name: config.sentinelName,
          db: config.db ?? 0,
          sentinelRetryStrategy: reconnectDelay,
        })
      : config.url
        ? new Redis(urlWithDb(config.url, config.db), { ...options, ...password })
        : new Redis({ ...options, ...password, host: config.host, port: config.port, db: config.db ?? 0 });
  logConnectionChanges(client, logger, describeRedisTarget(config));
  return client;
}

/** Logs `connected` / `unavailable` once per change of state, not once per failed attempt. */
export function logConnectionChanges(client: RedisClient, logger: Logger, target: string): void {
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
