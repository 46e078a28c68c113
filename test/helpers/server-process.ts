import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { waitFor } from './app';
import { freePort } from './redis';

const ROOT = path.resolve(__dirname, '../..');

/** Runs server/index.ts as `npm start` would, with only the given environment. */
export function spawnServer(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
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
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const { child, output } = spawnServer({ NODE_ENV: 'production', PORT: String(port), ...env });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = once(child, 'close');
    child.kill('SIGKILL');
    await closed;
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
