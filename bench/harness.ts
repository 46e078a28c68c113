import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type Redis from 'ioredis';
import { compileOnce } from '../tools/tsc-build';
import { BENCH_PUBLIC_URL } from './servers/page';

export const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
export const BOT_ENCODINGS = 'gzip, deflate, br';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every key a bench run writes is under bench:{RUN_ID}: and removed at the end. */
export const RUN_ID = randomBytes(4).toString('hex');

/** A server process for one scenario: a script in bench/servers and its environment. */
export interface ServerSpec {
  name: string;
  script: string;
  env?: Record<string, string>;
}

/**
 * CPU pinning (`BENCH_PIN`, on by default where `taskset` and two cores exist; `off` turns it
 * off): the bench process, autocannon with it, on core 0, every server and proxy on core 1. On a
 * small machine the load generator and the server otherwise take turns on the same cores, and
 * one run of the same server varied by up to a fifth.
 */
export const PINNING = pinning();

function pinning(): { bench: string; server: string } | undefined {
  const setting = process.env.BENCH_PIN ?? 'on';
  if (setting !== 'on' && setting !== 'off') throw new Error(`BENCH_PIN must be on or off (got ${setting})`);
  if (setting === 'off' || os.cpus().length < 2) return undefined;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { bench: '0', server: '1' };
}

/** Pins this process (all its threads) to the bench's core; once, before any load runs. */
export function pinBenchProcess(): void {
  if (PINNING) execFileSync('taskset', ['-a', '-p', '-c', PINNING.bench, String(process.pid)], { stdio: 'ignore' });
}

/** The command and arguments that start a server binary on the servers' core. */
export function pinnedCommand(binary: string, args: string[]): [string, string[]] {
  return PINNING ? ['taskset', ['-c', PINNING.server, binary, ...args]] : [binary, args];
}

/**
 * Every server runs as `npm start` runs ours: JavaScript compiled by tsc, no loader in the
 * process. Under tsx every Node server here, the raw ones too, answered about half as many
 * requests a second (and esbuild's keepNames wraps closures made per request in `__name`
 * calls). Compiled once per bench process.
 */
function compiledServer(script: string): string {
  return path.join(compileOnce('tsconfig.bench.json'), 'bench', 'servers', script.replace(/\.ts$/, '.js'));
}

export function startServer(scenario: ServerSpec, port: number, keyPrefix: string): Promise<ChildProcess> {
  // Through taskset when pinned: it execs node in place (same pid, the IPC channel inherited).
  const [execPath, execArgv] = pinnedCommand(process.execPath, []);
  const child = fork(compiledServer(scenario.script), [], {
    execPath,
    execArgv,
    env: {
      PATH: process.env.PATH ?? '',
      BENCH_PORT: String(port),
      REDIS_URL,
      REDIS_KEY_PREFIX: keyPrefix,
      PUBLIC_URL: BENCH_PUBLIC_URL,
      LOG_LEVEL: 'warn',
      // As `npm start` runs every server: React's production build.
      NODE_ENV: 'production',
      // The bench measures render throughput and hit rates with every page rendered when asked;
      // the render budget (a guard against floods of unknown URLs) has its own test.
      SSR_RENDER_BUDGET_PER_SECOND: '0',
      ...scenario.env,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${scenario.name}: server did not start in 60 s`)), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${scenario.name}: server exited with ${code}`)));
  });
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

// Tools shared with the tests: a free loopback port, SCAN + UNLINK of one prefix (never FLUSH), and a
// private redis-server to kill and freeze.
export { freePort, removeKeys, startPrivateRedis } from '../tools/redis-processes';

/** Redis MEMORY USAGE of every key under a prefix: in all, and of the pages (`ssr:` keys) alone. */
export async function keyMemory(redis: Redis, prefix: string): Promise<{ keys: number; bytes: number; pages: number; pageBytes: number }> {
  let cursor = '0';
  const totals = { keys: 0, bytes: 0, pages: 0, pageBytes: 0 };
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of found) {
      const bytes = Number(await redis.memory('USAGE', key));
      totals.keys += 1;
      totals.bytes += bytes;
      if (key.startsWith(`${prefix}ssr:`)) {
        totals.pages += 1;
        totals.pageBytes += bytes;
      }
    }
  } while (cursor !== '0');
  return totals;
}
