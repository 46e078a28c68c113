import { generateCatalog } from '../../server/listings/embedded-catalog';
import type { Listing } from '../../server/listings/listing';
import { browsePage } from '../../server/ssr/browse-page';
import { homePage } from '../../server/ssr/home-page';
import { listingPage } from '../../server/ssr/listing-page';
import { renderPage } from '../../server/ssr/render-page';

const PUBLIC_URL = 'https://homes.example.com';
const [listing, ...others] = generateCatalog(10) as [Listing, ...Listing[]];

function head(html: string) {
  const attr = (pattern: RegExp) => pattern.exec(html)?.[1];
  return {
    title: attr(/<title>([^<]*)<\/title>/),
    description: attr(/<meta name="description" content="([^"]*)"/),
    canonical: attr(/<link rel="canonical" href="([^"]*)"/),
    ogUrl: attr(/<meta property="og:url" content="([^"]*)"/),
    ogTitle: attr(/<meta property="og:title" content="([^"]*)"/),
    ogImage: attr(/<meta property="og:image" content="([^"]*)"/),
    twitterCard: attr(/<meta name="twitter:card" content="([^"]*)"/),
    jsonLd: attr(/<script type="application\/ld\+json">(.*?)<\/script>/s),
  };
}

describe('renderPage', () => {
  it('renders a full document with the tags crawlers read on a detail page', () => {
    const html = renderPage(listingPage(PUBLIC_URL, listing, others));
    expect(html.startsWith('<!DOCTYPE html><html lang="en">')).toBe(true);
    const meta = head(html);
    expect(meta.title).toContain(listing.title);
    expect(meta.description!.length).toBeGreaterThan(50);
    expect(meta.description!.length).toBeLessThanOrEqual(160);
    expect(meta.canonical).toBe(`${PUBLIC_URL}/listings/${listing.id}`);
    expect(meta.ogUrl).toBe(meta.canonical);
    expect(meta.ogTitle).toBe(meta.title);
    expect(meta.ogImage).toBe(`${PUBLIC_URL}/images/listings/${listing.id}/1.svg`);
    expect(meta.twitterCard).toBe('summary_large_image');
    const data = JSON.parse(meta.jsonLd!);
    expect(data).toMatchObject({
      '@context': 'https://schema.org',
      '@type': 'RealEstateListing',
      url: meta.canonical,
      offers: { price: listing.price, priceCurrency: 'EUR' },
    });
    expect(html).toContain(`More homes in ${listing.city}`);
  });

  it('keeps listing text from breaking out of the JSON-LD script', () => {
    const hostile = { ...listing, title: '</script><script>alert(1)</script>', description: 'a <!-- b' };
    const html = renderPage(listingPage(PUBLIC_URL, hostile));
    expect(html).not.toContain('<script>alert(1)');
    expect(JSON.parse(head(html).jsonLd!).name).toBe(hostile.title);
  });

  it('gives the homepage and browse pages canonical URLs built from PUBLIC_URL', () => {
    expect(head(renderPage(homePage(PUBLIC_URL, others))).canonical).toBe(`${PUBLIC_URL}/`);
    const browse = browsePage(PUBLIC_URL, {
      listings: others,
      total: 48,
      page: 2,
      totalPages: 2,
      sort: 'price_asc',
      city: 'lisbon',
      urlForPage: (page) => `/listings?city=lisbon&page=${page}&sort=price_asc`,
    });
    const html = renderPage(browse);
    expect(head(html).canonical).toBe(`${PUBLIC_URL}/listings?city=lisbon&amp;page=2&amp;sort=price_asc`);
    expect(html).toContain('rel="prev"');
    expect(html).not.toContain('rel="next"');
  });
});
