import { Agent, request as httpRequest } from 'node:http';

/** One request of a steady load: when it was sent and answered, and what came back. */
export interface LoadRecord {
  path: string;
  sentAt: number;
  answeredAt: number;
  status: number;
  xCache: string | undefined;
  /** Where a HIT came from (its Server-Timing): `redis`, `memory`, or `coalesced` (another request's render). */
  tier?: string;
  /** The server's cache lookup time (the `dur` of its Server-Timing), in ms: the time it waited on Redis. */
  lookupMs?: number;
  /** The body is a whole page: starts with the doctype and ends with </html>. */
  complete: boolean;
  /** A connection error or a reset, instead of an answer. */
  error?: string;
}

/**
 * A HIT read from Redis. A request that waited for another's render is a HIT too (`coalesced`),
 * and those go on while Redis is down, so they say nothing of Redis.
 */
export function isRedisHit(record: LoadRecord): boolean {
  return record.xCache === 'HIT' && record.tier === 'redis';
}

/** Something a load can kill and start again: a private redis-server. */
export interface Restartable {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Load events that kill `target` at `killAtMs` and start it again at `restartAtMs`, and the
 * times they did (`restarting` when the start began, `restarted` once it answers).
 */
export function killAndRestart(target: Restartable, killAtMs: number, restartAtMs: number) {
  const at = { killed: 0, restarting: 0, restarted: 0 };
  const events: LoadEvent[] = [
    {
      atMs: killAtMs,
      run: () => {
        at.killed = Date.now();
        return target.stop();
      },
    },
    {
      atMs: restartAtMs,
      run: async () => {
        at.restarting = Date.now();
        await target.start();
        at.restarted = Date.now();
      },
    },
  ];
  return { at, events };
}

/** Called once at its offset (ms from the start), while the load runs. */
export interface LoadEvent {
  atMs: number;
  run(): Promise<void> | void;
}

export interface SteadyLoadOptions {
  baseUrl: string;
  paths: readonly string[];
  ratePerSecond: number;
  durationMs: number;
  headers: Record<string, string>;
  events?: LoadEvent[];
}

const TICK_MS = 10;

function send(agent: Agent, baseUrl: string, path: string, headers: Record<string, string>): Promise<LoadRecord> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const done = (record: Omit<LoadRecord, 'path' | 'sentAt' | 'answeredAt'>) => resolve({ path, sentAt, answeredAt: Date.now(), ...record });
    const req = httpRequest(`${baseUrl}${path}`, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const xCache = res.headers['x-cache'];
        const timing = /desc="\w+(?: (\w+))?";dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
        done({
          status: res.statusCode ?? 0,
          xCache: typeof xCache === 'string' ? xCache : undefined,
          tier: timing?.[1],
          lookupMs: timing ? Number(timing[2]) : undefined,
          complete: body.startsWith('<!DOCTYPE html>') && body.trimEnd().endsWith('</html>'),
        });
      });
      res.on('error', (error) => done({ status: 0, xCache: undefined, complete: false, error: error.message }));
    });
    req.on('error', (error) => done({ status: 0, xCache: undefined, complete: false, error: error.message }));
    req.end();
  });
}

/**
 * Sends `ratePerSecond` requests a second, spread over ticks of 10 ms and cycling through the
 * paths, for `durationMs`, whatever the answers take (an open-loop load, as crawlers send it).
 * Runs the events at their offsets and returns every request's record once all are answered.
 */
export async function steadyLoad(options: SteadyLoadOptions): Promise<{ records: LoadRecord[]; startedAt: number }> {
  // Idle sockets are dropped after 2 s, before the server's keep-alive timeout (5 s) closes
  // them under a request: that race is the client's to avoid, as a crawler's HTTP stack does.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 2000 });
  const pending: Promise<LoadRecord>[] = [];
  const events = [...(options.events ?? [])].sort((a, b) => a.atMs - b.atMs);
  const eventRuns: Promise<void>[] = [];
  const startedAt = Date.now();
  let sent = 0;
  try {
    for (;;) {
      const elapsed = Date.now() - startedAt;
      if (elapsed >= options.durationMs) break;
      while (events.length > 0 && events[0]!.atMs <= elapsed) eventRuns.push(Promise.resolve(events.shift()!.run()));
      const due = Math.floor((elapsed * options.ratePerSecond) / 1000);
      for (; sent < due; sent += 1) pending.push(send(agent, options.baseUrl, options.paths[sent % options.paths.length]!, options.headers));
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    await Promise.all(eventRuns);
    return { records: await Promise.all(pending), startedAt };
  } finally {
    agent.destroy();
  }
}
