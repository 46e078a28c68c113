import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import Redis from 'ioredis';

// Real Redis processes and key clean-up, shared by the tests and the benchmarks.

/** Removes every key under a prefix with SCAN + UNLINK (never FLUSH: the Redis is shared). */
export async function removeKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
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
      if (Date.now() > deadline) throw new Error(`private redis-server did not answer at ${url}: ${(error as Error).message}`, { cause: error });
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
