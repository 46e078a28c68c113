import { createEntry } from '../../src/entry/cache-entry';
import { PreparedPage } from '../../src/entry/prepared-page';
import { silentLogger } from '../../src/logger';
import { RedisTier } from '../../src/redis/redis-tier';
import { MemoryTier } from '../../src/tiers/memory-tier';
import { TierStack } from '../../src/tiers/tier-stack';
import type { InvalidationMessage } from '../../src/coordination/invalidation-bus';
import { inspectionClient, removeKeys, uniquePrefix } from '../helpers';

const page = (tag: string) => createEntry({ status: 200, contentType: 'text/html', freshTtl: 600, tags: [tag], body: Buffer.from(tag) });

/**
 * Pub/sub delivers at most once: an instance that misses a message learns of it from the shared
 * record, and applies it (its host's data, its in-process pages) as if the message had come.
 */
describe('an instance that missed a bus message (real Redis)', () => {
  const prefix = uniquePrefix('record-sync');
  const redis = inspectionClient();

  afterAll(async () => {
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  it('reads the record when a message skips a number, and applies the skipped invalidation to its pages and its host', async () => {
    await redis.ping();
    const heard: { origin: string; tags: readonly string[] }[] = [];
    const make = (memory?: MemoryTier) =>
      new TierStack({
        redis: new RedisTier({ redis, logger: silentLogger, keyPrefix: prefix }),
        memory,
        onInvalidate: (origin, message) => heard.push({ origin, tags: message.tags ?? [] }),
      });
    const memoryA = new MemoryTier(1024 * 1024);
    const a = make(memoryA);
    const b = make();
    await Promise.all([a.syncRecord(), b.syncRecord()]);
    memoryA.set('ssr:/one', new PreparedPage(page('one')));
    memoryA.set('ssr:/two', new PreparedPage(page('two')));

    // B makes two invalidations; A hears only of the second (the first message was lost).
    const sent: InvalidationMessage[] = [];
    await b.invalidate({ keys: [], patterns: [], tags: ['one'] }, 'soft');
    sent.push({ keys: [], patterns: [], tags: ['one'], seq: b.record.seq, mode: 'soft' });
    await b.invalidate({ keys: [], patterns: [], tags: ['two'] }, 'soft');
    sent.push({ keys: [], patterns: [], tags: ['two'], seq: b.record.seq, mode: 'soft' });
    heard.length = 0;
    a.receive(sent[1] as InvalidationMessage);
    expect(memoryA.get('ssr:/two')).toBeUndefined();
    expect(memoryA.get('ssr:/one')).toBeDefined();

    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(memoryA.get('ssr:/one')).toBeUndefined();
    expect(heard).toContainEqual({ origin: 'record', tags: ['one'] });
    expect(a.record.seq).toBe(b.record.seq);
  });

  it("judges a page stored by a render that overlapped another instance's invalidation stale, before any message arrives", async () => {
    await redis.ping();
    const make = () => new TierStack({ redis: new RedisTier({ redis, logger: silentLogger, keyPrefix: `${prefix}overlap:` }) });
    const a = make();
    const b = make();
    await Promise.all([a.syncRecord(), b.syncRecord()]);
    // A's render begins; B accepts an invalidation of what it shows; A stores, not having heard of it (no bus here).
    const render = { since: Date.now(), seq: a.renderSeq() };
    await b.invalidate({ keys: [], patterns: [], tags: ['listing:1'] }, 'soft');
    expect(await a.set('ssr:/listings/1', page('listing:1'), render)).toBe('stored');
    expect((await a.get('ssr:/listings/1'))?.stale).toBe(true);
    const c = make();
    expect((await c.get('ssr:/listings/1'))?.stale).toBe(true);
    // Hard: a miss on every instance.
    const again = { since: Date.now(), seq: a.renderSeq() };
    await b.invalidate({ keys: [], patterns: ['ssr:/listings/*'], tags: [] }, 'hard');
    await a.set('ssr:/listings/1', page('listing:1'), again);
    expect(await make().get('ssr:/listings/1')).toBeUndefined();
    // A render that began after both is fresh everywhere.
    const fresh = make();
    await fresh.syncRecord();
    await fresh.set('ssr:/listings/1', page('listing:1'), { since: Date.now(), seq: fresh.renderSeq() });
    expect((await make().get('ssr:/listings/1'))?.stale).toBe(false);
  });
});
