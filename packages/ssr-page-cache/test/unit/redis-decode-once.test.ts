import { brotliCompressSync } from 'node:zlib';
import { createEntry } from '../../src/entry/cache-entry';
import { silentLogger } from '../../src/logger';
import { RedisTier } from '../../src/redis/redis-tier';
import { TierStack } from '../../src/tiers/tier-stack';
import { createMockRedis } from '../helpers';

const html = `<!DOCTYPE html><html><body>${'<p>A flat with a view of the river.</p>'.repeat(200)}</body></html>`;
const stored = (body: string, storedAt = Date.now()) =>
  createEntry({
    status: 200,
    contentType: 'text/html; charset=utf-8',
    freshTtl: 60,
    body: brotliCompressSync(Buffer.from(body)),
    encoding: 'br',
    etag: `"${body.length}-${storedAt}"`,
    storedAt,
  });

/**
 * Redis stays the authority (it is read on every hit without an in-process tier), but a value it
 * returns again unchanged is not decoded again: the same prepared page, and the same identity
 * body for a client that accepts no compression, serve every such hit.
 */
describe('Redis-tier hits decode a stored value once', () => {
  it('reuses the prepared page and its identity body while Redis returns the same value, and decodes a new one', async () => {
    const redis = createMockRedis();
    const tier = new RedisTier({ redis, logger: silentLogger });
    const tiers = new TierStack({ redis: tier });
    await tier.set('ssr:/a', stored(html));

    const first = (await tiers.get('ssr:/a'))!.page;
    const identity = tiers.variant('ssr:/a', first, 'identity').body;
    expect(identity.toString()).toBe(html);
    const second = (await tiers.get('ssr:/a'))!.page;
    expect(second).toBe(first);
    expect(tiers.variant('ssr:/a', second, 'identity').body).toBe(identity);

    // A new value at the key (a re-render) is decoded: never the memo of the old one.
    const changed = html.replace('river', 'harbour');
    await tier.set('ssr:/a', stored(changed, Date.now() + 1000));
    const third = (await tiers.get('ssr:/a'))!.page;
    expect(third).not.toBe(first);
    expect(tiers.variant('ssr:/a', third, 'identity').body.toString()).toBe(changed);
    tier.stop();
  });
});
