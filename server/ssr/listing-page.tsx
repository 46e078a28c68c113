import type { Listing } from '../listings/listing';
import { absoluteUrl, countOf, formatPrice } from './format';
import { ListingCard } from './listing-card';
import { SITE_NAME, type RenderedPage } from './render-page';

function summary(listing: Listing): string {
  const text = `${formatPrice(listing.price, listing.currency)} · ${countOf(listing.bedrooms, 'bedroom')}, ${listing.areaSqm} m² ${listing.propertyType} in ${listing.city}. ${listing.description}`;
  return text.length > 160 ? `${text.slice(0, 157).trimEnd()}...` : text;
}

export function listingPage(publicUrl: string, listing: Listing, similar: Listing[] = []): RenderedPage {
  const canonicalUrl = `${publicUrl}/listings/${encodeURIComponent(listing.id)}`;
  const photos = listing.photos.map((photo) => absoluteUrl(publicUrl, photo));
  return {
    status: 200,
    meta: {
      title: `${listing.title} | ${SITE_NAME}`,
      description: summary(listing),
      canonicalUrl,
      ogType: 'article',
      imageUrl: photos[0],
      structuredData: {
        '@context': 'https://schema.org',
        '@type': 'RealEstateListing',
        breadcrumb: {
          '@type': 'BreadcrumbList',
          itemListElement: [
            { '@type': 'ListItem', position: 1, name: 'Home', item: `${publicUrl}/` },
            { '@type': 'ListItem', position: 2, name: listing.city, item: `${publicUrl}/listings?city=${encodeURIComponent(listing.city.toLowerCase())}` },
            { '@type': 'ListItem', position: 3, name: listing.title, item: canonicalUrl },
          ],
        },
        name: listing.title,
        description: listing.description,
        url: canonicalUrl,
        image: photos,
        datePosted: listing.createdAt,
        dateModified: listing.updatedAt,
        // No price: no Offer at all (a price of 0 would be read as free).
        ...(listing.price === null
          ? {}
          : { offers: { '@type': 'Offer', price: listing.price, priceCurrency: listing.currency, availability: 'https://schema.org/InStock' } }),
        about: {
          '@type': listing.propertyType === 'house' || listing.propertyType === 'townhouse' ? 'SingleFamilyResidence' : 'Apartment',
          numberOfRooms: listing.bedrooms,
          numberOfBathroomsTotal: listing.bathrooms,
          floorSize: { '@type': 'QuantitativeValue', value: listing.areaSqm, unitCode: 'MTK' },
          address: {
            '@type': 'PostalAddress',
            streetAddress: listing.street ?? listing.address,
            addressLocality: listing.city,
            ...(listing.postcode ? { postalCode: listing.postcode } : {}),
            ...(listing.country ? { addressCountry: listing.country } : {}),
          },
        },
      },
    },
    body: (
      <article>
        <nav>
          <a href="/">Home</a> › <a href={`/listings?city=${encodeURIComponent(listing.city.toLowerCase())}`}>{listing.city}</a> › {listing.title}
        </nav>
        <h1>{listing.title}</h1>
        <p className="price">{formatPrice(listing.price, listing.currency)}</p>
        <ul className="facts">
          <li>{countOf(listing.bedrooms, 'bedroom')}</li>
          <li>{countOf(listing.bathrooms, 'bathroom')}</li>
          <li>{listing.areaSqm} m²</li>
          <li>{listing.propertyType}</li>
        </ul>
        <div className="photos">
          {photos.map((photo, index) => (
            // The first photo is the largest paint: fetched at once and first; the others when scrolled to.
            <img
              key={photo}
              src={photo}
              alt={`${listing.title}, photo ${index + 1}`}
              width={320}
              height={240}
              loading={index === 0 ? 'eager' : 'lazy'}
              fetchPriority={index === 0 ? 'high' : undefined}
            />
          ))}
        </div>
        <h2>Description</h2>
        {listing.description.split(/(?<=\.)\s+/).map((sentence, index) => (
          <p key={index}>{sentence}</p>
        ))}
        <h2>Details</h2>
        <dl>
          <dt>Reference</dt>
          <dd>{listing.id}</dd>
          <dt>Property type</dt>
          <dd>{listing.propertyType}</dd>
          <dt>Bedrooms</dt>
          <dd>{listing.bedrooms}</dd>
          <dt>Bathrooms</dt>
          <dd>{listing.bathrooms}</dd>
          <dt>Floor area</dt>
          <dd>{listing.areaSqm} m²</dd>
          {listing.price !== null && listing.areaSqm > 0 ? (
            <>
              <dt>Price per m²</dt>
              <dd>{formatPrice(Math.round(listing.price / listing.areaSqm), listing.currency)}</dd>
            </>
          ) : null}
          <dt>City</dt>
          <dd>{listing.city}</dd>
          <dt>Address</dt>
          <dd>{listing.address}</dd>
        </dl>
        <h2>Features</h2>
        <ul>
          {listing.features.map((feature) => (
            <li key={feature}>{feature}</li>
          ))}
        </ul>
        <h2>Location</h2>
        <address>{listing.address}</address>
        <p>
          Listed on <time dateTime={listing.createdAt}>{listing.createdAt.slice(0, 10)}</time>, updated on{' '}
          <time dateTime={listing.updatedAt}>{listing.updatedAt.slice(0, 10)}</time>.
        </p>
        {similar.length > 0 ? (
          <section>
            <h2>More homes in {listing.city}</h2>
            <ul className="cards">
              {similar.map((other) => (
                <ListingCard key={other.id} listing={other} headingLevel={3} />
              ))}
            </ul>
          </section>
        ) : null}
      </article>
    ),
  };
}
