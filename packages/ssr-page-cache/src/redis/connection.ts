import type { Cluster, Redis } from 'ioredis';

/** The connection the host hands the cache: one Redis (direct or through Sentinel) or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster === true;
}

/** The client's own key prefix (ioredis adds it to command keys, not to SCAN patterns or results). */
export function clientKeyPrefix(client: RedisClient): string {
  return (client.options as { keyPrefix?: string }).keyPrefix ?? '';
}

/** Every master of a cluster, or the one server. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}
