import { XMLParser } from 'fast-xml-parser';
import request from 'supertest';
import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import type { Listing } from '../../server/listings/listing';
import { GOOGLEBOT, TEST_TOKEN, testApp, useAppOnRealRedis, waitForStored } from '../helpers/app';
import { startTwentyStub, twentyRecord } from '../helpers/twenty-stub';

const ORIGIN = 'https://listings.example.com';
const NAMESPACE = 'http://www.sitemaps.org/schemas/sitemap/0.9';
const W3C_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  isArray: (name) => name === 'url' || name === 'sitemap',
});

type Entry = { loc: string; lastmod?: string };

/**
 * The shape the sitemap schema (sitemaps.org/schemas/sitemap/0.9) gives: one root in the
 * sitemap namespace, entries with only `loc` (an absolute URL under 2,048 characters on this
 * site) and an optional W3C `lastmod`, at most 50,000 of them.
 */
function readSitemapXml(xml: string, root: 'urlset' | 'sitemapindex'): Entry[] {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
  const document = parser.parse(xml, true) as Record<string, unknown>;
  expect(Object.keys(document).filter((key) => key !== '?xml')).toEqual([root]);
  const body = document[root] as Record<string, unknown>;
  expect(body['@xmlns']).toBe(NAMESPACE);
  const entries = (body[root === 'urlset' ? 'url' : 'sitemap'] ?? []) as Entry[];
  expect(entries.length).toBeLessThanOrEqual(50_000);
  for (const entry of entries) {
    expect(Object.keys(entry).every((key) => key === 'loc' || key === 'lastmod')).toBe(true);
    expect(entry.loc.startsWith(`${ORIGIN}/`)).toBe(true);
    expect(entry.loc.length).toBeLessThan(2048);
    expect(new URL(entry.loc).toString()).toBe(entry.loc);
    if (entry.lastmod !== undefined) expect(entry.lastmod).toMatch(W3C_DATETIME);
  }
  return entries;
}

const bot = (app: Parameters<typeof request>[0], path: string) => request(app).get(path).set('User-Agent', GOOGLEBOT);
const pathOf = (loc: string) => loc.slice(ORIGIN.length);

/** The index and every child sitemap it names, read as a crawler would. */
async function crawlSitemaps(app: Parameters<typeof request>[0]): Promise<{ children: Entry[]; pages: Entry[][] }> {
  const index = await bot(app, '/sitemap.xml');
  expect(index.status).toBe(200);
  expect(index.headers['content-type']).toBe('application/xml; charset=utf-8');
  const children = readSitemapXml(index.text, 'sitemapindex');
  const pages: Entry[][] = [];
  for (const child of children) {
    const res = await bot(app, pathOf(child.loc));
    expect(res.status).toBe(200);
    pages.push(readSitemapXml(res.text, 'urlset'));
  }
  return { children, pages };
}

