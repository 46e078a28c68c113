import { createEntry } from '../../src/entry/cache-entry';
import { MemoryTier } from '../../src/tiers/memory-tier';
import { PreparedPage } from '../../src/entry/prepared-page';

const page = (bytes: number, freshTtl = 60, storedAt = Date.now()) =>
  new PreparedPage(createEntry({ status: 200, contentType: 'text/html', freshTtl, storedAt, body: Buffer.alloc(bytes, 97) }));

describe('MemoryTier', () => {
  it('holds no more bytes than its bound, dropping the least recently used', () => {
    const tier = new MemoryTier(10_000);
    for (let index = 0; index < 10; index += 1) tier.set(`ssr:/listings/${index}`, page(2_000));
    expect(tier.bytes).toBeLessThanOrEqual(10_000);
    expect(tier.size).toBeLessThan(10);
    expect(tier.get('ssr:/listings/9')).toBeDefined();
    expect(tier.get('ssr:/listings/0')).toBeUndefined();
  });

  it('does not keep a page larger than the whole bound', () => {
    const tier = new MemoryTier(1_000);
    tier.set('ssr:/big', page(5_000));
    expect(tier.get('ssr:/big')).toBeUndefined();
  });

  it('keeps a page no longer than its remaining freshness', async () => {
    const tier = new MemoryTier(100_000);
    tier.set('ssr:/a', page(100, 1, Date.now() - 900));
    expect(tier.get('ssr:/a')).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(tier.get('ssr:/a')).toBeUndefined();
    tier.set('ssr:/stale', page(100, 60, Date.now() - 120_000));
    expect(tier.get('ssr:/stale')).toBeUndefined();
  });

  it('drops every page rather than spend more than its budget matching patterns against many long keys', () => {
    const tier = new MemoryTier(512 * 1024 * 1024);
    for (let index = 0; index < 5000; index += 1) tier.set(`ssr:/${'a'.repeat(480)}${index}`, page(10));
    // A budget of 0 ms: the first check past it gives up matching and drops everything.
    expect(tier.deletePatterns(['ssr:/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b'], 0)).toBe(5000);
    expect(tier.size).toBe(0);
    for (let index = 0; index < 5000; index += 1) tier.set(`ssr:/${'a'.repeat(480)}${index}`, page(10));
    // Within the budget, only the matching pages go.
    expect(tier.deletePatterns([`ssr:/${'a'.repeat(480)}1*`], 10_000)).toBe(1111);
    expect(tier.size).toBe(5000 - 1111);
  });

  it('deletes by key and by Redis glob pattern', () => {
    const tier = new MemoryTier(100_000);
    for (const key of ['ssr:/', 'ssr:/listings', 'ssr:/listings?page=2', 'ssr:/listings/1', 'ssr:/listingsX']) tier.set(key, page(10));
    expect(tier.deletePatterns(['ssr:/listings\\?*'])).toBe(1);
    expect(tier.delete(['ssr:/', 'ssr:/missing'])).toBe(1);
    expect(tier.deletePatterns(['ssr:/listings/*'])).toBe(1);
    expect(tier.get('ssr:/listings')).toBeDefined();
    expect(tier.get('ssr:/listingsX')).toBeDefined();
  });

  it('drops every page for a pattern Redis would misread, instead of throwing (the safe direction)', () => {
    const tier = new MemoryTier(100_000);
    for (const key of ['ssr:/', 'ssr:/listings/1', 'ssr:/listings/7']) tier.set(key, page(10));
    expect(tier.deletePatterns(['ssr:/listings/[9-1]*'])).toBe(3);
    expect(tier.size).toBe(0);
  });
});
