import { generateCatalog } from '../../server/listings/embedded-catalog';
import { listingPage } from '../../server/ssr/listing-page';
import { renderPage } from '../../server/ssr/render-page';

export const BENCH_PUBLIC_URL = 'https://www.example-listings.com';
export const BENCH_LISTING_ID = '42';

/** The same detail page every scenario serves: listing 42 of the embedded catalog, rendered once. */
export function benchPageHtml(): string {
  const catalog = generateCatalog(1000);
  const listing = catalog[Number(BENCH_LISTING_ID) - 1]!;
  const similar = catalog.filter((other) => other.city === listing.city && other.id !== listing.id).slice(0, 12);
  return renderPage(listingPage(BENCH_PUBLIC_URL, listing, similar));
}

/** Tells the bench process the server is up. */
export function announce(port: number): void {
  process.send?.({ ready: true, port });
}

export function benchPort(): number {
  return Number(process.env.BENCH_PORT ?? 0);
}
