import { createHmac, randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createRandom as random, generateCatalog } from '../server/listings/embedded-catalog';
import { LISTING_SORTS } from '../server/listings/listing';
import { BROWSE_PAGE_SIZE } from '../server/routes/pages';
import { createEntry } from 'ssr-page-cache/redis-tier';
import { createCacheManager } from '../server/utils/cache-manager';
import { cacheTags } from '../server/listings/listing-tags';
import { createLogger } from '../server/utils/logger';
import { failFastOptions } from '../server/utils/redis-client';
import { freePort, GOOGLEBOT, keyMemory, REDIS_URL, removeKeys, RUN_ID, startServer, stopServer } from './harness';
import { round } from './load';

const CATALOG_SIZE = 10_000;
const MEASURE_SECONDS = Number(process.env.BENCH_CRAWL_SECONDS ?? 30);
const UPDATES_PER_SECOND = Number(process.env.BENCH_CRAWL_UPDATES_PER_SECOND ?? 5);
const CONCURRENCY = 16;
const SCALE_WARMUP = 20;
const SCALE_SAMPLES = 100;
const TOKEN = `bench-token-${RUN_ID}-0123456789`;
const SECRET = `bench-webhook-secret-${RUN_ID}`;

export type Strategy = 'story' | 'tags-hard' | 'tags-soft';

export interface CrawlResult {
  strategy: Strategy;
  description: string;
  requests: number;
  hits: number;
  stale: number;
  misses: number;
  hitRatePercent: number;
  updatesSent: number;
  missesPerUpdate: number;
  rendersPerMinute: number;
  redisKeys: number;
  redisBytes: number;
  redisPages: number;
  redisPageBytes: number;
}

export interface InvalidationAtScale {
  entries: number;
  displayOnly: { p50Ms: number; p95Ms: number; maxMs: number; keysPerInvalidation: number; samples: number };
  priceChange: { durationMs: number; keys: number };
}

/** Every page of the site: the homepage, each detail page, each browse page of each sort and city. */
function siteUrls(): string[] {
  const catalog = generateCatalog(CATALOG_SIZE);
  const urls = ['/'];
  for (const listing of catalog) urls.push(`/listings/${listing.id}`);
  const cities = new Map<string, number>();
  for (const listing of catalog) cities.set(listing.city.toLowerCase(), (cities.get(listing.city.toLowerCase()) ?? 0) + 1);
  for (const [city, count] of [[undefined, catalog.length] as const, ...cities]) {
    for (let page = 1; page <= Math.ceil(count / BROWSE_PAGE_SIZE); page += 1) {
      for (const sort of LISTING_SORTS) {
        const params = new URLSearchParams({ page: String(page), sort });
        if (city) params.set('city', city);
        urls.push(`/listings?${params}`);
      }
    }
  }
  return urls;
}

/** Zipf(1.0) over the URLs in a fixed shuffled order, so popular pages mix all kinds. */
function zipfSampler(urls: string[], next: () => number): () => string {
  const ranked = [...urls];
  for (let i = ranked.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [ranked[i], ranked[j]] = [ranked[j] as string, ranked[i] as string];
  }
  const cumulative = new Float64Array(ranked.length);
  let total = 0;
  for (let rank = 0; rank < ranked.length; rank += 1) cumulative[rank] = total += 1 / (rank + 1);
  return () => {
    const target = next() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((cumulative[mid] as number) < target) low = mid + 1;
      else high = mid;
    }
    return ranked[low] as string;
  };
}

