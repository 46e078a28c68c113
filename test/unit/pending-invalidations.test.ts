import { MAX_PENDING, PendingInvalidations } from '../../packages/ssr-page-cache/src/coordination/pending-invalidations';
import { createEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { RedisTier } from '../../packages/ssr-page-cache/src/redis/redis-tier';
import { MemoryTier } from '../../packages/ssr-page-cache/src/tiers/memory-tier';
import { TierStack } from '../../packages/ssr-page-cache/src/tiers/tier-stack';
import { silentLogger } from '../../packages/ssr-page-cache/src/logger';
import { waitFor } from '../helpers/app';
import { createMockRedis } from '../helpers/redis';
import { createPageCache } from 'ssr-page-cache';
import { internalsOf } from '../../packages/ssr-page-cache/src/internals';

const page = (html: string) => createEntry({ status: 200, contentType: 'text/html; charset=utf-8', freshTtl: 60, body: Buffer.from(html) });

describe('invalidations waiting for Redis', () => {
  it('keeps pages in Redis from being read until they are applied, then applies them in order', async () => {
    const redis = createMockRedis();
    const tier = new RedisTier({ redis, logger: silentLogger });
    const tiers = new TierStack({ redis: tier });
    await tier.set('ssr:/a', page('<p>old a</p>'));
    await tier.set('ssr:/b', page('<p>b</p>'));
    tiers.pending.add({ keys: ['ssr:/a'], patterns: [] }, 'hard');
    // The old page is there, but an accepted invalidation removes it: not served.
    expect(await tiers.get('ssr:/a')).toBeUndefined();
    expect(await tiers.get('ssr:/b')).toBeUndefined();
    await waitFor(async () => (tiers.pending.size === 0 ? true : undefined), 2000, 5);
    expect(await redis.exists('ssr:/a')).toBe(0);
    expect((await tiers.get('ssr:/b'))?.page.entry.body.toString()).toBe('<p>b</p>');
    tier.stop();
  });

  it('keeps no page in memory from a Redis read that an invalidation overtook (here or from the bus)', async () => {
    const redis = createMockRedis();
    const tier = new RedisTier({ redis, logger: silentLogger });
    const memory = new MemoryTier(1024 * 1024);
    const tiers = new TierStack({ redis: tier, memory });
    // An entry of this release: numbered by the invalidation record (one without a number is stale, never kept in memory).
    await tiers.syncRecord();
    await tier.set('ssr:/slow', { ...page('<p>old</p>'), seq: tiers.renderSeq() });
    let invalidateDuringRead: () => void = () => undefined;
    const read = tier.get.bind(tier);
    tier.get = async (key: string) => {
      const entry = await read(key);
      invalidateDuringRead();
      return entry;
    };
    invalidateDuringRead = () => tiers.dropFromMemory({ keys: ['ssr:/slow'], patterns: [] });
    await tiers.get('ssr:/slow');
    expect(memory.get('ssr:/slow')).toBeUndefined();
    invalidateDuringRead = () => undefined;
    await new Promise((resolve) => setTimeout(resolve, 2));
    await tiers.get('ssr:/slow');
    expect(memory.get('ssr:/slow')).toBeDefined();
    tier.stop();
  });

  it('applies what still waits on close, when Redis answers by then, instead of only logging it', async () => {
    const redis = createMockRedis();
    const cache = createPageCache({ redis, routes: { '/a': { ttl: 60 } } });
    const { cache: tier, tiers } = internalsOf(cache);
    await tier.set('ssr:/a', page('<p>old a</p>'));
    tiers.pending.add({ keys: ['ssr:/a'], patterns: [] }, 'hard');
    await cache.close();
    expect(tiers.pending.size).toBe(0);
    expect(await redis.exists('ssr:/a')).toBe(0);
  });

  it('replays in the order accepted and stops at the first that Redis does not take', async () => {
    const pending = new PendingInvalidations();
    for (const key of ['ssr:/1', 'ssr:/2', 'ssr:/3']) pending.add({ keys: [key], patterns: [] }, 'hard');
    const seen: string[] = [];
    const applied = await pending.drain(async (item) => {
      seen.push(item.message.keys[0] as string);
      return item.message.keys[0] !== 'ssr:/2';
    });
    expect([applied, seen, pending.size]).toEqual([1, ['ssr:/1', 'ssr:/2'], 2]);
  });

  it('collapses into one invalidation of every page when too many wait, so none is lost', () => {
    const pending = new PendingInvalidations();
    for (let i = 0; i <= MAX_PENDING; i += 1) pending.add({ keys: [`ssr:/${i}`], patterns: [] }, 'soft');
    expect(pending.size).toBe(1);
    expect(pending.describe()).toEqual([{ keys: [], patterns: ['ssr:*'], tags: [] }]);
  });
});
