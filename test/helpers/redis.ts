import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import RedisMock from 'ioredis-mock';

export * from '../../tools/redis-processes';

export function realRedisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** A key prefix no other run or test file shares, so runs on one Redis never collide. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** A plain client for assertions and clean-up (not the app's own). */
export function inspectionClient(url = realRedisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, disconnectTimeout: 100 });
}

/** Every key under a prefix, sorted, found with SCAN (never KEYS, even in tests: the Redis is shared). */
export async function listKeys(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

let mockInstances = 0;

/**
 * An ioredis-mock client with data of its own (instances on one host:port share data), and
 * the connection state a connected ioredis client reports (the mock has none).
 */
export function createMockRedis(): Redis {
  mockInstances += 1;
  const mock = new RedisMock({ port: 20_000 + mockInstances }) as unknown as Redis;
  Object.defineProperty(mock, 'status', { value: 'ready', writable: true });
  return mock;
}
