import { createEmbeddedCatalog, generateCatalog } from '../../server/listings/embedded-catalog';

describe('the embedded catalog', () => {
  it('is the same on every start', () => {
    expect(generateCatalog(50)).toEqual(generateCatalog(50));
    expect(generateCatalog(1000)).toHaveLength(1000);
    expect(new Set(generateCatalog(1000).map((listing) => listing.id)).size).toBe(1000);
  });

  it('pages, sorts and filters by city', async () => {
    const source = createEmbeddedCatalog(300);
    const cheapest = await source.listListings({ page: 1, pageSize: 24, sort: 'price_asc' });
    expect(cheapest.total).toBe(300);
    expect(cheapest.items).toHaveLength(24);
    const prices = cheapest.items.map((listing) => listing.price as number);
    expect(prices.every((price) => typeof price === 'number' && price > 0)).toBe(true);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    const second = await source.listListings({ page: 2, pageSize: 24, sort: 'price_asc' });
    expect(second.items[0]!.price).toBeGreaterThanOrEqual(prices[23]!);
    const lisbon = await source.listListings({ page: 1, pageSize: 500, sort: 'newest', city: 'lisbon' });
    expect(lisbon.items.length).toBeGreaterThan(0);
    expect(lisbon.items.every((listing) => listing.city === 'Lisbon')).toBe(true);
    expect((await source.listListings({ page: 1, pageSize: 24, sort: 'newest', city: 'atlantis' })).items).toEqual([]);
  });

  it('finds listings by id and lists the featured ones', async () => {
    const source = createEmbeddedCatalog(300);
    expect((await source.getListing('123'))?.id).toBe('123');
    expect(await source.getListing('9999')).toBeUndefined();
    const featured = await source.listFeatured(5);
    expect(featured.length).toBeGreaterThan(0);
    expect(featured.every((listing) => listing.featured)).toBe(true);
  });

  it('puts listings without a price last in both price orders, as Twenty does', async () => {
    const listings = generateCatalog(6).map((listing, index) => (index % 2 === 0 ? { ...listing, price: null } : listing));
    const source = createEmbeddedCatalog(6, listings);
    for (const sort of ['price_asc', 'price_desc'] as const) {
      const { items } = await source.listListings({ page: 1, pageSize: 24, sort });
      const prices = items.map((listing) => listing.price);
      expect(prices.slice(3)).toEqual([null, null, null]);
      const priced = prices.slice(0, 3) as number[];
      expect(priced).toEqual([...priced].sort((a, b) => (sort === 'price_asc' ? a - b : b - a)));
      expect(items.slice(3).map((listing) => listing.id)).toEqual(['1', '3', '5']);
    }
  });
});
