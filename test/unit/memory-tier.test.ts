import { createEntry } from '../../server/page-cache/entry/cache-entry';
import { globToRegExp, MemoryTier } from '../../server/page-cache/tiers/memory-tier';
import { PreparedPage } from '../../server/page-cache/entry/prepared-page';

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

  it('deletes by key and by Redis glob pattern', () => {
    const tier = new MemoryTier(100_000);
    for (const key of ['ssr:/', 'ssr:/listings', 'ssr:/listings?page=2', 'ssr:/listings/1', 'ssr:/listingsX']) tier.set(key, page(10));
    expect(tier.deletePattern('ssr:/listings\\?*')).toBe(1);
    expect(tier.delete(['ssr:/', 'ssr:/missing'])).toBe(1);
    expect(tier.deletePattern('ssr:/listings/*')).toBe(1);
    expect(tier.get('ssr:/listings')).toBeDefined();
    expect(tier.get('ssr:/listingsX')).toBeDefined();
  });
});

describe('globToRegExp', () => {
  it.each([
    ['ssr:/listings\\?*', 'ssr:/listings?page=2', true],
    ['ssr:/listings\\?*', 'ssr:/listings/2', false],
    ['ssr:/listings?*', 'ssr:/listings/2', true],
    ['ssr:/l[io]st', 'ssr:/lost', true],
    ['ssr:/l[^io]st', 'ssr:/lost', false],
    ['ssr:/a.b', 'ssr:/aXb', false],
    ['ssr:/(x)+', 'ssr:/(x)+', true],
  ])('%s matches %s: %s', (glob, key, expected) => {
    expect(globToRegExp(glob).test(key)).toBe(expected);
  });
});
