import type { Listing } from '../listings/listing';
import { formatPrice } from './format';

export function ListingCard({ listing }: { listing: Listing }) {
  return (
    <li className="card">
      <h3>
        <a href={`/listings/${encodeURIComponent(listing.id)}`}>{listing.title}</a>
      </h3>
      <p className="price">{formatPrice(listing.price, listing.currency)}</p>
      <p>
        {listing.bedrooms} bedrooms · {listing.bathrooms} bathrooms · {listing.areaSqm} m² · {listing.city}
      </p>
    </li>
  );
}
