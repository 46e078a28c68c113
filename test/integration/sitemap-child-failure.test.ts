import { XMLParser } from 'fast-xml-parser';
import request from 'supertest';
import { decodeEntry, encodeEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import { SITEMAP_READ_RETRY } from '../../server/routes/sitemap';
import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import { ListingSourceError, type ListingSource, type ListingSourceFailure } from '../../server/listings/listing';
import { GOOGLEBOT, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';

const ORIGIN = 'https://listings.example.com';
const TTL_MS = 3600_000;
const GRACE_MS = 3600_000;
const parser = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'url' || name === 'sitemap' });

/** The `loc`s of a sitemap or a sitemap index. */
function locs(xml: string): string[] {
  const document = parser.parse(xml) as { urlset?: { url?: { loc: string }[] }; sitemapindex?: { sitemap?: { loc: string }[] } };
  const entries = document.urlset?.url ?? document.sitemapindex?.sitemap ?? [];
  return entries.map((entry) => entry.loc.slice(ORIGIN.length));
}

/**
 * The embedded catalog of 60, read by the sitemap through `eachBatch` in batches of 20, and
 * counted through `listListings` (page size 1). `failWalks` walks from now fail after their
 * first batch (mid-walk), `failCounts` counts fail; Infinity: until set back to 0. They fail with
 * `failure` (and `retryAfterSeconds`, as a rate limit says it).
 */
function failingSource() {
  const catalog = createEmbeddedCatalog(60);
  const state = {
    walks: 0,
    counts: 0,
    failWalks: 0,
    failCounts: 0,
    failure: 'unavailable' as ListingSourceFailure,
    retryAfterSeconds: undefined as number | undefined,
  };
  const error = (message: string) => new ListingSourceError(state.failure, message, { retryAfterSeconds: state.retryAfterSeconds });
  const source: ListingSource = {
    getListing: (id) => catalog.getListing(id),
    listFeatured: (limit) => catalog.listFeatured(limit),
    async listListings(query) {
      if (query.pageSize === 1) {
        state.counts += 1;
        if (state.failCounts > 0) {
          state.failCounts -= 1;
          throw error('listing source failed to count');
        }
      }
      return catalog.listListings(query);
    },
    async *eachBatch() {
      state.walks += 1;
      const fails = state.failWalks > 0;
      if (fails) state.failWalks -= 1;
      const { items } = await catalog.listListings({ page: 1, pageSize: 100, sort: 'newest' });
      for (let start = 0; start < items.length; start += 20) {
        if (fails && start > 0) throw error('listing source failed mid-walk');
        yield items.slice(start, start + 20);
      }
    },
  };
  return { source, state };
}

