import Redis from 'ioredis';
import { createPageCache } from 'ssr-page-cache';
import { InvalidationRecordCopy, parseRecord, type RecordSnapshot } from '../packages/ssr-page-cache/src/coordination/invalidation-record';
import { createEntry, encodeEntry } from '../packages/ssr-page-cache/src/entry/cache-entry';
import { RedisTier } from '../packages/ssr-page-cache/src/redis/redis-tier';
import { removeKeys, RUN_ID } from './harness';

/**
 * What the fleet-wide consistency checks cost: the bytes an entry gains, the Redis work and wait
 * of a Redis-tier read with the record's counters beside it, the in-process judgement of an
 * entry, and what an invalidation costs end to end and in Redis. Measured on this machine's
 * Redis, one client, commands one after another (a latency, not a throughput).
 */
export interface ConsistencyReport {
  entryBytes: { without: number; with: number };
  read: { reads: number; getMs: number; getWithRecordMs: number; redisUsPerGet: number; redisUsPerHmget: number };
  verdict: { marks: number; patterns: number; usPerVerdict: number };
  invalidation: { count: number; p50Ms: number; p95Ms: number; redisUsPerRecordScript: number; marksAfter: number };
}

const READS = 5000;
const INVALIDATIONS = 500;

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0) * 1000) / 1000;
}

/** Redis's own count and microseconds of each command so far, from INFO commandstats. */
async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

function usPerCall(before: Map<string, { calls: number; usec: number }>, after: Map<string, { calls: number; usec: number }>, command: string): number {
  const calls = (after.get(command)?.calls ?? 0) - (before.get(command)?.calls ?? 0);
  const usec = (after.get(command)?.usec ?? 0) - (before.get(command)?.usec ?? 0);
  return calls > 0 ? Math.round((usec / calls) * 100) / 100 : 0;
}

export async function runConsistency(redisUrl: string, progress: (line: string) => void): Promise<ConsistencyReport> {
  const keyPrefix = `bench:${RUN_ID}:consistency:`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const tier = new RedisTier({ redis, logger: { debug() {}, info() {}, warn() {}, error() {} }, keyPrefix, commandTimeoutMs: 2000 });
  try {
    progress('consistency... ');
    // A detail page's entry: its HTML brotli-compressed is about 3 KB, with a dozen tags.
    const tags = ['listing:42', 'listings:city:lisbon', ...Array.from({ length: 10 }, (_, index) => `listing:${100 + index}`)];
    const entry = createEntry({
      status: 200,
      contentType: 'text/html; charset=utf-8',
      freshTtl: 3600,
      grace: 60,
      keep: 3600,
      tags,
      body: Buffer.alloc(2116, 7),
    });
    const without = encodeEntry(entry).length;
    const withSeq = encodeEntry({ ...entry, seq: Date.now() * 1000 + 123 }).length;

    await tier.readRecord();
    await tier.set('ssr:/listings/42', { ...entry, seq: Date.now() * 1000 });
    const before = await commandStats(redis);
    let started = performance.now();
    for (let i = 0; i < READS; i += 1) await tier.get('ssr:/listings/42');
    const getMs = (performance.now() - started) / READS;
    started = performance.now();
    for (let i = 0; i < READS; i += 1) await tier.getWithRecord('ssr:/listings/42');
    const getWithRecordMs = (performance.now() - started) / READS;
    const after = await commandStats(redis);
    const read = {
      reads: READS,
      getMs: Math.round(getMs * 1000) / 1000,
      getWithRecordMs: Math.round(getWithRecordMs * 1000) / 1000,
      redisUsPerGet: usPerCall(before, after, 'get'),
      redisUsPerHmget: usPerCall(before, after, 'hmget'),
    };

    // A copy holding a day of a busy CRM's changes: 1,000 marks, 20 of them patterns.
    const fields: Record<string, string> = { seq: '5000', floor: '1' };
    for (let i = 0; i < 980; i += 1) fields[`t:listing:${i}`] = `${1000 + i}|s|0`;
    for (let i = 0; i < 20; i += 1) fields[`p:ssr:/section-${i}/*`] = `${4000 + i}|s|0`;
    const copy = new InvalidationRecordCopy();
    copy.replace(parseRecord(fields) as RecordSnapshot);
    const VERDICTS = 200_000;
    started = performance.now();
    let fresh = 0;
    for (let i = 0; i < VERDICTS; i += 1) if (copy.verdict('ssr:/listings/42', tags, 3000) === 'fresh') fresh += 1;
    const verdict = { marks: copy.size, patterns: 20, usPerVerdict: Math.round((((performance.now() - started) * 1000) / VERDICTS) * 1000) / 1000 };
    // Fresh after every check: its tags' marks are older than it, and 20 newer patterns are matched against its key and miss.
    if (fresh !== VERDICTS) throw new Error('the bench copy should judge the page fresh');

    const cache = createPageCache({ redis, keyPrefix, routes: { '/listings/:id': { ttl: 3600 } }, memoryTierBytes: 0 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const durations: number[] = [];
    for (let i = 0; i < INVALIDATIONS; i += 1) {
      const result = await cache.invalidate({ tags: [`listing:${i}`, 'sitemap', 'listings:sort:newest:all'], mode: 'soft' });
      durations.push(result.durationMs);
    }
    // Every invalidation runs two scripts (the record, then the tags); time the record's alone.
    const scriptBefore = await commandStats(redis);
    for (let i = 0; i < INVALIDATIONS; i += 1)
      await tier.recordInvalidation({ mode: 'soft', keys: [], tags: [`listing:${i}`, 'sitemap'], patterns: [] }, 86_400_000, 50_000);
    const scriptAfter = await commandStats(redis);
    const invalidation = {
      count: INVALIDATIONS,
      p50Ms: percentile(durations, 0.5),
      p95Ms: percentile(durations, 0.95),
      redisUsPerRecordScript: usPerCall(scriptBefore, scriptAfter, 'eval'),
      marksAfter: (await tier.readRecord())?.marks.size ?? 0,
    };
    await cache.close();
    const report = { entryBytes: { without, with: withSeq }, read, verdict, invalidation };
    progress(
      `entry +${withSeq - without} B; read ${read.getMs} -> ${read.getWithRecordMs} ms; verdict ${verdict.usPerVerdict} us; invalidation p50 ${invalidation.p50Ms} ms\n`,
    );
    return report;
  } finally {
    tier.stop();
    await removeKeys(redis, keyPrefix);
    redis.disconnect();
  }
}
