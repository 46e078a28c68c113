import type { Listing } from '../listings/listing';
import { countOf, formatPrice } from './format';

/**
 * A listing in a list of cards. Its heading is one level below the heading the list sits under
 * (an h2 under the page's h1, an h3 under an h2 section): no level is skipped.
 */
export function ListingCard({ listing, headingLevel = 2 }: { listing: Listing; headingLevel?: 2 | 3 }) {
  const Heading = headingLevel === 3 ? 'h3' : 'h2';
  return (
    <li className="card">
      <Heading>
        <a href={`/listings/${encodeURIComponent(listing.id)}`}>{listing.title}</a>
      </Heading>
      <p className="price">{formatPrice(listing.price, listing.currency)}</p>
      <p>
        {countOf(listing.bedrooms, 'bedroom')} · {countOf(listing.bathrooms, 'bathroom')} · {listing.areaSqm} m² · {listing.city}
      </p>
    </li>
  );
}