describe('robots.txt and the sitemap (embedded catalog of 60, 25 URLs a sitemap, real Redis)', () => {
  const catalog = createEmbeddedCatalog(60);
  const context = useAppOnRealRedis('sitemap', { SITEMAP_MAX_URLS: '25' }, { listings: catalog });
  let all: Listing[];
  beforeAll(async () => {
    all = (await catalog.listListings({ page: 1, pageSize: 100, sort: 'newest' })).items;
  });

  it('robots.txt allows the site, keeps bots off the API and names the sitemap index', async () => {
    const res = await bot(context.handle.handler, '/robots.txt');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    const lines = res.text.split('\n');
    expect(lines).toEqual(expect.arrayContaining(['User-agent: *', 'Allow: /', 'Disallow: /api/', `Sitemap: ${ORIGIN}/sitemap.xml`]));
  });

  it('splits at the limit: the pages sitemap, then 25 + 25 + 10 listings; every listing once, with its update time', async () => {
    const { children, pages } = await crawlSitemaps(context.handle.handler);
    expect(children.map((child) => pathOf(child.loc))).toEqual([
      '/sitemaps/pages.xml',
      '/sitemaps/listings-1.xml',
      '/sitemaps/listings-2.xml',
      '/sitemaps/listings-3.xml',
    ]);
    expect(pages.map((entries) => entries.length)).toEqual([2, 25, 25, 10]);
    expect(pages[0]!.map((entry) => pathOf(entry.loc))).toEqual(['/', '/listings']);

    const listed = pages.slice(1).flat();
    const expected = new Map(all.map((listing) => [`${ORIGIN}/listings/${listing.id}`, new Date(listing.updatedAt).toISOString()]));
    expect(new Set(listed.map((entry) => entry.loc)).size).toBe(listed.length);
    expect(new Map(listed.map((entry) => [entry.loc, entry.lastmod]))).toEqual(expected);

    // Each child's lastmod in the index is the newest of its entries.
    const newest = (entries: Entry[]) =>
      entries
        .map((entry) => entry.lastmod!)
        .sort()
        .at(-1);
    expect(children.map((child) => child.lastmod)).toEqual(pages.map(newest));
  });

  it('answers a child past the end, or one it never names, with a 404', async () => {
    for (const path of ['/sitemaps/listings-4.xml', '/sitemaps/listings-0.xml', '/sitemaps/other.xml']) {
      expect((await bot(context.handle.handler, path)).status).toBe(404);
    }
  });

  it('is served through the cache, and a listing invalidation makes it fresh', async () => {
    const { handle } = context;
    expect((await bot(handle.handler, '/sitemaps/listings-1.xml')).headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/sitemaps/listings-1.xml');
    const hit = await bot(handle.handler, '/sitemaps/listings-1.xml');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-type']).toBe('application/xml; charset=utf-8');
    readSitemapXml(hit.text, 'urlset');

    const res = await request(handle.app).post('/api/cache/invalidate').set('Authorization', `Bearer ${TEST_TOKEN}`).send({ type: 'listing', id: all[0]!.id });
    expect(res.status).toBe(200);
    expect(res.body.tags).toContain('sitemap');
    expect((await bot(handle.handler, '/sitemaps/listings-1.xml')).headers['x-cache']).toBe('MISS');
  });
});

describe('the sitemap with the default limit', () => {
  it('puts a 200-listing catalog in one child sitemap', async () => {
    const handle = testApp({ SSR_CACHE_ENABLED: 'false' });
    try {
      const { children, pages } = await crawlSitemaps(handle.app);
      expect(children).toHaveLength(2);
      expect(pages[1]).toHaveLength(200);
    } finally {
      await handle.close();
    }
  });
});

describe('the sitemap from Twenty', () => {
  it('reads every record by one cursor walk at the largest page Twenty gives, escaping ids in URLs', async () => {
    const records = Array.from({ length: 130 }, (_, index) =>
      twentyRecord(`rec-${index}`, { updatedAt: `2026-03-${String((index % 28) + 1).padStart(2, '0')}T08:00:00.000Z` }),
    );
    records.push(twentyRecord('a&b<c>', { updatedAt: 'not a date' }));
    // Current Twenty gives up to 200 records a call (older ones clamp to 60: the walk just takes more calls).
    const stub = await startTwentyStub(records, { maxLimit: 200 });
    const handle = testApp({ SSR_CACHE_ENABLED: 'false', LISTING_SOURCE: 'twenty', TWENTY_API_URL: stub.url, TWENTY_API_KEY: 'key' });
    try {
      const { pages } = await crawlSitemaps(handle.app);
      const listed = pages.slice(1).flat();
      expect(listed).toHaveLength(131);
      expect(listed.find((entry) => entry.loc.endsWith('/rec-5'))?.lastmod).toBe('2026-03-06T08:00:00.000Z');
      // An id that needs escaping is percent-encoded in the URL; a date that does not parse is left out.
      expect(listed.find((entry) => entry.loc.includes('/listings/a%'))).toEqual({ loc: `${ORIGIN}/listings/a%26b%3Cc%3E` });
      const lists = stub.requests.filter((req) => req.path === '/rest/listings');
      // The index, pages.xml and listings-1.xml, each read by one walk: one call of 200 for 131
      // records; the listings part asks the count first.
      expect(lists.map((req) => req.query.get('limit')).sort()).toEqual(['1', '200', '200', '200']);

      // A part past the end is a 404 for the price of the count: no walk.
      stub.requests.length = 0;
      expect((await bot(handle.app, '/sitemaps/listings-99.xml')).status).toBe(404);
      // At most the count (here remembered from the first crawl by the listing-data cache), never a walk.
      expect(stub.requests.length).toBeLessThanOrEqual(1);
      expect(stub.requests.filter((req) => req.query.get('limit') !== '1')).toEqual([]);
    } finally {
      await handle.close();
      await stub.close();
    }
  });
});
