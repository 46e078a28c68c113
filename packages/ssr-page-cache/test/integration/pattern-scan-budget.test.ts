import { createEntry } from '../../src/entry/cache-entry';
import { silentLogger } from '../../src/logger';
import { RedisTier } from '../../src/redis/redis-tier';
import { TierStack } from '../../src/tiers/tier-stack';
import { inspectionClient, removeKeys, uniquePrefix } from '../helpers';

/**
 * One invalidation's pattern work in Redis is bounded (SCAN calls), and says how far it got; a
 * page the scan did not reach is judged by the invalidation record on read all the same.
 */
describe('a pattern invalidation over more keys than its scan budget (real Redis)', () => {
  const prefix = uniquePrefix('scan-budget');
  const redis = inspectionClient();

  afterAll(async () => {
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  it.each(['hard', 'soft'] as const)('stops after its SCAN calls (%s), reports it, and serves none of the unreached pages as fresh', async (mode) => {
    const tier = new RedisTier({ redis, logger: silentLogger, keyPrefix: `${prefix}${mode}:`, batchSize: 10 });
    const tiers = new TierStack({ redis: tier, maxScanCalls: 3 });
    await redis.ping();
    await tiers.syncRecord();
    const keys = Array.from({ length: 200 }, (_, index) => `ssr:/section/${index}`);
    for (const key of keys) {
      const entry = createEntry({ status: 200, contentType: 'text/html', freshTtl: 600, body: Buffer.from(key) });
      await tiers.set(key, entry);
    }
    expect((await tiers.get('ssr:/section/7'))?.stale).toBe(false);

    const outcome = await tiers.invalidate({ keys: [], patterns: ['ssr:/section/*'], tags: [] }, mode);
    expect(outcome.ok).toBe(true);
    expect(outcome.scan).toEqual({ examined: 30, complete: false });
    // Most pages are still in Redis, untouched by the scan.
    const untouched = keys.length - (mode === 'hard' ? outcome.deleted : 0);
    expect(untouched).toBeGreaterThan(150);

    for (const key of keys) {
      const hit = await tiers.get(key);
      if (mode === 'hard') expect(hit).toBeUndefined();
      else expect(hit?.stale).toBe(true);
    }
    tier.stop();
  });
});
