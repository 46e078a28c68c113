import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { connect, type Socket } from 'node:net';
import { probe, type Latencies, type ProbeLatencies } from './health-probe';

/**
 * Hostile clients against a running server, and what a well-behaved client sees meanwhile:
 * slow-header sockets (a header line that never ends), slow-body sockets (a signed-looking
 * webhook whose body trickles in), and pipeliners (many GETs written at once, answers never
 * read). Used by test/integration/slow-clients.test.ts, which checks the bounds.
 */
export interface SlowClientsOptions {
  baseUrl: string;
  slowHeaders: number;
  slowBodies: number;
  pipeliners: number;
  /** Requests each pipeliner writes at once. */
  pipelined: number;
  /** Path the pipeliners ask for (a large page: the sitemap). */
  pipelinePath: string;
  durationMs: number;
  /** How often /health is asked meanwhile. */
  probeEveryMs?: number;
}

export interface ProbeSummary {
  requests: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface SlowClientsReport {
  /** /health asked on a new connection each time: it waits behind the hostile connections still to be accepted. */
  health: ProbeSummary;
  /** /health asked on one kept-alive connection: what a connected client sees while the server works. */
  healthKeptAlive: ProbeSummary;
  /**
   * When the server closed each kind of socket, ms after it was opened (open at the end: not
   * closed). Pipeliners are paused, so they learn of it only when they read at the end.
   */
  closedAfterMs: { slowHeaders: Summary; slowBodies: Summary; pipeliners: Summary };
  /** Bytes of answers each pipeliner found waiting when it finally read (its 200 pages would be far more). */
  pipelinerBytesRead: { p50: number; max: number };
  /** Sockets the server refused or closed at once (over the connection cap). */
  refusedAtOnce: number;
  rssBeforeBytes: number | undefined;
  rssAfterBytes: number | undefined;
}

export interface Summary {
  closed: number;
  stillOpen: number;
  p50Ms: number | null;
  maxMs: number | null;
}

function summary(values: (number | undefined)[]): Summary {
  const closed = values.filter((value): value is number => value !== undefined).sort((a, b) => a - b);
  const at = (share: number) => (closed.length === 0 ? null : (closed[Math.min(closed.length - 1, Math.floor(share * closed.length))] as number));
  return { closed: closed.length, stillOpen: values.length - closed.length, p50Ms: at(0.5), maxMs: closed.length === 0 ? null : (closed.at(-1) as number) };
}

function percentile(sorted: number[], share: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] as number);
}

interface Tracked {
  socket: Socket;
  closedAfterMs: number | undefined;
  timer?: NodeJS.Timeout;
}

function open(baseUrl: string, onConnect: (socket: Socket) => void, everyMs?: number, drip?: (socket: Socket) => void): Tracked {
  const { hostname, port } = new URL(baseUrl);
  const openedAt = Date.now();
  const socket = connect(Number(port), hostname);
  const tracked: Tracked = { socket, closedAfterMs: undefined };
  socket.on('connect', () => {
    onConnect(socket);
    if (everyMs && drip) tracked.timer = setInterval(() => drip(socket), everyMs);
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    tracked.closedAfterMs = Date.now() - openedAt;
    clearInterval(tracked.timer);
  });
  return tracked;
}

/** tools/health-probe.ts in a child process: resolves once it probes; `done` gives its latencies. */
function startProber(baseUrl: string, durationMs: number, everyMs: number): Promise<{ done: Promise<ProbeLatencies> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'health-probe.ts'), baseUrl, String(durationMs), String(everyMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  return new Promise((resolveStarted, rejectStarted) => {
    const done = new Promise<ProbeLatencies>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        const last = output.trim().split('\n').at(-1) ?? '';
        if (code === 0) resolve(JSON.parse(last) as ProbeLatencies);
        else reject(new Error(`health probe exited with ${code}: ${output}`));
      });
    });
    done.catch(rejectStarted);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.startsWith('probing\n')) resolveStarted({ done });
    });
  });
}

