import type { Listing, ListingSort } from '../listings/listing';
import { ListingCard } from './listing-card';
import { SITE_NAME, type RenderedPage } from './render-page';

export interface BrowseView {
  listings: Listing[];
  total: number;
  page: number;
  totalPages: number;
  sort: ListingSort;
  city?: string;
  /** Builds the canonical relative URL of another page of the same list. */
  urlForPage: (page: number) => string;
}

const SORT_LABELS: Record<ListingSort, string> = {
  newest: 'newest first',
  price_asc: 'price, lowest first',
  price_desc: 'price, highest first',
};

export function browsePage(publicUrl: string, view: BrowseView): RenderedPage {
  const where = view.city ? ` in ${view.listings[0]?.city ?? view.city}` : '';
  const title = `Homes for sale${where}, page ${view.page} of ${view.totalPages} | ${SITE_NAME}`;
  return {
    status: 200,
    meta: {
      title,
      description: `${view.total} homes for sale${where}, sorted by ${SORT_LABELS[view.sort]}. Page ${view.page} of ${view.totalPages}.`,
      canonicalUrl: `${publicUrl}${view.urlForPage(view.page)}`,
      ogType: 'website',
    },
    body: (
      <>
        <h1>
          Homes for sale{where} <small>({view.total})</small>
        </h1>
        <p>Sorted by {SORT_LABELS[view.sort]}</p>
        <ul className="cards">
          {view.listings.map((listing) => (
            <ListingCard key={listing.id} listing={listing} />
          ))}
        </ul>
        <nav className="pager">
          {view.page > 1 ? (
            <a href={view.urlForPage(view.page - 1)} rel="prev">
              Previous
            </a>
          ) : null}
          <span>
            Page {view.page} of {view.totalPages}
          </span>
          {view.page < view.totalPages ? (
            <a href={view.urlForPage(view.page + 1)} rel="next">
              Next
            </a>
          ) : null}
        </nav>
      </>
    ),
  };
}
