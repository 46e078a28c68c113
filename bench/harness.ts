import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type Redis from 'ioredis';
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

export function startServer(scenario: ServerSpec, port: number, keyPrefix: string): Promise<ChildProcess> {
  const child = fork(path.join(__dirname, 'servers', scenario.script), [], {
    execArgv: ['--import', 'tsx'],
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
