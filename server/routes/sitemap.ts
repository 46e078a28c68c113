import { setTimeout as sleep } from 'node:timers/promises';
import { Router, type Response } from 'express';
import { eachListingBatch, ListingSourceError, type ListingSource } from '../listings/listing';
import { cacheTags } from '../listings/listing-tags';
import type { PageCache } from 'ssr-page-cache';

export interface SitemapOptions {
  listings: ListingSource;
  publicUrl: string;
  /** URLs per child sitemap (SITEMAP_MAX_URLS; the protocol allows 50,000). */
  maxUrls: number;
  /** The page cache's `tag`. */
  tag: PageCache['tag'];
}

/** What the sitemap needs of a listing. */
interface SitemapListing {
  id: string;
  /** W3C datetime, or undefined when the source gave none that parses. */
  lastmod?: string;
}

export const SITEMAP_INDEX_PATH = '/sitemap.xml';
const SITEMAP_NAMESPACE = 'http://www.sitemaps.org/schemas/sitemap/0.9';
const PAGES_SITEMAP = 'pages.xml';
const LISTINGS_SITEMAP = /^listings-([1-9]\d{0,6})\.xml$/;

/**
 * A read of the listing source for a sitemap (the walk of every listing, or the count) that fails
 * with a `ListingSourceError` is made again after each of these waits, as long as the whole read,
 * waits included, stays within `windowMs`: a source away for a moment costs a crawler a short
 * wait, not a 503. A read that failed late (a timeout, a long walk) or a rate limit (the source
 * already waited as asked, and a walk again would spend the shared limit) is not made again: the
 * 503 with Retry-After follows, or the stored copy (stale-if-error) when there is one.
 */
export const SITEMAP_READ_RETRY: { readonly delaysMs: readonly number[]; readonly windowMs: number } = { delaysMs: [200, 600], windowMs: 2000 };

/** `read()`, made again on a passing failure of the listing source within SITEMAP_READ_RETRY's bound. */
async function withRetries<T>(read: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await read();
    } catch (error) {
      const delay = SITEMAP_READ_RETRY.delaysMs[attempt];
      const again =
        delay !== undefined &&
        error instanceof ListingSourceError &&
        error.failure !== 'rate-limited' &&
        Date.now() - started + delay < SITEMAP_READ_RETRY.windowMs;
      if (!again) throw error;
      await sleep(delay);
    }
  }
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char]!);
}

function w3cDate(value: string | undefined): string | undefined {
  const time = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

function latest(dates: (string | undefined)[]): string | undefined {
  let newest: string | undefined;
  // ISO strings of one format sort as their times do.
  for (const date of dates) if (date !== undefined && (newest === undefined || date > newest)) newest = date;
  return newest;
}

function entry(tag: 'url' | 'sitemap', loc: string, lastmod: string | undefined): string {
  return `<${tag}><loc>${escapeXml(loc)}</loc>${lastmod ? `<lastmod>${lastmod}</lastmod>` : ''}</${tag}>`;
}

function sendXml(tag: PageCache['tag'], res: Response, root: 'urlset' | 'sitemapindex', entries: string[]): void {
  // Every sitemap changes when a listing does: the tag lets an invalidation reach them all.
  tag(res, cacheTags.sitemap);
  res
    .type('application/xml; charset=utf-8')
    .send(`<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${SITEMAP_NAMESPACE}">\n${entries.join('\n')}\n</${root}>\n`);
}

/**
 * `/robots.txt` and `/sitemap.xml`, a sitemap index: `/sitemaps/pages.xml` (home, browse) and
 * `/sitemaps/listings-{n}.xml`, each with at most `maxUrls` detail pages and their update times.
 * The cache stores them as it stores pages (route `sitemap`), so a crawl of the sitemaps reads
 * the listing source once per TTL. A read that fails is made again within a short bound
 * (SITEMAP_READ_RETRY), then is a 503 with Retry-After (the app's error handler), which the cache
 * answers with the stored copy when there is one (stale-if-error), and never stores.
 */
export function createSitemapRouter({ listings, publicUrl, maxUrls, tag }: SitemapOptions): Router {
  const router = Router();
  const origin = publicUrl.replace(/\/+$/, '');
  let reading: Promise<SitemapListing[]> | undefined;

  /**
   * Every listing's id and update time; requests that come while one read runs share it (and its
   * retries). A walk that fails part-way gives nothing: never a short list, which would drop
   * children from the index and detail URLs from a child.
   */
  function readListings(): Promise<SitemapListing[]> {
    reading ??= withRetries(async () => {
      const all: SitemapListing[] = [];
      for await (const batch of eachListingBatch(listings)) {
        for (const listing of batch) all.push({ id: listing.id, lastmod: w3cDate(listing.updatedAt) });
      }
      return all;
    }).finally(() => {
      reading = undefined;
    });
    return reading;
  }

  async function countListings(): Promise<number> {
    return (await withRetries(() => listings.listListings({ page: 1, pageSize: 1, sort: 'newest' }))).total;
  }

  const detailUrl = (id: string) => `${origin}/listings/${encodeURIComponent(id)}`;

  // The same for every listing change, so it carries no tag: it lives its TTL.
  router.get('/robots.txt', (_req, res) => {
    res.type('text/plain; charset=utf-8').send(`User-agent: *\nAllow: /\nDisallow: /api/\n\nSitemap: ${origin}${SITEMAP_INDEX_PATH}\n`);
  });

  router.get(SITEMAP_INDEX_PATH, async (_req, res) => {
    const all = await readListings();
    const children = [entry('sitemap', `${origin}/sitemaps/${PAGES_SITEMAP}`, latest(all.map((listing) => listing.lastmod)))];
    for (let start = 0, part = 1; start < all.length; start += maxUrls, part += 1) {
      const chunk = all.slice(start, start + maxUrls);
      children.push(entry('sitemap', `${origin}/sitemaps/listings-${part}.xml`, latest(chunk.map((listing) => listing.lastmod))));
    }
    sendXml(tag, res, 'sitemapindex', children);
  });

  router.get('/sitemaps/:file', async (req, res, next) => {
    const { file } = req.params;
    // Also the 404 of a part past the end, stored briefly: the catalog growing renews it.
    tag(res, cacheTags.sitemap);
    if (file === PAGES_SITEMAP) {
      const lastmod = latest((await readListings()).map((listing) => listing.lastmod));
      return sendXml(tag, res, 'urlset', [entry('url', `${origin}/`, lastmod), entry('url', `${origin}/listings`, lastmod)]);
    }
    const part = LISTINGS_SITEMAP.exec(file);
    const start = part ? (Number(part[1]) - 1) * maxUrls : Number.POSITIVE_INFINITY;
    // A name it never gives, or a part past the end (the catalog shrank), is a 404, never an
    // empty sitemap; the count costs one call, so a made-up part never reads every listing.
    if (start >= (await countListings())) return next();
    const all = await readListings();
    if (start >= all.length) return next();
    sendXml(
      tag,
      res,
      'urlset',
      all.slice(start, start + maxUrls).map((listing) => entry('url', detailUrl(listing.id), listing.lastmod)),
    );
  });

  return router;
}
