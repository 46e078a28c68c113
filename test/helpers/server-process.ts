import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './app';
import { compileOnce } from '../../tools/tsc-build';
import { freePort } from './redis';

const ROOT = path.resolve(__dirname, '../..');

/** Where `compiledServer` puts the server compiled by tsc (under node_modules/.cache: ignored, and node_modules resolve from it). */
const BUILD_DIR = path.join(ROOT, 'node_modules', '.cache', 'ssr-test-build');

/**
 * server/index.ts compiled by tsc, as `npm run build` makes it for `npm start`: a load test of
 * the server measures the server, not tsx (which also turns on source maps, and every error
 * stack then costs a source-map lookup). `npm test` compiles it before jest starts
 * (`npm run build:test`, SSR_TEST_BUILT=1), so no suite's tsc competes for the CPU with the
 * others; a test file run on its own compiles it here, once (about 10 s).
 */
export function compiledServer(): string {
  if (process.env.SSR_TEST_BUILT !== '1') compileOnce('tsconfig.build.json', BUILD_DIR);
  return path.join(BUILD_DIR, 'server', 'index.js');
}

/** Runs server/index.ts as `npm start` would, with only the given environment (`compiled`: the tsc build, else under tsx). */
export function spawnServer(env: Record<string, string>, options: { compiled?: boolean } = {}): { child: ChildProcess; output: () => string } {
  let output = '';
  const args = options.compiled ? [compiledServer()] : ['--import', 'tsx', 'server/index.ts'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

export interface ServerProcess {
  url: string;
  output(): string;
  /** GET a JSON endpoint of the server (/health). */
  json<T>(path: string): Promise<T>;
  text(path: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The server in a process of its own on a free port, listening: a load test's client then does
 * not share the server's event loop, and NODE_ENV=production renders as `npm start` does.
 */
export async function startServerProcess(env: Record<string, string>, options: { compiled?: boolean } = {}): Promise<ServerProcess> {
  const port = await freePort();
  // A journal of its own, outside the work tree (a test that restarts a process passes the same one).
  const journal = path.join(os.tmpdir(), `ssr-test-journal-${process.pid}-${port}.journal`);
  const { child, output } = spawnServer({ NODE_ENV: 'production', PORT: String(port), SSR_CACHE_JOURNAL: journal, ...env }, options);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    }
    if (env.SSR_CACHE_JOURNAL === undefined) for (const file of [journal, `${journal}.lock`]) fs.rmSync(file, { force: true });
  };
  try {
    // Listening once it answers (whatever LOG_LEVEL says of it).
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output()}`);
      return (await fetch(`${url}/health`).catch(() => undefined))?.ok ? true : undefined;
    }, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    output,
    json: async (path) => (await (await fetch(`${url}${path}`)).json()) as never,
    text: async (path) => (await fetch(`${url}${path}`)).text(),
    stop,
  };
}
