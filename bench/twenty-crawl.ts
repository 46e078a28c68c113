import { warmCache } from '../server/utils/cache-warmer';
import { startTwentyStub, twentyRecord } from '../tools/twenty-standin';
import { freePort, removeKeys, RUN_ID, startServer, stopServer } from './harness';
import type Redis from 'ioredis';

/**
 * A cold crawl of every sitemap URL of a server whose listings come from Twenty, against the
 * stand-in speaking Twenty's REST shapes with its default API-key limit (100 calls a minute):
 * how many REST calls a page costs, and whether any page answered other than 200.
 */
const RECORDS = Number(process.env.BENCH_TWENTY_RECORDS ?? 1000);
const CITIES = ['Lisbon', 'Porto', 'Faro', 'Braga', 'Coimbra', 'Aveiro', 'Evora', 'Sintra', 'Cascais', 'Funchal'];
const RATE_LIMIT = { requests: 100, windowMs: 60_000 };
const CONCURRENCY = 4;

export interface TwentyCrawlReport {
  records: number;
  pages: number;
  restCalls: number;
  callsPerPage: number;
  non2xx: number;
  waitedOut: number;
  durationMs: number;
  rateLimit: string;
}

export async function runTwentyCrawl(redis: Redis, progress: (line: string) => void): Promise<TwentyCrawlReport> {
  const records = Array.from({ length: RECORDS }, (_, index) =>
    twentyRecord(`00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`, {
      name: `Home ${index + 1}`,
      address: { addressStreet1: `${index + 1} Main Street`, addressCity: CITIES[index % CITIES.length], addressCountry: 'Portugal' },
      featured: index % 7 === 0,
      createdAt: new Date(Date.UTC(2026, 0, 1) + index * 3_600_000).toISOString(),
    }),
  );
  const stub = await startTwentyStub(records, { plural: 'properties', singular: 'property', maxLimit: 200, rateLimit: { perMinute: RATE_LIMIT.requests } });
  const port = await freePort();
  const keyPrefix = `bench:${RUN_ID}:twenty:`;
  const server = await startServer(
    {
      name: 'twenty-crawl',
      script: 'ours.ts',
      env: { LISTING_SOURCE: 'twenty', TWENTY_API_URL: stub.url, TWENTY_API_KEY: 'bench-key', TWENTY_LISTING_OBJECT: 'properties' },
    },
    port,
    keyPrefix,
  );
  try {
    progress(`twenty-crawl: ${RECORDS} records, Twenty limit ${RATE_LIMIT.requests} calls a minute... `);
    const before = stub.requests.length;
    const summary = await warmCache({ baseUrl: `http://127.0.0.1:${port}`, concurrency: CONCURRENCY, timeoutMs: 60_000 });
    const restCalls = stub.requests.length - before;
    // Pages and the sitemap files the crawl read (the index and its children).
    const fetched = summary.total + Math.ceil(summary.total / 50_000) + 2;
    const report: TwentyCrawlReport = {
      records: RECORDS,
      pages: summary.total,
      restCalls,
      callsPerPage: Math.round((restCalls / fetched) * 1000) / 1000,
      non2xx: summary.failed,
      waitedOut: summary.waitedOut,
      durationMs: summary.durationMs,
      rateLimit: `${RATE_LIMIT.requests} a minute`,
    };
    progress(`${report.pages} pages, ${report.restCalls} REST calls (${report.callsPerPage} a page), ${report.non2xx} non-2xx\n`);
    return report;
  } finally {
    await stopServer(server);
    await stub.close();
    await removeKeys(redis, keyPrefix);
  }
}
