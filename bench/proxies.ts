import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, pinnedCommand } from './harness';

/**
 * Private Varnish and nginx proxy_cache instances for the bench: a free loopback port, a working
 * dir of their own under the system temp dir (removed at stop), in the foreground as children
 * of the bench. Never a system service, never port 80 or 6081.
 */
export type ProxyKind = 'varnish' | 'nginx';

export interface RunningProxy {
  port: number;
  pid: number | undefined;
  /** Whether a response's headers say it came from the proxy's cache, and the headers that say so. */
  hit(headers: Headers): { hit: boolean; evidence: string };
  /** How the instance runs, for the results. */
  setup: string;
  stop(): Promise<void>;
}

const BINARIES: Record<ProxyKind, string> = { varnish: 'varnishd', nginx: 'nginx' };
// Both install to sbin, which a user's PATH often leaves out.
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/opt/homebrew/sbin'];

/** The binary a proxy needs, or undefined when it is not installed. */
export function findProxyBinary(kind: ProxyKind): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, BINARIES[kind]);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function proxyBinaryName(kind: ProxyKind): string {
  return BINARIES[kind];
}

// Killed if the bench itself dies before the scenario's finally runs.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function waitForHttp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${child.spawnfile} exited (${child.exitCode ?? child.signalCode}): ${log()}`);
    try {
      const res = await fetch(url, { headers: { 'user-agent': 'ssr-bench-probe' } });
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${child.spawnfile} did not answer in 20 s: ${log()}`);
}

async function stopChild(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  running.delete(child);
  rmSync(dir, { recursive: true, force: true });
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

/** A root-owned temp dir is 0700; a proxy's workers that drop to another user need to enter it. */
function workDir(kind: ProxyKind): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ssr-bench-${kind}-`));
  if (process.getuid?.() === 0) chmodSync(dir, 0o755);
  return dir;
}

export async function startVarnish(binary: string, originPort: number): Promise<RunningProxy> {
  const dir = workDir('varnish');
  const port = await freePort();
  const vcl = path.join(dir, 'bench.vcl');
  // The built-in VCL does the rest (a GET without cookies or Authorization is cached); a TTL
  // longer than the run, since the origin sends no Cache-Control (like our hit).
  writeFileSync(
    vcl,
    ['vcl 4.1;', `backend origin { .host = "127.0.0.1"; .port = "${originPort}"; }`, 'sub vcl_backend_response { set beresp.ttl = 1h; }', ''].join('\n'),
  );
  const logFile = path.join(dir, 'varnishd.log');
  const args = ['-F', '-n', path.join(dir, 'work'), '-a', `127.0.0.1:${port}`, '-T', '127.0.0.1:0', '-f', vcl, '-s', 'malloc,64m'];
  // As root varnishd would drop to the varnish user, which cannot enter this dir: no jail then.
  if (process.getuid?.() === 0) args.push('-j', 'none');
  const child = spawn(...pinnedCommand(binary, args), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitForHttp(`http://127.0.0.1:${port}/varnish-probe`, child, () => output.slice(-2000) || readLog(logFile));
  } catch (error) {
    await stopChild(child, dir);
    throw error;
  }
  return {
    port,
    pid: child.pid,
    setup: `varnishd ${args.join(' ')} (Varnish's defaults: 2 thread pools of 100 to 5,000 worker threads, a worker thread for each connection with a request in progress, on every core it is given)`,
    hit(headers) {
      const xVarnish = headers.get('x-varnish') ?? '';
      const age = headers.get('age') ?? '';
      // A hit names two transactions: this request's and the one that fetched the object.
      return { hit: xVarnish.trim().split(/\s+/).length === 2, evidence: `X-Varnish: ${xVarnish}, Age: ${age}` };
    },
    stop: () => stopChild(child, dir),
  };
}

export async function startNginx(binary: string, originPort: number): Promise<RunningProxy> {
  const dir = workDir('nginx');
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  writeFileSync(
    conf,
    [
      // One worker: one core's worth, as a Node process.
      'worker_processes 1;',
      'daemon off;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      '  sendfile on;',
      '  tcp_nopush on;',
      // Node and Varnish keep a connection open for any number of requests; nginx closes it after 1,000 by default.
      '  keepalive_requests 1000000;',
      `  client_body_temp_path ${path.join(dir, 'client_body')};`,
      `  proxy_temp_path ${path.join(dir, 'proxy_temp')};`,
      `  fastcgi_temp_path ${path.join(dir, 'fastcgi_temp')};`,
      `  uwsgi_temp_path ${path.join(dir, 'uwsgi_temp')};`,
      `  scgi_temp_path ${path.join(dir, 'scgi_temp')};`,
      `  proxy_cache_path ${path.join(dir, 'cache')} levels=1:2 keys_zone=bench:10m max_size=64m inactive=1h use_temp_path=off;`,
      `  upstream origin { server 127.0.0.1:${originPort}; keepalive 16; }`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    location / {',
      '      proxy_pass http://origin;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '      proxy_cache bench;',
      '      proxy_cache_valid 200 1h;',
      '      add_header X-Cache-Status $upstream_cache_status always;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  // -e: the error log of the start-up itself, before the config is read, also in the temp dir.
  const args = ['-p', dir, '-c', conf, '-e', errorLog];
  const child = spawn(...pinnedCommand(binary, args), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitForHttp(`http://127.0.0.1:${port}/nginx-probe`, child, () => `${output.slice(-1000)} ${readLog(errorLog)}`);
  } catch (error) {
    await stopChild(child, dir);
    throw error;
  }
  return {
    port,
    pid: child.pid,
    setup: `nginx ${args.join(' ')}: worker_processes 1, proxy_cache on disk in the temp dir (page cache), sendfile on, keepalive_requests 1000000, access_log off`,
    hit(headers) {
      const status = headers.get('x-cache-status') ?? '';
      return { hit: status === 'HIT', evidence: `X-Cache-Status: ${status}` };
    },
    stop: () => stopChild(child, dir),
  };
}
