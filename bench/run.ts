import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import Redis from 'ioredis';
import {
  BOT_ENCODINGS,
  freePort,
  GOOGLEBOT,
  keyMemory,
  pinBenchProcess,
  PINNING,
  REDIS_URL,
  removeKeys,
  RUN_ID,
  startServer,
  stopServer,
  type ServerSpec,
} from './harness';
import { runCrawlSimulation, type CrawlReport } from './crawl';
import { runFaults, type FaultReport, type Latency } from './faults';
import { runLoad, round, type LoadResult } from './load';
import { preparePages, type PreparedPages } from './prepared';
import { machineBusySeconds, ownCpuSeconds, processName, treeCpuSeconds } from './process-cpu';
import { findProxyBinary, proxyBinaryName, startNginx, startVarnish, type ProxyKind, type RunningProxy } from './proxies';
import { runTwentyCrawl, type TwentyCrawlReport } from './twenty-crawl';
import { runConsistency, type ConsistencyReport } from './consistency';
import { BENCH_LISTING_ID, benchPageHtml } from './servers/page';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
/** Times every scenario is run (interleaved); each row reports its median round. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_ROUNDS must be a whole number of at least 1 (got ${process.env.BENCH_ROUNDS})`);
const PAGE_PATH = `/listings/${BENCH_LISTING_ID}`;
const RESULTS_DIR = path.join(__dirname, 'results');

interface Scenario extends ServerSpec {
  description: string;
  /** Request the page once before measuring, so every measured request is a hit. */
  warm?: boolean;
  acceptEncoding?: string;
  /** Every request a page never requested before. */
  coldPaths?: boolean;
  /** Sends the representation captured from our memory-tier hit (bench/prepared.ts): br or identity. */
  prepared?: 'br' | 'identity';
  /** The server is the origin; the load goes to this cache in front of it. */
  proxy?: ProxyKind;
  /** The same-bytes raw server this scenario's req/s is compared with. */
  sameBytesAs?: string;
}

const SAME_BR = 'raw-http-prepared';
const SAME_IDENTITY = 'raw-http-prepared-identity';

// Same-bytes pairs run back to back, so a drift of the machine reaches both alike.
const SCENARIOS: Scenario[] = [
  { name: 'raw-http', description: 'raw Node http ending a constant Buffer of the identity page, two headers (the ceiling)', script: 'raw-http.ts' },
  { name: 'express-send', description: 'bare Express 5 res.send of a constant string', script: 'express-send.ts' },
  {
    name: SAME_BR,
    description: 'raw Node http writing the prepared br Buffer and header lines our memory-tier hit sends',
    script: 'raw-prepared.ts',
    prepared: 'br',
    sameBytesAs: SAME_BR,
  },
  { name: 'hit-memory', description: 'our hit, in-process tier (bot Accept-Encoding: br)', script: 'ours.ts', warm: true, sameBytesAs: SAME_BR },
  {
    name: SAME_IDENTITY,
    description: 'raw Node http writing the prepared identity Buffer and header lines our memory-tier identity hit sends',
    script: 'raw-prepared.ts',
    prepared: 'identity',
    acceptEncoding: 'identity',
    sameBytesAs: SAME_IDENTITY,
  },
  {
    name: 'hit-memory-identity',
    description: 'our hit, in-process tier, client accepting no compression',
    script: 'ours.ts',
    warm: true,
    acceptEncoding: 'identity',
    sameBytesAs: SAME_IDENTITY,
  },
  {
    name: 'hit-redis',
    description: 'our hit, Redis only (SSR_CACHE_MEMORY_MB=0)',
    script: 'ours.ts',
    env: { SSR_CACHE_MEMORY_MB: '0' },
    warm: true,
    sameBytesAs: SAME_BR,
  },
  {
    name: 'hit-redis-identity',
    description: 'our hit, Redis only (SSR_CACHE_MEMORY_MB=0), client accepting no compression',
    script: 'ours.ts',
    env: { SSR_CACHE_MEMORY_MB: '0' },
    warm: true,
    acceptEncoding: 'identity',
    sameBytesAs: SAME_IDENTITY,
  },
  {
    name: 'varnish',
    description: 'Varnish hit (malloc storage) in front of the raw server sending the prepared br page',
    script: 'raw-prepared.ts',
    prepared: 'br',
    proxy: 'varnish',
    warm: true,
    sameBytesAs: SAME_BR,
  },
  {
    name: 'nginx-proxy-cache',
    description: 'nginx proxy_cache hit (1 worker) in front of the raw server sending the prepared br page',
    script: 'raw-prepared.ts',
    prepared: 'br',
    proxy: 'nginx',
    warm: true,
    sameBytesAs: SAME_BR,
  },
  { name: 'apicache-plus-redis', description: 'apicache-plus 2 in Redis mode', script: 'apicache.ts', warm: true },
  {
    name: 'miss',
    description: 'our miss: render, compress, store (a new page every request)',
    script: 'ours.ts',
    env: { LISTING_CATALOG_SIZE: '200000' },
    coldPaths: true,
  },
];

/** `npm run bench -- hits`: our hits and every peer they are compared with, nothing else. */
const GROUPS: Record<string, string[]> = {
  hits: [
    'raw-http',
    'express-send',
    SAME_BR,
    'hit-memory',
    SAME_IDENTITY,
    'hit-memory-identity',
    'hit-redis',
    'hit-redis-identity',
    'varnish',
    'nginx-proxy-cache',
  ],
};
const PARTS = ['cold-burst', 'crawl', 'scale', 'twenty-crawl', 'consistency', 'faults'];

