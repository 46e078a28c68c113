import type { Listing } from '../listings/listing';
import { ListingCard } from './listing-card';
import { SITE_NAME, type RenderedPage } from './render-page';

export function homePage(publicUrl: string, featured: Listing[]): RenderedPage {
  return {
    status: 200,
    meta: {
      title: `${SITE_NAME}: homes for sale`,
      description: `Browse homes for sale. ${featured.length} featured listings, updated daily.`,
      canonicalUrl: `${publicUrl}/`,
      ogType: 'website',
      structuredData: { '@context': 'https://schema.org', '@type': 'WebSite', name: SITE_NAME, url: `${publicUrl}/` },
    },
    body: (
      <>
        <h1>Featured homes</h1>
        <ul className="cards">
          {featured.map((listing) => (
            <ListingCard key={listing.id} listing={listing} />
          ))}
        </ul>
        <p>
          <a href="/listings">See all listings</a>
        </p>
      </>
    ),
  };
}