describe('a sitemap child that fails to read (catalog of 60, 25 URLs a sitemap, real Redis)', () => {
  const { source, state } = failingSource();
  const context = useAppOnRealRedis('sitemap-failure', { SITEMAP_MAX_URLS: '25' }, { listings: source });
  const bot = (path: string) => request(context.handle.handler).get(path).set('User-Agent', GOOGLEBOT);

  afterEach(() => {
    state.failWalks = 0;
    state.failCounts = 0;
    state.failure = 'unavailable';
    state.retryAfterSeconds = undefined;
  });

  /** Stores the page at `path` (a MISS), then moves it `ms` into the past and drops in-process copies. */
  async function storeThenAge(path: string, ms: number): Promise<string> {
    const first = await bot(path);
    expect([first.status, first.headers['x-cache']]).toEqual([200, 'MISS']);
    const key = `${context.prefix}ssr:${path}`;
    await waitForStored(context.handle, `ssr:${path}`);
    const entry = decodeEntry(await context.redis.getBuffer(key));
    if (!entry) throw new Error(`no entry at ${key}`);
    await context.redis.set(key, encodeEntry({ ...entry, storedAt: entry.storedAt - ms }), 'KEEPTTL');
    context.handle.tiers.memory?.clear();
    return first.text;
  }

  describe('with a copy stored before', () => {
    it('serves the child in grace (STALE) while its re-read fails, keeps it, and renews it once the source is back', async () => {
      const old = await storeThenAge('/sitemaps/listings-2.xml', TTL_MS + 1000);
      expect(locs(old)).toHaveLength(25);
      const errorsBefore = context.handle.stats.renderErrors;
      state.failWalks = Number.POSITIVE_INFINITY;
      const stale = await bot('/sitemaps/listings-2.xml');
      expect([stale.status, stale.headers['x-cache'], stale.text]).toEqual([200, 'STALE', old]);
      // The background re-read fails (after its retries): the stored child stays.
      await waitFor(async () => (context.handle.stats.renderErrors > errorsBefore ? true : undefined), 5000);
      const again = await bot('/sitemaps/listings-2.xml');
      expect([again.status, again.headers['x-cache'], again.text]).toEqual([200, 'STALE', old]);
      expect(decodeEntry(await context.redis.getBuffer(`${context.prefix}ssr:/sitemaps/listings-2.xml`))?.status).toBe(200);

      state.failWalks = 0;
      const renewed = await waitFor(async () => {
        const res = await bot('/sitemaps/listings-2.xml');
        return res.headers['x-cache'] === 'HIT' ? res : undefined;
      }, 5000);
      expect(locs(renewed.text)).toEqual(locs(old));
    });

    it('serves the child past grace (STALE, render-error) when the read fails, never a 503', async () => {
      const old = await storeThenAge('/sitemaps/listings-3.xml', TTL_MS + GRACE_MS + 1000);
      expect(locs(old)).toHaveLength(10);
      state.failWalks = Number.POSITIVE_INFINITY;
      const res = await bot('/sitemaps/listings-3.xml');
      expect([res.status, res.headers['x-cache'], res.headers['x-cache-reason']]).toEqual([200, 'STALE', 'render-error']);
      expect(res.text).toBe(old);
      // The kept copy is still there for the next crawler.
      expect(decodeEntry(await context.redis.getBuffer(`${context.prefix}ssr:/sitemaps/listings-3.xml`))?.status).toBe(200);
    });

    it('serves the child past grace when the count before the read fails', async () => {
      const old = await storeThenAge('/sitemaps/listings-1.xml', TTL_MS + GRACE_MS + 1000);
      state.failCounts = Number.POSITIVE_INFINITY;
      const res = await bot('/sitemaps/listings-1.xml');
      expect([res.status, res.headers['x-cache'], res.text]).toEqual([200, 'STALE', old]);
    });

    it('serves the index past grace, with every child it listed, when the read fails; each child it lists is served', async () => {
      const children = await storeThenAge('/sitemap.xml', TTL_MS + GRACE_MS + 1000);
      const stored: Record<string, string> = {};
      for (const child of locs(children)) stored[child] = await storeThenAge(child, TTL_MS + GRACE_MS + 1000);
      state.failWalks = Number.POSITIVE_INFINITY;
      const index = await bot('/sitemap.xml');
      expect([index.status, index.headers['x-cache'], index.text]).toEqual([200, 'STALE', children]);
      expect(locs(index.text)).toEqual(['/sitemaps/pages.xml', '/sitemaps/listings-1.xml', '/sitemaps/listings-2.xml', '/sitemaps/listings-3.xml']);
      for (const child of locs(index.text)) {
        const res = await bot(child);
        expect([child, res.status, res.headers['x-cache'], res.text]).toEqual([child, 200, 'STALE', stored[child]]);
        expect(locs(res.text).length).toBeGreaterThan(0);
      }
    });
  });

  describe('on a cold cache', () => {
    it('reads the child again when the read fails mid-walk once: the crawler gets every URL, no 503', async () => {
      state.failWalks = 1;
      const walks = state.walks;
      const res = await bot('/sitemaps/listings-2.xml');
      expect([res.status, res.headers['x-cache']]).toEqual([200, 'MISS']);
      expect(locs(res.text)).toHaveLength(25);
      expect(state.walks - walks).toBe(2);
      await waitForStored(context.handle, 'ssr:/sitemaps/listings-2.xml');
    });

    it('counts again when the count before the read fails once', async () => {
      state.failCounts = 1;
      const res = await bot('/sitemaps/listings-3.xml');
      expect([res.status, res.headers['x-cache']]).toEqual([200, 'MISS']);
      expect(locs(res.text)).toHaveLength(10);
    });

    it('answers 503 with Retry-After within a short bound when the source stays away, stores nothing, and serves the child once it is back', async () => {
      state.failWalks = Number.POSITIVE_INFINITY;
      const walks = state.walks;
      const started = Date.now();
      const res = await bot('/sitemaps/listings-1.xml');
      const elapsed = Date.now() - started;
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('30');
      // One read and SITEMAP_READ_RETRY.delaysMs.length more (one or two), all within the window.
      expect(state.walks - walks).toBe(1 + SITEMAP_READ_RETRY.delaysMs.length);
      expect(SITEMAP_READ_RETRY.delaysMs.length).toBeGreaterThanOrEqual(1);
      expect(SITEMAP_READ_RETRY.delaysMs.length).toBeLessThanOrEqual(2);
      expect(elapsed).toBeGreaterThanOrEqual(SITEMAP_READ_RETRY.delaysMs.reduce((sum, delay) => sum + delay, 0) - 10);
      expect(elapsed).toBeLessThan(SITEMAP_READ_RETRY.windowMs + 1000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await context.redis.exists(`${context.prefix}ssr:/sitemaps/listings-1.xml`)).toBe(0);

      state.failWalks = 0;
      const back = await bot('/sitemaps/listings-1.xml');
      expect([back.status, back.headers['x-cache']]).toEqual([200, 'MISS']);
      expect(locs(back.text)).toHaveLength(25);
    });

    it("does not walk again on a rate limit (the source waited as asked; a walk would spend the shared limit): the 503 says the source's Retry-After", async () => {
      state.failWalks = Number.POSITIVE_INFINITY;
      state.failure = 'rate-limited';
      state.retryAfterSeconds = 12;
      const walks = state.walks;
      const res = await bot('/sitemaps/listings-2.xml');
      expect([res.status, res.headers['retry-after']]).toEqual([503, '12']);
      expect(state.walks - walks).toBe(1);
    });

    it('never turns a failed count into a 404 (which would be stored): a 503 with Retry-After', async () => {
      state.failCounts = Number.POSITIVE_INFINITY;
      const res = await bot('/sitemaps/listings-3.xml');
      expect([res.status, res.headers['retry-after']]).toEqual([503, '30']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await context.redis.exists(`${context.prefix}ssr:/sitemaps/listings-3.xml`)).toBe(0);
    });

    it('never lists a child a failed read would leave empty: the index is a 503, not an index without its listing children', async () => {
      state.failWalks = Number.POSITIVE_INFINITY;
      const res = await bot('/sitemap.xml');
      expect([res.status, res.headers['retry-after']]).toEqual([503, '30']);
      expect(res.text).not.toContain('<sitemapindex');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await context.redis.exists(`${context.prefix}ssr:/sitemap.xml`)).toBe(0);
    });

    it('lists, when every read fails once, only children that are served with URLs', async () => {
      state.failWalks = 1;
      const index = await bot('/sitemap.xml');
      expect(index.status).toBe(200);
      const children = locs(index.text);
      expect(children).toEqual(['/sitemaps/pages.xml', '/sitemaps/listings-1.xml', '/sitemaps/listings-2.xml', '/sitemaps/listings-3.xml']);
      const listed: string[] = [];
      for (const child of children) {
        state.failWalks = 1;
        state.failCounts = 1;
        const res = await bot(child);
        expect([child, res.status]).toEqual([child, 200]);
        expect(locs(res.text).length).toBeGreaterThan(0);
        if (child !== '/sitemaps/pages.xml') listed.push(...locs(res.text));
      }
      expect(new Set(listed).size).toBe(60);
    });
  });
});
