import Redis from 'ioredis';
import { realRedisUrl } from './helpers/redis';

/** Integration suites need the shared Redis; say so plainly instead of failing test by test. */
export default async function globalSetup(): Promise<void> {
  const client = new Redis(realRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`The integration tests need a Redis server at ${realRedisUrl()} (set REDIS_URL): ${(error as Error).message}`);
  } finally {
    client.disconnect();
  }
}
