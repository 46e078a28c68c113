import { Router, type Response } from 'express';
import { LISTING_SORTS, ListingSourceError, type Listing, type ListingSort, type ListingSource } from '../listings/listing';
import { browsePage } from '../ssr/browse-page';
import { errorPage } from '../ssr/error-page';
import { homePage } from '../ssr/home-page';
import { listingPage } from '../ssr/listing-page';
import { renderPage, type RenderedPage } from '../ssr/render-page';
import { cacheTags } from '../listings/listing-tags';
import { queryNormalisers, type PageCache } from 'ssr-page-cache';

export const BROWSE_PAGE_SIZE = 24;
export const FEATURED_COUNT = 12;
export const SIMILAR_COUNT = 12;
const MAX_PAGE = 100_000;
const MAX_ID_LENGTH = 128;

export interface PageRoutesOptions {
  listings: ListingSource;
  publicUrl: string;
  /** Names what a page shows, for exact invalidation (the page cache's `tag`). */
  tag: PageCache['tag'];
  /** Keeps a page fresh for less than its route's TTL (the page cache's `ttl`). */
  ttl?: PageCache['ttl'];
  /** How long a page rendered without a secondary part (SSR_CACHE_DEGRADED_TTL) stays fresh. */
  degradedTtlSeconds?: number;
  /** Told when a page is rendered without a part it could not read. */
  onDegraded?(part: string, error: ListingSourceError, url: string): void;
}

type QueryValue = string | string[] | undefined;
type BrowseParams = { page: number; sort: ListingSort; city?: string };

/** The first non-empty value of a parameter: the same reading the cache key makes. */
function firstValue(value: unknown): string | undefined {
  const values = Array.isArray(value) ? value : [value];
  return values.find((item): item is string => typeof item === 'string' && item.trim() !== '');
}

export function parseBrowseQuery(query: Record<string, QueryValue>): BrowseParams | { error: string } {
  const rawPage = firstValue(query.page);
  const rawSort = firstValue(query.sort);
  const rawCity = firstValue(query.city);
  const pageText = rawPage === undefined ? '1' : queryNormalisers.positiveInteger(rawPage);
  const page = /^\d+$/.test(pageText) ? Number(pageText) : Number.NaN;
  if (!(page >= 1 && page <= MAX_PAGE)) {
    return { error: `page must be a whole number from 1 to ${MAX_PAGE}` };
  }
  const sort = rawSort === undefined ? 'newest' : queryNormalisers.lowercaseWords(rawSort);
  if (!(LISTING_SORTS as readonly string[]).includes(sort)) {
    return { error: `sort must be one of ${LISTING_SORTS.join(', ')}` };
  }
  const city = rawCity === undefined ? undefined : queryNormalisers.lowercaseWords(rawCity);
  return { page, sort: sort as ListingSort, city };
}

/** Canonical relative URL of a browse page: parameters sorted, defaults left out. */
export function browseUrl({ page, sort, city }: BrowseParams): string {
  const params = new URLSearchParams();
  if (city) params.set('city', city);
  if (page > 1) params.set('page', String(page));
  if (sort !== 'newest') params.set('sort', sort);
  const query = params.toString();
  return query ? `/listings?${query}` : '/listings';
}

/**
 * Last-Modified: the newest update among the listings a page shows (none when no date is known),
 * never later than now. The cache keeps a re-render's date when its bytes are unchanged, and uses
 * the render time when they changed with no newer date here (a listing gone from the list).
 */
function dateFromData(res: Response, shown: readonly Listing[]): void {
  let newest = Number.NEGATIVE_INFINITY;
  for (const listing of shown) {
    const updated = Date.parse(listing.updatedAt);
    if (updated > newest) newest = updated;
  }
  if (Number.isFinite(newest)) res.setHeader('Last-Modified', new Date(Math.min(newest, Date.now())).toUTCString());
}

export function sendPage(res: Response, page: RenderedPage): void {
  res.status(page.status).type('html').send(renderPage(page));
}

/** The SSR server's own routes; the cache middleware sits in front of them. */
export function createPageRouter({ listings, publicUrl, tag, ttl, degradedTtlSeconds = 60, onDegraded }: PageRoutesOptions): Router {
  const router = Router();

  /**
   * A secondary part of a page (its "more homes" list, the home page's featured homes) read
   * without failing the page: when the source cannot answer, the page goes out without it (200)
   * and stays fresh only briefly, so it is re-rendered whole soon. The page's own record or list
   * still fails the page (503).
   */
  async function secondary<T>(res: Response, part: string, read: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof ListingSourceError)) throw error;
      ttl?.(res, degradedTtlSeconds);
      onDegraded?.(part, error, res.req.originalUrl);
      return fallback;
    }
  }

  const listingTags = (shown: Listing[]) => shown.map((listing) => cacheTags.listing(listing.id));

  router.get('/', async (_req, res) => {
    const featured = await secondary(res, 'featured', () => listings.listFeatured(FEATURED_COUNT), []);
    tag(res, cacheTags.home, ...listingTags(featured));
    dateFromData(res, featured);
    sendPage(res, homePage(publicUrl, featured));
  });

  router.get('/listings', async (req, res) => {
    const params = parseBrowseQuery(req.query as Record<string, QueryValue>);
    if ('error' in params) return sendPage(res, errorPage(publicUrl, 400, params.error));
    const { items, total } = await listings.listListings({ ...params, pageSize: BROWSE_PAGE_SIZE });
    // This ordering of this list: a listing created or moved into it renews the page, 404 or not.
    tag(res, cacheTags.lists, cacheTags.sort(params.sort), cacheTags.sortedList(params.sort, params.city));
    // An empty list (unknown city, page past the end) is a 404, not a soft-404, stored briefly (SSR_CACHE_NEGATIVE_TTL).
    if (items.length === 0) return sendPage(res, errorPage(publicUrl, 404, 'No listings match this search.'));
    const totalPages = Math.max(1, Math.ceil(total / BROWSE_PAGE_SIZE));
    tag(res, ...listingTags(items));
    dateFromData(res, items);
    sendPage(
      res,
      browsePage(publicUrl, {
        listings: items,
        total,
        totalPages,
        ...params,
        urlForPage: (page) => browseUrl({ ...params, page }),
      }),
    );
  });

  router.get('/listings/:id', async (req, res) => {
    const { id } = req.params;
    const listing = id.length <= MAX_ID_LENGTH ? await listings.getListing(id) : undefined;
    if (!listing) {
      // The 404 is stored briefly (SSR_CACHE_NEGATIVE_TTL); the listing's creation or restore renews it at once.
      if (id.length <= MAX_ID_LENGTH) tag(res, cacheTags.listing(id));
      return sendPage(res, errorPage(publicUrl, 404, 'This listing does not exist or has been removed.'));
    }
    const city = listing.city.toLowerCase();
    const nearby = await secondary(res, 'more-homes', () => listings.listListings({ page: 1, pageSize: SIMILAR_COUNT + 1, sort: 'newest', city }), {
      items: [],
      total: 0,
    });
    const similar = nearby.items.filter((other) => other.id !== listing.id).slice(0, SIMILAR_COUNT);
    // The "more homes in {city}" section changes when that city's newest listings do.
    tag(res, cacheTags.listing(listing.id), cacheTags.listingPage(listing.id), cacheTags.city(listing.city), ...listingTags(similar));
    // The similar listings' cards are part of the page: their updates date it too.
    dateFromData(res, [listing, ...similar]);
    sendPage(res, listingPage(publicUrl, listing, similar));
  });

  return router;
}