/** What crawlers add: tracking tags, click ids and junk, in any order. */
function withNoise(url: string, next: () => number): string {
  const extra: string[] = [];
  if (next() < 0.3) extra.push('utm_source=google', 'utm_medium=organic');
  if (next() < 0.1) extra.push(`gclid=${Math.floor(next() * 1e9).toString(36)}`);
  if (next() < 0.1) extra.push(`x${Math.floor(next() * 1000)}=${Math.floor(next() * 1e6)}`);
  if (extra.length === 0) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${extra.sort(() => next() - 0.5).join('&')}`;
}

interface Update {
  id: string;
  /** Twenty sends the whole record; its city narrows what a change invalidates. */
  city?: string;
  action: 'updated' | 'created' | 'deleted';
  fields?: string[];
}

const CITY_BY_ID = new Map(generateCatalog(CATALOG_SIZE).map((listing) => [listing.id, listing.city]));

/** 60% display-only edits, 25% price changes, 10% status changes, 3% creations, 2% deletions. */
function drawUpdate(next: () => number): Update {
  const roll = next();
  const id = String(1 + Math.floor(next() * CATALOG_SIZE));
  const city = CITY_BY_ID.get(id);
  if (roll < 0.6) return { id, city, action: 'updated', fields: ['description'] };
  if (roll < 0.85) return { id, city, action: 'updated', fields: ['price'] };
  if (roll < 0.95) return { id, city, action: 'updated', fields: ['status'] };
  if (roll < 0.98) return { id: String(CATALOG_SIZE + 1 + Math.floor(next() * 1000)), city, action: 'created' };
  return { id, city, action: 'deleted' };
}

function twentyRequest(update: Update): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    eventName: `listing.${update.action}`,
    objectMetadata: { nameSingular: 'listing' },
    eventDate: new Date().toISOString(),
    record: { id: update.id, ...(update.city ? { city: update.city } : {}) },
    ...(update.fields ? { updatedFields: update.fields } : {}),
  });
  const timestamp = String(Date.now());
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-twenty-webhook-timestamp': timestamp,
      'x-twenty-webhook-nonce': randomBytes(16).toString('hex'),
      'x-twenty-webhook-signature': createHmac('sha256', SECRET).update(`${timestamp}:${body}`).digest('hex'),
    },
  };
}

async function sendUpdate(base: string, strategy: Strategy, update: Update): Promise<void> {
  const request =
    strategy === 'story'
      ? { body: JSON.stringify({ type: 'listing', id: update.id }), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } }
      : twentyRequest(update);
  const res = await fetch(`${base}/api/cache/invalidate`, { method: 'POST', ...request });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`invalidation answered ${res.status}`);
}

async function renders(base: string): Promise<number> {
  return ((await (await fetch(`${base}/health`)).json()) as { cache: { renders: number } }).cache.renders;
}

/** Requests every URL once, CONCURRENCY at a time: the cache a site has after its first crawl. */
async function prewarm(base: string, urls: string[]): Promise<void> {
  let index = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (index < urls.length) {
        const url = urls[index++] as string;
        await (await fetch(`${base}${url}`, { headers: { 'user-agent': GOOGLEBOT } })).arrayBuffer();
      }
    }),
  );
}

const DESCRIPTIONS: Record<Strategy, string> = {
  story: "the story's invalidation: each change deletes its detail page, the homepage and every browse page",
  'tags-hard': 'exact tag invalidation from signed Twenty webhooks, hard delete',
  'tags-soft': 'exact tag invalidation from signed Twenty webhooks, soft (stale served once, re-rendered behind)',
};

/**
 * One strategy: a cache warmed by a first crawl, then MEASURE_SECONDS of Zipf-distributed bot
 * requests while listing changes arrive at UPDATES_PER_SECOND.
 */
async function crawlWith(strategy: Strategy, redis: Redis, urls: string[]): Promise<CrawlResult> {
  const keyPrefix = `bench:${RUN_ID}:crawl-${strategy}:`;
  const port = await freePort();
  const child = await startServer(
    {
      name: `crawl-${strategy}`,
      script: 'ours.ts',
      env: {
        LISTING_CATALOG_SIZE: String(CATALOG_SIZE),
        CACHE_INVALIDATION_TOKEN: TOKEN,
        TWENTY_WEBHOOK_SECRET: SECRET,
        TWENTY_WEBHOOK_MODE: strategy === 'tags-soft' ? 'soft' : 'hard',
        SSR_CACHE_MEMORY_MB: '256',
      },
    },
    port,
    keyPrefix,
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await prewarm(base, urls);
    const next = random(20261127);
    const draw = zipfSampler(urls, next);
    const rendersBefore = await renders(base);
    const counts = { requests: 0, hits: 0, stale: 0, misses: 0, updates: 0 };
    const deadline = Date.now() + MEASURE_SECONDS * 1000;
    // Changes on a fixed schedule, whatever each invalidation costs, so strategies see the same number.
    const updates = random(7);
    const sent: Promise<void>[] = [];
    const schedule = setInterval(() => {
      if (Date.now() >= deadline) return;
      counts.updates += 1;
      sent.push(sendUpdate(base, strategy, drawUpdate(updates)));
    }, 1000 / UPDATES_PER_SECOND);
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < deadline) {
          const res = await fetch(`${base}${withNoise(draw(), next)}`, { headers: { 'user-agent': GOOGLEBOT } });
          await res.arrayBuffer();
          counts.requests += 1;
          const cache = res.headers.get('x-cache');
          if (cache === 'HIT') counts.hits += 1;
          else if (cache === 'STALE') counts.stale += 1;
          else counts.misses += 1;
        }
      }),
    );
    clearInterval(schedule);
    await Promise.all(sent);
    const rendered = (await renders(base)) - rendersBefore;
    const memory = await keyMemory(redis, keyPrefix);
    return {
      strategy,
      description: DESCRIPTIONS[strategy],
      requests: counts.requests,
      hits: counts.hits,
      stale: counts.stale,
      misses: counts.misses,
      hitRatePercent: round(((counts.hits + counts.stale) / counts.requests) * 100, 2),
      updatesSent: counts.updates,
      missesPerUpdate: round(counts.misses / Math.max(1, counts.updates), 1),
      rendersPerMinute: Math.round(rendered / (MEASURE_SECONDS / 60)),
      redisKeys: memory.keys,
      redisBytes: memory.bytes,
      redisPages: memory.pages,
      redisPageBytes: memory.pageBytes,
    };
  } finally {
    await stopServer(child);
    await removeKeys(redis, keyPrefix);
  }
}

/** Waits until Redis has freed what earlier scenarios deleted (UNLINK frees in the background). */
async function redisSettled(redis: Redis): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const pending = Number(/lazyfree_pending_objects:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    if (pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * 100,000 tagged entries (10,000 detail pages, 90,000 browse variants of 24 listings each),
 * then single-listing invalidations through the endpoint; the server reports its own time.
 */
async function invalidationAtScale(redis: Redis): Promise<InvalidationAtScale> {
  const keyPrefix = `bench:${RUN_ID}:scale:`;
  const writer = new Redis(REDIS_URL, { ...failFastOptions({ commandTimeoutMs: 60_000, connectTimeoutMs: 5000 }), enableOfflineQueue: true });
  // Thousands of writes in flight at once: a deadline per write as long as the client's, so none
  // is given up and the breaker never opens (which would skip the rest and shrink the setup).
  const cache = createCacheManager({ redis: writer, logger: createLogger('silent'), keyPrefix, commandTimeoutMs: 60_000 });
  const port = await freePort();
  const child = await startServer(
    { name: 'scale', script: 'ours.ts', env: { LISTING_CATALOG_SIZE: String(CATALOG_SIZE), TWENTY_WEBHOOK_SECRET: SECRET, TWENTY_WEBHOOK_MODE: 'soft' } },
    port,
    keyPrefix,
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const body = Buffer.alloc(200, 120);
    const next = random(99);
    const writes: Promise<boolean>[] = [];
    let failed = 0;
    const flush = async () => {
      failed += (await Promise.all(writes.splice(0))).filter((stored) => !stored).length;
    };
    for (let id = 1; id <= CATALOG_SIZE; id += 1) {
      const tags = [cacheTags.listing(String(id)), ...Array.from({ length: 12 }, () => cacheTags.listing(String(1 + Math.floor(next() * CATALOG_SIZE))))];
      writes.push(cache.set(`ssr:/listings/${id}`, createEntry({ status: 200, contentType: 'text/html', freshTtl: 3600, grace: 3600, tags, body })));
      if (writes.length >= 2000) await flush();
    }
    const cities = [undefined, ...new Set(CITY_BY_ID.values())];
    for (let variant = 0; variant < 90_000; variant += 1) {
      const sort = LISTING_SORTS[variant % LISTING_SORTS.length] as string;
      const city = cities[Math.floor(variant / LISTING_SORTS.length) % cities.length];
      const listed = Array.from({ length: BROWSE_PAGE_SIZE }, () => cacheTags.listing(String(1 + Math.floor(next() * CATALOG_SIZE))));
      const tags = [cacheTags.lists, cacheTags.sort(sort), cacheTags.sortedList(sort, city), ...listed];
      writes.push(
        cache.set(
          `ssr:/listings?page=${variant}&sort=${sort}`,
          createEntry({ status: 200, contentType: 'text/html', freshTtl: 3600, grace: 3600, tags, body }),
        ),
      );
      if (writes.length >= 2000) await flush();
    }
    await flush();
    if (failed > 0) throw new Error(`invalidation at scale: ${failed} of ${CATALOG_SIZE + 90_000} entries were not written`);
    await redisSettled(redis);
    const durations: number[] = [];
    const keysTouched: number[] = [];
    // Twenty unmeasured changes first (the JIT warms up), as for any running server; then 50 measured ones.
    for (let i = 0; i < SCALE_WARMUP + SCALE_SAMPLES; i += 1) {
      const { body: payload, headers } = twentyRequest({ id: String(100 + i * 37), action: 'updated', fields: ['description'] });
      const res = await fetch(`${base}/api/cache/invalidate`, { method: 'POST', body: payload, headers });
      const answer = (await res.json()) as { durationMs: number; keys: string[] };
      if (i < SCALE_WARMUP) continue;
      durations.push(answer.durationMs);
      keysTouched.push(answer.keys.length);
    }
    durations.sort((a, b) => a - b);
    const { body: pricePayload, headers: priceHeaders } = twentyRequest({ id: '5000', city: CITY_BY_ID.get('5000'), action: 'updated', fields: ['price'] });
    const price = (await (await fetch(`${base}/api/cache/invalidate`, { method: 'POST', body: pricePayload, headers: priceHeaders })).json()) as {
      durationMs: number;
      keys: string[];
    };
    return {
      entries: CATALOG_SIZE + 90_000,
      displayOnly: {
        p50Ms: durations[Math.floor(durations.length / 2)] as number,
        p95Ms: durations[Math.ceil(durations.length * 0.95) - 1] as number,
        maxMs: durations.at(-1) as number,
        samples: durations.length,
        keysPerInvalidation: Math.round(keysTouched.reduce((sum, count) => sum + count, 0) / keysTouched.length),
      },
      priceChange: { durationMs: price.durationMs, keys: price.keys.length },
    };
  } finally {
    await stopServer(child);
    writer.disconnect();
    await removeKeys(redis, keyPrefix);
  }
}

export interface CrawlReport {
  settings: { catalog: number; urls: number; measureSeconds: number; updatesPerSecond: number; concurrency: number };
  strategies: CrawlResult[];
  scale?: InvalidationAtScale;
}

/** The crawl under each strategy (`crawl`) and invalidation among 100,000 entries (`scale`). */
export async function runCrawlSimulation(redis: Redis, log: (line: string) => void, parts = { crawl: true, scale: true }): Promise<CrawlReport> {
  const urls = siteUrls();
  const strategies: CrawlResult[] = [];
  for (const strategy of parts.crawl ? (['story', 'tags-hard', 'tags-soft'] as const) : []) {
    log(`crawl ${strategy}... `);
    const result = await crawlWith(strategy, redis, urls);
    strategies.push(result);
    log(`hit rate ${result.hitRatePercent}%, ${result.rendersPerMinute} renders/min\n`);
  }
  let scale: InvalidationAtScale | undefined;
  if (parts.scale) {
    log('invalidation at 100,000 entries... ');
    scale = await invalidationAtScale(redis);
    log(`display-only p50 ${scale.displayOnly.p50Ms} ms, p95 ${scale.displayOnly.p95Ms} ms, max ${scale.displayOnly.maxMs} ms\n`);
  }
  return {
    settings: { catalog: CATALOG_SIZE, urls: urls.length, measureSeconds: MEASURE_SECONDS, updatesPerSecond: UPDATES_PER_SECOND, concurrency: CONCURRENCY },
    strategies,
    scale,
  };
}