async function rss(baseUrl: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    const match = /^process_resident_memory_bytes (\d+)/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function runSlowClients(options: SlowClientsOptions): Promise<SlowClientsReport> {
  const { baseUrl } = options;
  // Warm: the page the pipeliners ask for is cached and the code paths compiled, so what is
  // measured is the attack, not a cold start.
  for (let i = 0; i < 3; i += 1) {
    await (await fetch(`${baseUrl}${options.pipelinePath}`, { headers: { 'User-Agent': 'Mozilla/5.0 (compatible; Googlebot/2.1)' } })).arrayBuffer();
    await probe(baseUrl);
  }
  const rssBeforeBytes = await rss(baseUrl);
  // The probes run in a process of their own (in this one they would wait on the events of its
  // 450 sockets too), started before the attack.
  const prober = await startProber(baseUrl, options.durationMs, options.probeEveryMs ?? 100);
  const host = new URL(baseUrl).host;
  const slowHeaders = Array.from({ length: options.slowHeaders }, () =>
    open(
      baseUrl,
      (socket) => socket.write(`GET /health HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `),
      1000,
      (socket) => socket.write('a'),
    ),
  );
  const slowBodies = Array.from({ length: options.slowBodies }, () =>
    open(
      baseUrl,
      (socket) =>
        socket.write(
          [
            'POST /api/cache/invalidate HTTP/1.1',
            `Host: ${host}`,
            'Content-Type: application/json',
            'Content-Length: 100000',
            `X-Twenty-Webhook-Timestamp: ${Date.now()}`,
            `X-Twenty-Webhook-Nonce: ${randomBytes(8).toString('hex')}`,
            `X-Twenty-Webhook-Signature: ${randomBytes(32).toString('hex')}`,
            '',
            '{"eventName":',
          ].join('\r\n'),
        ),
      1000,
      (socket) => socket.write(' '),
    ),
  );
  const pipelineRequest = `GET ${options.pipelinePath} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)\r\n\r\n`;
  const pipeliners = Array.from({ length: options.pipeliners }, () =>
    open(baseUrl, (socket) => {
      // Never read: answers pile up unless the server stops.
      socket.pause();
      socket.write(pipelineRequest.repeat(options.pipelined));
    }),
  );

  const pipelinerBytes = pipeliners.map(() => 0);
  const { fresh, keptAlive } = await prober.done;
  const rssAfterBytes = await rss(baseUrl);
  // A paused socket hears nothing of its end: read what the server left, and see it end (cut off) or not.
  await Promise.all(
    pipeliners.map(
      (tracked, index) =>
        new Promise<void>((resolve) => {
          if (tracked.closedAfterMs !== undefined) return resolve();
          const timer = setTimeout(resolve, 2000);
          tracked.socket.on('data', (chunk: Buffer) => (pipelinerBytes[index]! += chunk.length));
          tracked.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          tracked.socket.resume();
        }),
    ),
  );
  const all = [...slowHeaders, ...slowBodies, ...pipeliners];
  const refusedAtOnce = all.filter((tracked) => tracked.closedAfterMs !== undefined && tracked.closedAfterMs < 50).length;
  for (const tracked of all) {
    clearInterval(tracked.timer);
    tracked.socket.destroy();
  }
  const round = (ms: number) => Math.round(ms * 10) / 10;
  const summarise = ({ latencies, failed }: Latencies): ProbeSummary => {
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length + failed,
      failed,
      p50Ms: round(percentile(latencies, 0.5)),
      p99Ms: round(percentile(latencies, 0.99)),
      maxMs: round(latencies.at(-1) ?? 0),
    };
  };
  return {
    health: summarise(fresh),
    healthKeptAlive: summarise(keptAlive),
    closedAfterMs: {
      slowHeaders: summary(slowHeaders.map((tracked) => tracked.closedAfterMs)),
      slowBodies: summary(slowBodies.map((tracked) => tracked.closedAfterMs)),
      pipeliners: summary(pipeliners.map((tracked) => tracked.closedAfterMs)),
    },
    pipelinerBytesRead: {
      p50: percentile(
        [...pipelinerBytes].sort((a, b) => a - b),
        0.5,
      ),
      max: Math.max(0, ...pipelinerBytes),
    },
    refusedAtOnce,
    rssBeforeBytes,
    rssAfterBytes,
  };
}
