/** A property listing as the pages show it, whatever source it came from. */
export interface Listing {
  id: string;
  title: string;
  description: string;
  /** null: the source gives none (Twenty's empty Currency field); the pages say "Price on request", never 0. */
  price: number | null;
  /** ISO 4217 code of the price (Twenty's `currencyCode`): the pages show the price in it. */
  currency: string;
  city: string;
  /** The address as one line: street lines, postcode and city. */
  address: string;
  /** Its parts, when the source has them (Twenty's Address field): the page's structured data. */
  street?: string;
  postcode?: string;
  country?: string;
  propertyType: string;
  bedrooms: number;
  bathrooms: number;
  areaSqm: number;
  photos: string[];
  features: string[];
  featured: boolean;
  createdAt: string;
  updatedAt: string;
}

export const LISTING_SORTS = ['newest', 'price_asc', 'price_desc'] as const;
export type ListingSort = (typeof LISTING_SORTS)[number];

export interface ListingQuery {
  /** 1-based. */
  page: number;
  pageSize: number;
  sort: ListingSort;
  /** Lower-case city name; matches case-insensitively. */
  city?: string;
}

export interface ListingPage {
  items: Listing[];
  total: number;
}

/** Where the pages get their data: the embedded catalog, or the CRM's REST API. */
export interface ListingSource {
  getListing(id: string): Promise<Listing | undefined>;
  listListings(query: ListingQuery): Promise<ListingPage>;
  listFeatured(limit: number): Promise<Listing[]>;
  /** Every listing, a batch at a time (the sitemap); absent: read through listListings' pages. */
  eachBatch?(): AsyncIterable<Listing[]>;
  /** The CRM reported a change (of one record, or of any): drop what is held about it. */
  forget?(id?: string): void;
}

const SITEMAP_BATCH = 500;

/** Every listing of a source, newest first, a batch at a time. */
export async function* eachListingBatch(source: ListingSource): AsyncGenerator<Listing[]> {
  if (source.eachBatch) {
    yield* source.eachBatch();
    return;
  }
  for (let page = 1; ; page += 1) {
    const { items, total } = await source.listListings({ page, pageSize: SITEMAP_BATCH, sort: 'newest' });
    if (items.length > 0) yield items;
    if (items.length < SITEMAP_BATCH || page * SITEMAP_BATCH >= total) return;
  }
}

export type ListingSourceFailure = 'unavailable' | 'timeout' | 'rate-limited';

/**
 * The source could not answer: a 503 page with Retry-After (what crawlers read as "come back
 * later"; a 502 or 504 slows their crawl), never a hang, never a 404 that would erase a page.
 */
export class ListingSourceError extends Error {
  override name = 'ListingSourceError';
  /** What the source asked for (a 429's Retry-After), if it said. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly failure: ListingSourceFailure,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  get httpStatus(): 503 {
    return 503;
  }
}