interface ScenarioResult extends LoadResult {
  name: string;
  description: string;
  xCache?: string;
  contentEncoding?: string;
  /** Bytes of the body as sent (compressed when encoded). */
  bodyBytes?: number;
  /** The server's CPU (its process and children) during the measured load, in % of one core. */
  serverCpuPercent?: number;
  /** Requests answered for each CPU second the server used: its cost, whether or not autocannon was the limit. */
  requestsPerServerCpuSecond?: number;
  /** The local redis-server during the load, in % of one core. */
  redisCpuPercent?: number;
  /** The bench process (autocannon) during the load, in % of one core. */
  benchCpuPercent?: number;
  /** Every other process of the machine during the load, in % of one core: anything above a few % disturbed the run. */
  otherCpuPercent?: number;
  redisKeyBytes?: { keys: number; bytes: number; pages: number; pageBytes: number };
  sameBytesAs?: string;
  /** req/s of every round, in the order run (the row shows the median round). */
  roundsRequestsPerSecond?: number[];
  /** Requests per server CPU second of every round, in the order run. */
  roundsRequestsPerServerCpuSecond?: (number | undefined)[];
  /** Proxies: how the instance ran, the hit evidence and the requests that reached the origin. */
  proxy?: { setup: string; hitEvidence: string; hit: boolean; originRequestsDuringLoad: number };
}

interface SkippedScenario {
  name: string;
  description: string;
  reason: string;
}

/** Asks a raw-prepared server how many requests it answered. */
function answered(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('origin did not say how many requests it answered')), 5000);
    child.once('message', (message: { answered?: number }) => {
      clearTimeout(timer);
      resolve(message.answered ?? 0);
    });
    child.send('answered');
  });
}

async function runScenario(
  scenario: Scenario,
  redis: Redis,
  prepared: PreparedPages | undefined,
  redisPid: number | undefined,
): Promise<ScenarioResult | SkippedScenario> {
  let proxyBinary: string | undefined;
  if (scenario.proxy) {
    proxyBinary = findProxyBinary(scenario.proxy);
    if (!proxyBinary) {
      const binary = proxyBinaryName(scenario.proxy);
      return { name: scenario.name, description: scenario.description, reason: `${binary} is not installed (not on PATH nor in /usr/sbin, /usr/local/sbin)` };
    }
  }
  const port = await freePort();
  const keyPrefix = `bench:${RUN_ID}:${scenario.name}:`;
  const spec: ServerSpec = scenario.prepared
    ? { ...scenario, env: { ...scenario.env, BENCH_PREPARED_FILE: prepared!.file, BENCH_PREPARED_ENCODING: scenario.prepared } }
    : scenario;
  const child = await startServer(spec, port, keyPrefix);
  let proxy: RunningProxy | undefined;
  const headers = { 'user-agent': GOOGLEBOT, 'accept-encoding': scenario.acceptEncoding ?? BOT_ENCODINGS };
  try {
    if (scenario.proxy === 'varnish') proxy = await startVarnish(proxyBinary!, port);
    if (scenario.proxy === 'nginx') proxy = await startNginx(proxyBinary!, port);
    const base = `http://127.0.0.1:${proxy?.port ?? port}`;
    if (scenario.warm) {
      await (await fetch(`${base}${PAGE_PATH}`, { headers })).arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    let next = 1;
    const coldPath = scenario.coldPaths ? () => `/listings/${next++}` : undefined;
    const originBefore = proxy ? await answered(child) : 0;
    if (WARMUP > 0) await runLoad({ url: `${base}${PAGE_PATH}`, connections: CONNECTIONS, durationSeconds: WARMUP, headers, pathForRequest: coldPath });
    const measuredPid = proxy ? proxy.pid : child.pid;
    const cpuBefore = treeCpuSeconds(measuredPid);
    const machineBefore = machineBusySeconds();
    const redisBefore = treeCpuSeconds(redisPid);
    const ownBefore = ownCpuSeconds();
    const result = await runLoad({ url: `${base}${PAGE_PATH}`, connections: CONNECTIONS, durationSeconds: DURATION, headers, pathForRequest: coldPath });
    const cpuAfter = treeCpuSeconds(measuredPid);
    const machineAfter = machineBusySeconds();
    const redisAfter = treeCpuSeconds(redisPid);
    const redisCpu = redisBefore !== undefined && redisAfter !== undefined ? redisAfter - redisBefore : 0;
    const ownAfter = ownCpuSeconds();
    const percent = (seconds: number) => Math.round((seconds / DURATION) * 100);
    const serverCpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
    const originRequestsDuringLoad = proxy ? (await answered(child)) - originBefore : 0;
    const sample = await fetch(`${base}${coldPath ? coldPath() : PAGE_PATH}`, { headers });
    await sample.arrayBuffer();
    const redisKeyBytes = scenario.warm && !proxy ? await keyMemory(redis, keyPrefix) : undefined;
    const proxyHit = proxy?.hit(sample.headers);
    const length = sample.headers.get('content-length');
    return {
      name: scenario.name,
      description: scenario.description,
      ...result,
      xCache: proxyHit ? (proxyHit.hit && originRequestsDuringLoad === 0 ? 'HIT' : 'not a hit') : (sample.headers.get('x-cache') ?? undefined),
      contentEncoding: sample.headers.get('content-encoding') ?? undefined,
      bodyBytes: length === null ? undefined : Number(length),
      serverCpuPercent: serverCpu === undefined ? undefined : percent(serverCpu),
      requestsPerServerCpuSecond: serverCpu ? Math.round(result.requests / serverCpu) : undefined,
      redisCpuPercent: percent(redisCpu),
      benchCpuPercent: percent(ownAfter - ownBefore),
      otherCpuPercent:
        serverCpu === undefined || machineBefore === undefined || machineAfter === undefined
          ? undefined
          : Math.max(0, percent(machineAfter - machineBefore - serverCpu - redisCpu - (ownAfter - ownBefore))),
      redisKeyBytes,
      sameBytesAs: scenario.sameBytesAs,
      proxy: proxy && proxyHit ? { setup: proxy.setup, hitEvidence: proxyHit.evidence, hit: proxyHit.hit, originRequestsDuringLoad } : undefined,
    };
  } finally {
    await proxy?.stop();
    await stopServer(child);
    await removeKeys(redis, keyPrefix);
  }
}

interface ColdBurstResult {
  instances: number;
  keys: number;
  requestsPerKey: number;
  renders: number;
  rendersPerKey: number;
  non200: number;
  coalesced: number;
  followerLatencyMs: { p50: number; p99: number; max: number };
  leaderLatencyMs: { p50: number; p99: number };
}

const COLD_KEYS = Number(process.env.BENCH_COLD_KEYS ?? 20);
const COLD_REQUESTS_PER_KEY = Number(process.env.BENCH_COLD_REQUESTS ?? 50);

function percentileOf(values: number[], fraction: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number);
}

