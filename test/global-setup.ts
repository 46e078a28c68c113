import { spawn } from 'node:child_process';
import Redis from 'ioredis';
import { freePort } from './helpers/redis';

const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null, disconnectTimeout: 100 });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Integration suites run against REDIS_URL (default: the machine's Redis on 6379). With none
 * there and no REDIS_URL set, start a private redis-server for this run; workers inherit the URL.
 */
export default async function globalSetup(): Promise<void> {
  const url = process.env.REDIS_URL || SHARED_REDIS_URL;
  if (await answers(url)) {
    process.env.REDIS_URL = url;
    return;
  }
  if (process.env.REDIS_URL) throw new Error(`The integration tests need the Redis server at REDIS_URL=${url}, and it does not answer`);
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  child.on('error', () => undefined);
  const privateUrl = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 50 && !(await answers(privateUrl)); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  if (!(await answers(privateUrl))) {
    child.kill('SIGKILL');
    throw new Error(`No Redis answers at ${url} and redis-server could not be started (apt-get install redis-server)`);
  }
  process.env.REDIS_URL = privateUrl;
  (globalThis as { privateRedisPid?: number }).privateRedisPid = child.pid;
}
