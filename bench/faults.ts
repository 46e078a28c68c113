import { isRedisHit, killAndRestart, steadyLoad, type LoadRecord } from '../tools/steady-load';
import { freePort, GOOGLEBOT, RUN_ID, startPrivateRedis, startServer, stopServer } from './harness';
import { round } from './load';

/**
 * Redis faults under a steady open-loop bot load, timed: the fault suite (test/fault) checks
 * the behaviour, this measures it. Our server in its own process, on a private redis-server the
 * bench kills, restarts, freezes and thaws; the in-process tier is off, so every hit is a Redis
 * read and every fault is on the request's path.
 */
const COMMAND_TIMEOUT_MS = 200;
const BREAKER_THRESHOLD = 5;
const BREAKER_COOLDOWN_MS = 500;
const RATE = Number(process.env.BENCH_FAULT_RATE ?? 300);
const PATHS = ['/', '/listings', '/listings?page=2', ...Array.from({ length: 27 }, (_, index) => `/listings/${index + 1}`)];
const HEADERS = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'identity' };

export interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface FaultReport {
  settings: { ratePerSecond: number; paths: number; commandTimeoutMs: number; breakerThreshold: number; breakerCooldownMs: number };
  kill: {
    requests: number;
    non2xx: number;
    incomplete: number;
    hitPercentBeforeKill: number;
    /** Answers to requests sent while Redis was down. */
    whileDown: Latency;
    firstHitAfterRestartMs: number | null;
    hitPercentLastSecond: number;
  };
  freeze: {
    freezeMs: number;
    requests: number;
    non2xx: number;
    incomplete: number;
    /** Answers to requests sent while Redis was frozen. */
    whileFrozen: Latency;
    /** Of those, the ones whose lookup waited on Redis (the command timeout) before rendering. */
    waitedOnRedis: number;
    maxLookupMs: number;
    /** Of those, the ones the open breaker sent straight to a render: what a render costs under this load. */
    renderThrough: Latency;
    breakerOpens: number;
    rejectedCommands: number;
    firstHitAfterThawMs: number | null;
  };
}

function latency(records: LoadRecord[]): Latency {
  const sorted = records.map((record) => record.answeredAt - record.sentAt).sort((a, b) => a - b);
  const at = (fraction: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!);
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

const isOk = (record: LoadRecord) => record.status >= 200 && record.status < 300;
const hitPercent = (records: LoadRecord[]) => round((records.filter(isRedisHit).length / Math.max(1, records.length)) * 100, 1);
const sentBetween = (records: LoadRecord[], from: number, to: number) => records.filter((record) => record.sentAt >= from && record.sentAt < to);
const firstHitAfter = (records: LoadRecord[], at: number) => {
  const hit = records.find((record) => record.sentAt >= at && isRedisHit(record));
  return hit ? hit.answeredAt - at : null;
};

export async function runFaults(progress: (line: string) => void): Promise<FaultReport> {
  const redis = await startPrivateRedis();
  const port = await freePort();
  const env = {
    REDIS_URL: redis.url,
    REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    REDIS_BREAKER_THRESHOLD: String(BREAKER_THRESHOLD),
    REDIS_BREAKER_COOLDOWN_MS: String(BREAKER_COOLDOWN_MS),
    SSR_CACHE_MEMORY_MB: '0',
  };
  const child = await startServer({ name: 'faults', script: 'ours.ts', env }, port, `bench:${RUN_ID}:faults:`);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    // Redis killed (SIGKILL) at 3 s and started again at 6 s of a 10 s load.
    progress('faults: Redis killed and restarted... ');
    const { at, events } = killAndRestart(redis, 3000, 6000);
    const killRun = await steadyLoad({ baseUrl, paths: PATHS, ratePerSecond: RATE, durationMs: 10_000, headers: HEADERS, events });
    const kill: FaultReport['kill'] = {
      requests: killRun.records.length,
      non2xx: killRun.records.filter((record) => !isOk(record)).length,
      incomplete: killRun.records.filter((record) => !record.complete).length,
      hitPercentBeforeKill: hitPercent(sentBetween(killRun.records, killRun.startedAt, at.killed)),
      whileDown: latency(sentBetween(killRun.records, at.killed, at.restarted)),
      firstHitAfterRestartMs: firstHitAfter(killRun.records, at.restarted),
      hitPercentLastSecond: hitPercent(sentBetween(killRun.records, killRun.startedAt + 9000, Infinity)),
    };
    progress(`first Redis HIT ${kill.firstHitAfterRestartMs} ms after the restart\n`);

    // Redis frozen (SIGSTOP) from 2 s to 4 s of a 6 s load; the cache is warm again by then.
    progress('faults: Redis frozen and thawed... ');
    let frozenAt = 0;
    let thawedAt = 0;
    let breaker = { opens: 0, rejectedCommands: 0 };
    const freezeRun = await steadyLoad({
      baseUrl,
      paths: PATHS,
      ratePerSecond: RATE,
      durationMs: 6000,
      headers: HEADERS,
      events: [
        {
          atMs: 2000,
          run: () => {
            frozenAt = Date.now();
            redis.freeze();
          },
        },
        {
          atMs: 4000,
          run: async () => {
            const health = (await (await fetch(`${baseUrl}/health`)).json()) as { redis: { breaker: typeof breaker } };
            breaker = health.redis.breaker;
            thawedAt = Date.now();
            redis.thaw();
          },
        },
      ],
    });
    const frozen = sentBetween(freezeRun.records, frozenAt, thawedAt);
    const waited = frozen.filter((record) => (record.lookupMs ?? 0) >= COMMAND_TIMEOUT_MS / 2);
    const freeze: FaultReport['freeze'] = {
      freezeMs: thawedAt - frozenAt,
      requests: freezeRun.records.length,
      non2xx: freezeRun.records.filter((record) => !isOk(record)).length,
      incomplete: freezeRun.records.filter((record) => !record.complete).length,
      whileFrozen: latency(frozen),
      waitedOnRedis: waited.length,
      maxLookupMs: Math.max(0, ...frozen.map((record) => record.lookupMs ?? 0)),
      renderThrough: latency(frozen.filter((record) => record.xCache === 'MISS' && (record.lookupMs ?? Infinity) < 1)),
      breakerOpens: breaker.opens,
      rejectedCommands: breaker.rejectedCommands,
      firstHitAfterThawMs: firstHitAfter(freezeRun.records, thawedAt),
    };
    progress(`slowest answer while frozen ${freeze.whileFrozen.max} ms\n`);
    return {
      settings: {
        ratePerSecond: RATE,
        paths: PATHS.length,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        breakerThreshold: BREAKER_THRESHOLD,
        breakerCooldownMs: BREAKER_COOLDOWN_MS,
      },
      kill,
      freeze,
    };
  } finally {
    await stopServer(child);
    await redis.stop();
  }
}