/**
 * Cold burst: two instances on one Redis, every request for one of M cold pages at once.
 * One render per page cluster-wide means renders / M = 1.0.
 */
async function runColdBurst(redis: Redis): Promise<ColdBurstResult> {
  const keyPrefix = `bench:${RUN_ID}:cold-burst:`;
  const scenario: Scenario = { name: 'cold-burst', description: '', script: 'ours.ts' };
  const ports = [await freePort(), await freePort()];
  const children = await Promise.all(ports.map((port) => startServer(scenario, port, keyPrefix)));
  try {
    const requests = Array.from({ length: COLD_KEYS * COLD_REQUESTS_PER_KEY }, (_, index) => {
      const port = ports[index % ports.length];
      const id = 101 + (index % COLD_KEYS);
      return async () => {
        const started = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/listings/${id}`, { headers: { 'user-agent': GOOGLEBOT, 'accept-encoding': BOT_ENCODINGS } });
        await res.arrayBuffer();
        return { status: res.status, cache: res.headers.get('x-cache'), ms: performance.now() - started };
      };
    });
    const results = await Promise.all(requests.map((send) => send()));
    const renders = (
      await Promise.all(
        ports.map(async (port) => ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { cache: { renders: number } }).cache.renders),
      )
    ).reduce((sum, count) => sum + count, 0);
    const followers = results.filter((result) => result.cache === 'HIT').map((result) => result.ms);
    const leaders = results.filter((result) => result.cache === 'MISS').map((result) => result.ms);
    return {
      instances: ports.length,
      keys: COLD_KEYS,
      requestsPerKey: COLD_REQUESTS_PER_KEY,
      renders,
      rendersPerKey: round(renders / COLD_KEYS, 2),
      non200: results.filter((result) => result.status !== 200).length,
      coalesced: followers.length,
      followerLatencyMs: { p50: percentileOf(followers, 0.5), p99: percentileOf(followers, 0.99), max: percentileOf(followers, 1) },
      leaderLatencyMs: { p50: percentileOf(leaders, 0.5), p99: percentileOf(leaders, 0.99) },
    };
  } finally {
    await Promise.all(children.map(stopServer));
    await removeKeys(redis, keyPrefix);
  }
}

/** µs one brotliDecompressSync of the page takes here (the median of 5 batches of 200). */
function timeBrotliDecode(body: Buffer): number {
  const batches: number[] = [];
  for (let batch = 0; batch < 5; batch++) {
    const started = performance.now();
    for (let i = 0; i < 200; i++) brotliDecompressSync(body);
    batches.push(((performance.now() - started) * 1000) / 200);
  }
  return batches.sort((a, b) => a - b)[2]!;
}

function ratio(value: number, base: number | undefined): number | undefined {
  return base ? round(value / base, 2) : undefined;
}

function markdown(report: Report): string {
  const lines = [
    `# Benchmark results`,
    '',
    `Run ${report.date} on ${report.machine.cpuModel} (${report.machine.cores} cores, ${report.machine.memoryGiB} GiB), Node ${report.machine.node}, Redis ${report.machine.redis}.`,
    ...(report.scenarios.length > 0
      ? [
          `Each scenario: its own server process on loopback (compiled by tsc and run by plain \`node\`, as \`npm start\` runs ours), autocannon with ${report.settings.connections} connections for ${report.settings.durationSeconds} s after a ${report.settings.warmupSeconds} s warm-up, ${report.settings.rounds} rounds (every scenario once a round, in the order shown; each row is its median round, "req/s each round" lists them all), CPU pinning: ${report.settings.pinning}, Googlebot's User-Agent and \`Accept-Encoding: ${BOT_ENCODINGS}\` unless noted; logs at warn in every server. Page: the detail page of listing ${BENCH_LISTING_ID}, ${report.pageBytes} bytes of HTML.`,
          '',
          '| scenario | req/s | req/s each round | x bare Express | x ceiling | x same bytes | p50 ms | p95 ms | p99 ms | non-2xx | CPU server / Redis / autocannon / other | req per server CPU s | X-Cache | encoding, body bytes |',
          '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
          ...report.scenarios.map(
            (s) =>
              `| ${s.name}: ${s.description} | ${s.requestsPerSecond} | ${(s.roundsRequestsPerSecond ?? []).join(', ')} | ${s.vsExpress ?? ''} | ${s.vsCeiling ?? ''} | ${s.vsSameBytes ?? ''} | ${s.latencyMs.p50} | ${s.latencyMs.p95} | ${s.latencyMs.p99} | ${s.non2xx + s.errors} | ${s.serverCpuPercent === undefined ? '' : `${s.serverCpuPercent}% / ${s.redisCpuPercent}% / ${s.benchCpuPercent}% / ${s.otherCpuPercent}%`} | ${s.requestsPerServerCpuSecond ?? ''} | ${s.xCache ?? ''} | ${s.contentEncoding ?? 'identity'}, ${s.bodyBytes ?? ''} |`,
          ),
          ...report.skipped.map((s) => `| ${s.name}: ${s.description} | skipped: ${s.reason} | | | | | | | | | | | | |`),
          '',
          ...sameBytesLines(report),
          '## Redis memory per cached page',
          '',
          `One page cached per scenario; MEMORY USAGE of the page's key, and of every key the cache wrote for it (ours: the page and one tag-index set per tag, each holding just this page here; in a full cache those sets are shared by many pages, see the crawl table).`,
          '',
          `| cache | keys | bytes of the page entry | of the raw HTML (${report.pageBytes} B) | bytes of all its keys |`,
          '| --- | ---: | ---: | ---: | ---: |',
          ...report.memory.map((m) => `| ${m.name} | ${m.keys} | ${m.bytesPerPage} | ${m.percentOfHtml}% | ${m.allBytes} |`),
          '',
        ]
      : []),
    ...(report.coldBurst
      ? [
          '## Cold burst: one render per page across instances',
          '',
          `${report.coldBurst.instances} instances on one Redis; ${report.coldBurst.keys} cold pages, ${report.coldBurst.requestsPerKey} concurrent requests each, all at once, spread over both instances.`,
          '',
          '| renders | renders per page | non-200 | coalesced (served without rendering) | follower p50 / p99 / max ms | leader p50 / p99 ms |',
          '| ---: | ---: | ---: | ---: | --- | --- |',
          `| ${report.coldBurst.renders} | ${report.coldBurst.rendersPerKey} | ${report.coldBurst.non200} | ${report.coldBurst.coalesced} | ${report.coldBurst.followerLatencyMs.p50} / ${report.coldBurst.followerLatencyMs.p99} / ${report.coldBurst.followerLatencyMs.max} | ${report.coldBurst.leaderLatencyMs.p50} / ${report.coldBurst.leaderLatencyMs.p99} |`,
          '',
        ]
      : []),
    ...(report.crawl
      ? [
          '## Crawl simulation: hit rate under listing changes',
          '',
          `${report.crawl.settings.catalog.toLocaleString('en')} listings, ${report.crawl.settings.urls.toLocaleString('en')} URLs (homepage, details, browse pages of every sort and city). Each strategy: its own server, the cache warmed by one crawl of every URL, then ${report.crawl.settings.measureSeconds} s of bot requests from ${report.crawl.settings.concurrency} connections drawn from Zipf(1.0) over the URLs (30% with utm tags, 10% gclid, 10% junk parameters) while ${report.crawl.settings.updatesPerSecond} listing changes a second arrive (60% description, 25% price, 10% status, 3% creations, 2% deletions). STALE answers count as hits (no render on their path).`,
          '',
          '| strategy | requests | HIT | STALE | MISS | hit rate | changes sent | misses per change | renders / min | Redis keys at end (pages) | Redis bytes at end (pages) |',
          '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
          ...report.crawl.strategies.map(
            (c) =>
              `| ${c.strategy}: ${c.description} | ${c.requests} | ${c.hits} | ${c.stale} | ${c.misses} | ${c.hitRatePercent}% | ${c.updatesSent} | ${c.missesPerUpdate} | ${c.rendersPerMinute} | ${c.redisKeys} (${c.redisPages}) | ${c.redisBytes} (${c.redisPageBytes}) |`,
          ),
          '',
          !report.crawl.scale
            ? ''
            : `Invalidation at scale: ${report.crawl.scale.entries.toLocaleString('en')} tagged entries in Redis; a display-only change of one listing (${report.crawl.scale.displayOnly.keysPerInvalidation} pages on average) took p50 ${report.crawl.scale.displayOnly.p50Ms} ms, p95 ${report.crawl.scale.displayOnly.p95Ms} ms, max ${report.crawl.scale.displayOnly.maxMs} ms of server time (${report.crawl.scale.displayOnly.samples} changes after 20 unmeasured, soft: each page marked stale in place). A price change, which also reaches the price-sorted lists of its city and of all cities (${report.crawl.scale.priceChange.keys.toLocaleString('en')} pages), took ${report.crawl.scale.priceChange.durationMs} ms.`,
          '',
        ]
      : []),
    ...(report.twenty
      ? [
          '## Cold crawl with listings from Twenty',
          '',
          `Every sitemap URL of a server reading ${report.twenty.records} records from the Twenty stand-in (Twenty's REST shapes, 200 records a list call, its API-key limit of ${report.twenty.rateLimit}), requested once as Googlebot with an empty cache by \`cache:warm\` (4 at a time).`,
          '',
          '| pages | REST calls | calls a page | non-2xx | waited out (Retry-After) | time |',
          '| ---: | ---: | ---: | ---: | ---: | ---: |',
          `| ${report.twenty.pages} | ${report.twenty.restCalls} | ${report.twenty.callsPerPage} | ${report.twenty.non2xx} | ${report.twenty.waitedOut} | ${(report.twenty.durationMs / 1000).toFixed(1)} s |`,
          '',
        ]
      : []),
    ...(report.consistency ? consistencyLines(report.consistency) : []),
    ...(report.faults ? faultLines(report.faults) : []),
    '## Targets',
    '',
    ...report.targets.map((t) => (t.skipped ? `- skipped: ${t.target} (${t.skipped})` : `- ${t.met ? 'met' : 'missed'}: ${t.target} (measured ${t.measured})`)),
    '',
  ];
  return lines.join('\n');
}

function sameBytesLines(report: Report): string[] {
  const lines: string[] = [];
  const { prepared } = report;
  if (prepared) {
    lines.push(
      `"x same bytes": req/s over the raw Node http server writing, with one \`writeHead\` and \`end\`, the header lines and the body our memory-tier hit sent for the same request, captured from it at the start of the run (${prepared.br.bodyBytes} bytes br, ${prepared.identity.bodyBytes} bytes identity; the br body ${prepared.brDecodesToIdentity ? 'decodes to' : 'does NOT decode to'} the identity body). Varnish and nginx are compared with the br one: their origin is that server. br header lines: ${prepared.br.headers.map((header) => `\`${header}\``).join(', ')}; Node adds Date, Connection and Keep-Alive to both.`,
      '',
    );
  }
  const proxied = report.scenarios.filter((s) => s.proxy);
  for (const s of proxied) {
    const proxy = s.proxy!;
    lines.push(
      `${s.name}: ${proxy.setup}. Sample answer after the load: ${proxy.hitEvidence} (${proxy.hit ? 'a cache hit' : 'NOT a cache hit'}); requests that reached the origin during the warm-up and the load: ${proxy.originRequestsDuringLoad}.`,
      '',
    );
  }
  for (const s of report.skipped) lines.push(`${s.name}: not measured, ${s.reason}.`, '');
  if (report.scenarios.length > 0) {
    lines.push(
      `CPU: time of the server process and its children, of the local redis-server, of the bench process (autocannon, on the same machine) and of every other process during the measured load, in % of one core (${report.machine.cores} cores here); other CPU above a few % means something else ran and the row is less comparable, and autocannon near 100% means the load generator, not the server, was the limit (then "req per server CPU s" compares the servers' cost). Node runs one event loop (every Node server here is one process), nginx one worker process (worker_processes 1), Varnish a thread per connection with a request in progress from its thread pools, on as many cores as it can get.`,
      '',
    );
  }
  return lines;
}

const spread = (latency: Latency) => `${latency.p50} / ${latency.p99} / ${latency.max}`;

function consistencyLines(c: ConsistencyReport): string[] {
  return [
    '## What consistency costs',
    '',
    `Every entry records the invalidation record's number when its render began; every Redis-tier read sends HMGET of the record's two counters beside the GET (in flight together: one round trip), and judges the entry against this instance's copy of the record; every invalidation runs one more script (the record) before the tag script. An in-process hit does none of this. Measured against this machine's Redis, one client, one command after another.`,
    '',
    '| what | without | with | cost |',
    '| --- | ---: | ---: | ---: |',
    `| bytes of a detail page's entry (2116 B body, 12 tags) | ${c.entryBytes.without} | ${c.entryBytes.with} | +${c.entryBytes.with - c.entryBytes.without} B |`,
    `| a Redis-tier read, wall time (${c.read.reads} reads) | ${c.read.getMs} ms | ${c.read.getWithRecordMs} ms | +${Math.round((c.read.getWithRecordMs - c.read.getMs) * 1000)} µs |`,
    `| Redis CPU per read (GET; HMGET of the counters) | ${c.read.redisUsPerGet} µs | ${c.read.redisUsPerGet + c.read.redisUsPerHmget} µs | +${c.read.redisUsPerHmget} µs |`,
    `| judging one entry (12 tags) against a copy of ${c.verdict.marks} marks, ${c.verdict.patterns} of them patterns | | | ${c.verdict.usPerVerdict} µs |`,
    `| one invalidation (3 tags, soft, through \`cache.invalidate\`), ${c.invalidation.count} in a row | | p50 ${c.invalidation.p50Ms} ms, p95 ${c.invalidation.p95Ms} ms | record script: ${c.invalidation.redisUsPerRecordScript} µs of Redis CPU |`,
    '',
  ];
}

function faultLines(faults: FaultReport): string[] {
  const { settings, kill, freeze } = faults;
  return [
    '',
    '## Redis faults under a steady bot load',
    '',
    `Our server in its own process on a private redis-server, Redis tier only (every hit a Redis read), command timeout ${settings.commandTimeoutMs} ms, breaker after ${settings.breakerThreshold} failures in a row with a ${settings.breakerCooldownMs} ms cool-down. ${settings.ratePerSecond} requests a second, open loop (sent whatever the answers take), cycling through ${settings.paths} pages. Latencies are p50 / p99 / max in ms, from the client. A Redis HIT is a page read from Redis (Server-Timing), not a request that waited for another's render.`,
    '',
    'Redis killed (SIGKILL) at 3 s and started again at 6 s of a 10 s load:',
    '',
    '| requests | non-2xx | incomplete bodies | Redis HITs before the kill | answers while down | first Redis HIT after the restart | Redis HITs in the last second |',
    '| ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    `| ${kill.requests} | ${kill.non2xx} | ${kill.incomplete} | ${kill.hitPercentBeforeKill}% | ${spread(kill.whileDown)} (${kill.whileDown.count}) | ${kill.firstHitAfterRestartMs ?? 'none'} ms | ${kill.hitPercentLastSecond}% |`,
    '',
    `Redis frozen (SIGSTOP) at 2 s for ${freeze.freezeMs} ms of a 6 s load. "Waited on Redis": answers whose lookup ran into the command timeout before the breaker opened; "render-through": answers the open breaker sent straight to a render, which is what a render costs under this load.`,
    '',
    '| requests | non-2xx | incomplete bodies | answers while frozen | waited on Redis (slowest lookup) | render-through | breaker opens | commands not sent | first Redis HIT after the thaw |',
    '| ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |',
    `| ${freeze.requests} | ${freeze.non2xx} | ${freeze.incomplete} | ${spread(freeze.whileFrozen)} (${freeze.whileFrozen.count}) | ${freeze.waitedOnRedis} (${round(freeze.maxLookupMs, 1)} ms) | ${spread(freeze.renderThrough)} (${freeze.renderThrough.count}) | ${freeze.breakerOpens} | ${freeze.rejectedCommands} | ${freeze.firstHitAfterThawMs ?? 'none'} ms |`,
    '',
  ];
}

interface Report {
  date: string;
  machine: { cpuModel: string; cores: number; memoryGiB: number; node: string; redis: string; platform: string };
  settings: { connections: number; durationSeconds: number; warmupSeconds: number; rounds: number; pinning: string };
  pageBytes: number;
  scenarios: (ScenarioResult & { vsExpress?: number; vsCeiling?: number; vsSameBytes?: number })[];
  memory: { name: string; keys: number; bytesPerPage: number; percentOfHtml: number; allBytes: number }[];
  coldBurst?: ColdBurstResult;
  crawl?: CrawlReport;
  twenty?: TwentyCrawlReport;
  consistency?: ConsistencyReport;
  faults?: FaultReport;
  /** What the same-bytes raw servers and the proxies' origin sent: captured from our memory-tier hit. */
  prepared?: { br: { bodyBytes: number; headers: string[] }; identity: { bodyBytes: number; headers: string[] }; brDecodesToIdentity: boolean };
  /** Scenarios not run, and why (a proxy's binary not installed). */
  skipped: SkippedScenario[];
  targets: { target: string; measured: string; met: boolean; skipped?: string }[];
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const known = new Set([...SCENARIOS.map((scenario) => scenario.name), ...PARTS, ...Object.keys(GROUPS)]);
  const unknown = asked.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`unknown bench part ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  const only = asked.flatMap((name) => GROUPS[name] ?? [name]);
  pinBenchProcess();
  const redis = new Redis(REDIS_URL);
  const redisInfo = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? 'unknown';
  // Its CPU is counted when it runs on this machine (the bench's Redis on loopback).
  const redisProcessId = Number(/process_id:(\d+)/.exec(redisInfo)?.[1]);
  const redisPid = processName(redisProcessId)?.startsWith('redis') ? redisProcessId : undefined;
  const pageBytes = Buffer.byteLength(benchPageHtml());
  const selected = SCENARIOS.filter((scenario) => only.length === 0 || only.includes(scenario.name));
  const results: ScenarioResult[] = [];
  const skipped: SkippedScenario[] = [];
  let prepared: PreparedPages | undefined;
  let preparedReport: Report['prepared'];
  let brDecodeMicros: number | undefined;
  if (selected.some((scenario) => scenario.prepared)) {
    prepared = await preparePages(redis, PAGE_PATH);
    brDecodeMicros = timeBrotliDecode(prepared.br.body);
    const summary = (page: PreparedPages['br']) => ({ bodyBytes: page.body.length, headers: page.headers.map(([name, value]) => `${name}: ${value}`) });
    preparedReport = { br: summary(prepared.br), identity: summary(prepared.identity), brDecodesToIdentity: prepared.brDecodesToIdentity };
  }
  try {
    // Rounds run every selected scenario in turn, so the rows compared (ours and the raw server
    // writing the same bytes) are measured interleaved in time; each row keeps its median round.
    const rounds = new Map<string, ScenarioResult[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const scenario of selected) {
        if (skipped.some((skip) => skip.name === scenario.name)) continue;
        process.stdout.write(`${ROUNDS > 1 ? `[${round}/${ROUNDS}] ` : ''}${scenario.name}... `);
        const result = await runScenario(scenario, redis, prepared, redisPid);
        if ('reason' in result) {
          skipped.push(result);
          process.stdout.write(`skipped: ${result.reason}\n`);
          continue;
        }
        rounds.set(scenario.name, [...(rounds.get(scenario.name) ?? []), result]);
        const cpu =
          result.serverCpuPercent === undefined
            ? ''
            : `, CPU server ${result.serverCpuPercent}% redis ${result.redisCpuPercent}% autocannon ${result.benchCpuPercent}% other ${result.otherCpuPercent}%`;
        process.stdout.write(`${result.requestsPerSecond} req/s, p99 ${result.latencyMs.p99} ms${cpu}\n`);
      }
    }
    for (const scenario of selected) {
      const measured = rounds.get(scenario.name);
      if (!measured) continue;
      const sorted = [...measured].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      results.push({
        ...median,
        roundsRequestsPerSecond: measured.map((result) => result.requestsPerSecond),
        roundsRequestsPerServerCpuSecond: measured.map((result) => result.requestsPerServerCpuSecond),
      });
    }
  } finally {
    prepared?.remove();
  }
  let coldBurst: ColdBurstResult | undefined;
  if (only.length === 0 || only.includes('cold-burst')) {
    process.stdout.write('cold-burst... ');
    coldBurst = await runColdBurst(redis);
    process.stdout.write(`${coldBurst.rendersPerKey} renders per page, follower p99 ${coldBurst.followerLatencyMs.p99} ms\n`);
  }
  let crawl: CrawlReport | undefined;
  const crawlParts = { crawl: only.length === 0 || only.includes('crawl'), scale: only.length === 0 || only.includes('scale') };
  if (crawlParts.crawl || crawlParts.scale) crawl = await runCrawlSimulation(redis, (line) => process.stdout.write(line), crawlParts);
  let twenty: TwentyCrawlReport | undefined;
  if (only.length === 0 || only.includes('twenty-crawl')) twenty = await runTwentyCrawl(redis, (line) => process.stdout.write(line));
  let consistency: ConsistencyReport | undefined;
  if (only.length === 0 || only.includes('consistency')) consistency = await runConsistency(REDIS_URL, (line) => process.stdout.write(line));
  redis.disconnect();
  let faults: FaultReport | undefined;
  if (only.length === 0 || only.includes('faults')) faults = await runFaults((line) => process.stdout.write(line));

  const byName = new Map(results.map((result) => [result.name, result]));
  const express = byName.get('express-send')?.requestsPerSecond;
  const ceiling = byName.get('raw-http')?.requestsPerSecond;
  const scenarios = results.map((result) => ({
    ...result,
    vsExpress: ratio(result.requestsPerSecond, express),
    vsCeiling: ratio(result.requestsPerSecond, ceiling),
    vsSameBytes: result.sameBytesAs ? ratio(result.requestsPerSecond, byName.get(result.sameBytesAs)?.requestsPerSecond) : undefined,
  }));
  const memory = results
    .filter((result) => result.redisKeyBytes && result.redisKeyBytes.keys > 0)
    .map((result) => {
      // apicache-plus writes no ssr: keys: all of its keys are its page.
      const bytesPerPage = result.redisKeyBytes!.pages > 0 ? result.redisKeyBytes!.pageBytes : result.redisKeyBytes!.bytes;
      return {
        name: result.name,
        keys: result.redisKeyBytes!.keys,
        bytesPerPage,
        percentOfHtml: round((bytesPerPage / pageBytes) * 100, 1),
        allBytes: result.redisKeyBytes!.bytes,
      };
    });

  /** req/s of one scenario over another's, both of this run; undefined unless both ran. */
  const per = (name: string, base: string) => {
    const value = byName.get(name)?.requestsPerSecond;
    const of = byName.get(base)?.requestsPerSecond;
    return value !== undefined && of ? value / of : undefined;
  };
  const targets: Report['targets'] = [];
  const addTarget = (target: string, value: number | undefined, limit: number, atMost = false) => {
    if (value === undefined || Number.isNaN(value)) return;
    targets.push({ target, measured: String(round(value, 2)), met: atMost ? value <= limit : value >= limit });
  };
  /** The median of some numbers (the lower middle one of an even count). */
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  /**
   * A req/s ratio of two scenarios of this run, met when it and the ratio of requests per server
   * CPU second both reach the limit. With rounds, the ratio is
   * the median of the rounds' ratios: the two rows of a round ran one after the other, so a
   * machine busy for a while slows both alike, which the ratio of two separate medians would not
   * cancel. The measured text adds the ratio of requests per server CPU second (what each request
   * cost, whatever else shared the cores) and the other CPU during each, so a disturbed pair shows as one.
   */
  const pairTarget = (target: string, name: string, base: string, limit: number) => {
    const [a, b] = [byName.get(name), byName.get(base)];
    if (!a || !b || !b.requestsPerSecond) return;
    const roundsA = a.roundsRequestsPerSecond ?? [a.requestsPerSecond];
    const roundsB = b.roundsRequestsPerSecond ?? [b.requestsPerSecond];
    const paired = roundsA.length === roundsB.length && roundsA.length > 1;
    const ratios = paired ? roundsA.map((value, round) => value / roundsB[round]!) : [a.requestsPerSecond / b.requestsPerSecond];
    const value = median(ratios);
    const cpuA = a.roundsRequestsPerServerCpuSecond ?? [];
    const cpuB = b.roundsRequestsPerServerCpuSecond ?? [];
    const cpuRatios = paired
      ? cpuA.flatMap((rate, round) => (rate && cpuB[round] ? [rate / cpuB[round]!] : []))
      : a.requestsPerServerCpuSecond && b.requestsPerServerCpuSecond
        ? [a.requestsPerServerCpuSecond / b.requestsPerServerCpuSecond]
        : [];
    const detail = [
      paired ? `median of the rounds' ratios ${ratios.map((ratio) => round(ratio, 2)).join(', ')}` : `${a.requestsPerSecond} / ${b.requestsPerSecond} req/s`,
      ...(cpuRatios.length === 0
        ? []
        : [
            `per server CPU second ${round(median(cpuRatios), 2)} (also held to the limit)`,
            `other CPU in the median rows ${a.otherCpuPercent}% / ${b.otherCpuPercent}%`,
          ]),
    ];
    // Met on both: with the load generator near its own limit the req/s of two servers can match
    // while one of them spends more CPU on each request.
    const cpuRatio = cpuRatios.length === 0 ? undefined : median(cpuRatios);
    targets.push({ target, measured: `${round(value, 2)}; ${detail.join(', ')}`, met: value >= limit && (cpuRatio === undefined || cpuRatio >= limit) });
  };
  pairTarget('hit-memory within 10% of raw http writing the same prepared Buffer (br, same header lines): ratio >= 0.9', 'hit-memory', SAME_BR, 0.9);
  pairTarget(
    'hit-memory-identity within 10% of raw http writing the same identity Buffer and header lines: ratio >= 0.9',
    'hit-memory-identity',
    SAME_IDENTITY,
    0.9,
  );
  for (const [name, peer] of [
    ['varnish', 'Varnish'],
    ['nginx-proxy-cache', 'nginx proxy_cache'],
  ] as const) {
    const target = `hit-memory vs ${peer} hits of the same br page: ratio >= 1.0`;
    const missing = skipped.find((scenario) => scenario.name === name);
    const proxied = byName.get(name)?.proxy;
    if (missing && selected.some((scenario) => scenario.name === 'hit-memory')) targets.push({ target, measured: '', met: false, skipped: missing.reason });
    else if (proxied && !(proxied.hit && proxied.originRequestsDuringLoad === 0))
      pairTarget(`${target} (its load was not all hits: ${proxied.hitEvidence}, ${proxied.originRequestsDuringLoad} origin requests)`, 'hit-memory', name, 1);
    else pairTarget(target, 'hit-memory', name, 1);
  }
  // Identity answers carry 4.7 times the bytes of br ones, and sending them costs even the raw
  // server (see its two rows): "no slower" cannot mean equal req/s. What the Redis tier must not
  // add is a decode per hit: its identity surcharge (server CPU per hit over a br hit) is held
  // to the in-process tier's, where the identity body is prepared once, within half a decode.
  // Per round, like pairTarget: the four rows of a round ran one after the other.
  const microsPerHit = (name: string) => (byName.get(name)?.roundsRequestsPerServerCpuSecond ?? []).map((rate) => (rate ? 1e6 / rate : undefined));
  const [redisBr, redisIdentity, memoryBr, memoryIdentity] = ['hit-redis', 'hit-redis-identity', 'hit-memory', 'hit-memory-identity'].map(microsPerHit);
  const surcharges = (redisBr ?? []).flatMap((br, round) => {
    const [identity, inProcessBr, inProcessIdentity] = [redisIdentity?.[round], memoryBr?.[round], memoryIdentity?.[round]];
    return br && identity && inProcessBr && inProcessIdentity ? [{ redis: identity - br, memory: inProcessIdentity - inProcessBr }] : [];
  });
  if (surcharges.length > 0 && brDecodeMicros !== undefined) {
    const extra = median(surcharges.map((surcharge) => surcharge.redis - surcharge.memory));
    targets.push({
      target: `hit-redis-identity decodes nothing per hit: its server CPU per hit over hit-redis's exceeds the in-process tier's identity-over-br surcharge by less than half one brotli decode of the page (${round(brDecodeMicros, 1)} µs, timed in this run): extra µs < ${round(brDecodeMicros / 2, 1)}`,
      measured: `${round(extra, 1)}; median of the rounds' Redis-tier surcharges ${surcharges.map((surcharge) => round(surcharge.redis, 1)).join(', ')} µs against in-process ${surcharges.map((surcharge) => round(surcharge.memory, 1)).join(', ')} µs`,
      met: extra < brDecodeMicros / 2,
    });
  }
  addTarget('hit with the in-process tier >= 1.3x bare Express', per('hit-memory', 'express-send'), 1.3);
  addTarget('hit from Redis only >= 1.1x bare Express', per('hit-redis', 'express-send'), 1.1);
  addTarget('hit with the in-process tier >= 0.35x the raw-http ceiling', per('hit-memory', 'raw-http'), 0.35);
  addTarget('hit with the in-process tier >= 3x apicache-plus (Redis)', per('hit-memory', 'apicache-plus-redis'), 3);
  addTarget('hit from Redis only >= 3x apicache-plus (Redis)', per('hit-redis', 'apicache-plus-redis'), 3);
  for (const name of ['hit-memory', 'hit-redis']) {
    const p99 = byName.get(name)?.latencyMs.p99;
    addTarget(`${name} p99 < 5 ms at ${CONNECTIONS} connections`, p99, 5, true);
  }
  if (coldBurst) addTarget('cold burst on two instances: renders per page = 1.0', coldBurst.rendersPerKey, 1, true);
  const soft = crawl?.strategies.find((result) => result.strategy === 'tags-soft');
  if (soft) addTarget('crawl hit rate with exact soft invalidation >= 95%', soft.hitRatePercent, 95);
  if (crawl?.scale)
    addTarget('invalidating one listing (display-only) among 100,000 entries < 5 ms server time (p95 of 100)', crawl.scale.displayOnly.p95Ms, 5, true);
  if (faults) {
    const { kill, freeze, settings } = faults;
    addTarget(
      `Redis killed and restarted under ${settings.ratePerSecond} req/s: non-2xx answers and incomplete bodies = 0`,
      kill.non2xx + kill.incomplete,
      0,
      true,
    );
    addTarget('Redis killed: first Redis HIT within 2,000 ms of the restart', kill.firstHitAfterRestartMs ?? Infinity, 2000, true);
    addTarget(`Redis frozen under ${settings.ratePerSecond} req/s: non-2xx answers and incomplete bodies = 0`, freeze.non2xx + freeze.incomplete, 0, true);
    addTarget(
      `Redis frozen for ${freeze.freezeMs} ms: no answer waits for it to come back (slowest answer, ms)`,
      freeze.whileFrozen.max,
      freeze.freezeMs - 1,
      true,
    );
  }
  if (consistency) {
    const c = consistency;
    addTarget('an entry grows by the invalidation number only: bytes added <= 32', c.entryBytes.with - c.entryBytes.without, 32, true);
    addTarget(
      'a Redis-tier read stays one round trip: wall time with the record counters <= 1.25x a plain GET',
      Math.round((c.read.getWithRecordMs / c.read.getMs) * 100) / 100,
      1.25,
      true,
    );
  }
  if (twenty) {
    addTarget(`cold crawl of every sitemap URL from Twenty: REST calls a page <= 1.0 (${twenty.records} records)`, twenty.callsPerPage, 1, true);
    addTarget(`cold crawl under Twenty's limit of ${twenty.rateLimit}: non-2xx pages = 0`, twenty.non2xx, 0, true);
  }
  const ours = memory.find((m) => m.name === 'hit-redis');
  if (ours) addTarget('Redis bytes per cached page entry <= 30% of the raw HTML', ours.percentOfHtml / 100, 0.3, true);

  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      redis: redisVersion,
      platform: `${os.platform()} ${os.release()}`,
    },
    settings: {
      connections: CONNECTIONS,
      durationSeconds: DURATION,
      warmupSeconds: WARMUP,
      rounds: ROUNDS,
      pinning: PINNING ? `bench and autocannon on core ${PINNING.bench}, servers and proxies on core ${PINNING.server}` : 'none',
    },
    pageBytes,
    prepared: preparedReport,
    scenarios,
    skipped,
    memory,
    coldBurst,
    crawl,
    twenty,
    consistency,
    faults,
    targets,
  };
  // A run of some parts writes a file of its own: it never replaces the full run's results.
  const name = asked.length === 0 ? 'latest' : [...asked].sort().join('+');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, `${name}.md`), markdown(report));
  process.stdout.write(`\n${markdown(report)}\nwritten to bench/results/${name}.md and ${name}.json\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
