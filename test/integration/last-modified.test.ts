import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import type { Listing, ListingSource } from '../../server/listings/listing';
import { BROWSE_PAGE_SIZE, FEATURED_COUNT, SIMILAR_COUNT } from '../../server/routes/pages';
import { GOOGLEBOT, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import { listen, rawRequest, type RawResponse } from '../helpers/raw-http';

/** The embedded catalog, with listings a test edits (the cache hears of it by an invalidation, as from the CRM's webhook). */
function editableCatalog(): { source: ListingSource; edit(id: string, change: Partial<Listing>): void } {
  const catalog = createEmbeddedCatalog(200);
  const edits = new Map<string, Partial<Listing>>();
  const edited = (listing: Listing): Listing => ({ ...listing, ...edits.get(listing.id) });
  return {
    source: {
      getListing: async (id) => {
        const listing = await catalog.getListing(id);
        return listing && edited(listing);
      },
      listListings: async (query) => {
        const page = await catalog.listListings(query);
        return { ...page, items: page.items.map(edited) };
      },
      listFeatured: async (limit) => (await catalog.listFeatured(limit)).map(edited),
    },
    edit: (id, change) => edits.set(id, { ...edits.get(id), ...change }),
  };
}

const httpDate = (iso: string) => new Date(iso).toUTCString();
const newestUpdate = (shown: Listing[]) => httpDate(new Date(Math.max(...shown.map((listing) => Date.parse(listing.updatedAt)))).toISOString());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Last-Modified: the date a page last changed', () => {
  const catalog = editableCatalog();
  const context = useAppOnRealRedis('last-modified', {}, { listings: catalog.source });
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ url, close } = await listen(context.handle.handler));
  });
  afterAll(async () => close());

  const get = (path: string, headers: Record<string, string> = {}): Promise<RawResponse> =>
    rawRequest(`${url}${path}`, { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'br', ...headers });

  /** The page stored, then its next answer: a HIT. */
  async function stored(path: string): Promise<RawResponse> {
    const miss = await get(path);
    expect(miss.headers['x-cache']).toBe('MISS');
    await waitForStored(context.handle, `ssr:${path}`);
    return miss;
  }

  describe('the listings pages send their data’s date', () => {
    it('dates a detail page by its listing’s updatedAt, and answers If-Modified-Since of that date with 304', async () => {
      catalog.edit('5', { updatedAt: '2026-06-01T10:20:30.456Z' });
      const page = await stored('/listings/5');
      expect(page.headers['last-modified']).toBe('Mon, 01 Jun 2026 10:20:30 GMT');
      const revalidated = await get('/listings/5', { 'If-Modified-Since': 'Mon, 01 Jun 2026 10:20:30 GMT' });
      expect([revalidated.headers['x-cache'], revalidated.status]).toEqual(['HIT', 304]);
      expect((await get('/listings/5', { 'If-Modified-Since': 'Mon, 01 Jun 2026 10:20:29 GMT' })).status).toBe(200);
    });

    it('dates a detail page by the newest update among the listing and the similar ones it shows', async () => {
      const listing = (await catalog.source.getListing('9')) as Listing;
      const nearby = await catalog.source.listListings({ page: 1, pageSize: SIMILAR_COUNT + 1, sort: 'newest', city: listing.city.toLowerCase() });
      const similar = nearby.items.filter((other) => other.id !== '9').slice(0, SIMILAR_COUNT);
      expect(similar.length).toBeGreaterThan(0);
      expect((await stored('/listings/9')).headers['last-modified']).toBe(newestUpdate([listing, ...similar]));
      // A similar listing updated: the page shows it, so it is newer now.
      const shown = similar[similar.length - 1] as Listing;
      catalog.edit(shown.id, { price: (shown.price ?? 0) + 1000, updatedAt: '2026-08-02T08:00:00.000Z' });
      await context.handle.pageCache.invalidate({ tags: [`listing:${shown.id}`] });
      expect((await get('/listings/9')).headers['last-modified']).toBe('Sun, 02 Aug 2026 08:00:00 GMT');
    });

    it('dates the home page and a browse page by the newest update among the listings they show', async () => {
      const featured = await catalog.source.listFeatured(FEATURED_COUNT);
      expect((await stored('/')).headers['last-modified']).toBe(newestUpdate(featured));
      const browse = await catalog.source.listListings({ page: 2, pageSize: BROWSE_PAGE_SIZE, sort: 'price_asc' });
      expect((await stored('/listings?page=2&sort=price_asc')).headers['last-modified']).toBe(newestUpdate(browse.items));
    });

    it('never dates a page after its render (a listing updated "in the future" by a clock ahead)', async () => {
      catalog.edit('16', { updatedAt: new Date(Date.now() + 86_400_000).toISOString() });
      const before = Date.now();
      const page = await get('/listings/16');
      expect(Date.parse(page.headers['last-modified'] as string)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(Date.parse(page.headers['last-modified'] as string)).toBeLessThanOrEqual(Date.now());
    });
  });

  describe('a re-render keeps the date when the bytes are the same', () => {
    it('keeps it after the copies in Redis and in memory are gone (an eviction), so If-Modified-Since still gets a 304', async () => {
      const first = await stored('/robots.txt');
      const lastModified = first.headers['last-modified'] as string;
      // HTTP dates have whole seconds: a render a second later would be dated a second later.
      await sleep(1100);
      await context.redis.del(`${context.prefix}ssr:/robots.txt`);
      context.handle.tiers.memory?.delete(['ssr:/robots.txt']);
      const again = await get('/robots.txt', { 'If-Modified-Since': lastModified });
      expect([again.headers['x-cache'], again.status, again.headers.etag]).toEqual(['MISS', 304, first.headers.etag]);
      expect(again.headers['last-modified']).toBe(lastModified);
      await waitForStored(context.handle, 'ssr:/robots.txt');
      context.handle.tiers.memory?.delete(['ssr:/robots.txt']);
      const fromRedis = await get('/robots.txt');
      expect([fromRedis.headers['x-cache'], fromRedis.headers['last-modified']]).toEqual(['HIT', lastModified]);
    });

    it('keeps it through a soft invalidation with unchanged data (served stale, re-rendered behind)', async () => {
      const first = await stored('/robots.txt');
      const lastModified = first.headers['last-modified'] as string;
      await sleep(1100);
      await context.handle.pageCache.invalidate({ paths: ['/robots.txt'], mode: 'soft' });
      expect((await get('/robots.txt')).headers['x-cache']).toBe('STALE');
      const refreshed = await waitFor(async () => {
        const res = await get('/robots.txt');
        return res.headers['x-cache'] === 'HIT' ? res : undefined;
      }, 5000);
      expect([refreshed.headers.etag, refreshed.headers['last-modified']]).toEqual([first.headers.etag, lastModified]);
      expect((await get('/robots.txt', { 'If-Modified-Since': lastModified })).status).toBe(304);
    });

    it('dates other bytes by the change: the data’s new date', async () => {
      const first = await stored('/listings/12');
      catalog.edit('12', { price: 123_000, updatedAt: '2026-07-01T00:00:00.000Z' });
      await context.handle.pageCache.invalidate({ tags: ['listing:12'] });
      const changed = await get('/listings/12', { 'If-Modified-Since': first.headers['last-modified'] as string });
      expect(changed.status).toBe(200);
      expect(changed.headers.etag).not.toBe(first.headers.etag);
      expect(changed.headers['last-modified']).toBe('Wed, 01 Jul 2026 00:00:00 GMT');
    });

    it('dates other bytes under an unchanged data date by the render, so If-Modified-Since does not hide the change', async () => {
      const first = await stored('/listings/14');
      const dataDate = first.headers['last-modified'] as string;
      // The price changes, the source's date does not (a listing gone from a list changes no date either).
      catalog.edit('14', { price: 99_000 });
      await context.handle.pageCache.invalidate({ paths: ['/listings/14'] });
      const before = Math.floor(Date.now() / 1000) * 1000;
      const changed = await get('/listings/14', { 'If-Modified-Since': dataDate });
      expect(changed.status).toBe(200);
      expect(changed.headers.etag).not.toBe(first.headers.etag);
      expect(Date.parse(changed.headers['last-modified'] as string)).toBeGreaterThanOrEqual(before);
      await waitForStored(context.handle, 'ssr:/listings/14');
      expect((await get('/listings/14', { 'If-Modified-Since': dataDate })).status).toBe(200);
    });
  });
});
