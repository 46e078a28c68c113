import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import RedisMock from 'ioredis-mock';

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

/** Removes every key under a prefix with SCAN + UNLINK (never FLUSH: the Redis is shared). */
export async function removeKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Kills a redis-server (or Sentinel) the test started, frozen or not, and waits for it to exit. */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGKILL');
  await exited;
}

/** A private redis-server on a free loopback port, for tests that stop, freeze or fill Redis. */
export interface PrivateRedis extends Freezable {
  port: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Something the tests can SIGSTOP and SIGCONT: a private redis-server or a whole cluster. */
export interface Freezable {
  freeze(): void;
  thaw(): void;
}

/**
 * Freezes now and thaws after `ms`, on a timer of this event loop. An answer that waited for
 * Redis to come back arrives after the thaw; one bounded by the command timeout arrives before
 * it. A stall of a busy machine delays the thaw and the answers alike, so unlike a wall-clock
 * bound this does not flake. `end()` thaws at once if the timer has not (call it in finally).
 */
export function freezeFor(target: Freezable, ms: number): { readonly thawed: boolean; end(): void } {
  let thawed = false;
  const thaw = () => {
    if (thawed) return;
    thawed = true;
    target.thaw();
  };
  target.freeze();
  const timer = setTimeout(thaw, ms);
  return {
    get thawed() {
      return thawed;
    },
    end() {
      clearTimeout(timer);
      thaw();
    },
  };
}

export function redisBinary(name: 'redis-server' | 'redis-cli'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${name} is not installed (apt-get install redis-server redis-tools); .ci/run installs it`);
  return found;
}

export async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, disconnectTimeout: 100 });
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`private redis-server did not answer at ${url}: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
}

export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const binary = redisBinary('redis-server');
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs];
  const handle: PrivateRedis = {
    port,
    url,
    process: undefined as unknown as ChildProcess,
    async start() {
      handle.process = spawn(binary, args, { stdio: 'ignore' });
      await waitForPing(url, 5000);
    },
    stop: () => killProcess(handle.process),
    freeze() {
      handle.process.kill('SIGSTOP');
    },
    thaw() {
      handle.process.kill('SIGCONT');
    },
  };
  await handle.start();
  return handle;
}
