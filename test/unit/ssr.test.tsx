import { generateCatalog } from '../../server/listings/embedded-catalog';
import type { Listing } from '../../server/listings/listing';
import { browsePage } from '../../server/ssr/browse-page';
import { homePage } from '../../server/ssr/home-page';
import { listingPage } from '../../server/ssr/listing-page';
import { renderPage, STYLES } from '../../server/ssr/render-page';

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

describe('pages people and crawlers read well', () => {
  const noPrice: Listing = { ...listing, id: 'np-1', price: null, currency: 'EUR' };
  const jsonLdOf = (html: string) => JSON.parse(head(html).jsonLd!) as Record<string, unknown>;
  const cardsOf = (items: Listing[]) => renderPage(homePage(PUBLIC_URL, items));

  it('says "Price on request" for a listing without a price, and its JSON-LD carries no price', () => {
    const detail = renderPage(listingPage(PUBLIC_URL, noPrice, others));
    expect(detail).toContain('<p class="price">Price on request</p>');
    expect(head(detail).description).toMatch(/^Price on request · /);
    expect(detail).not.toMatch(/€0\b/);
    expect(detail).not.toContain('Price per m²');
    const data = jsonLdOf(detail);
    expect(data).not.toHaveProperty('offers');
    expect(head(detail).jsonLd).not.toMatch(/"price"|priceCurrency/);
    const cards = cardsOf([noPrice, ...others]);
    expect(cards).toContain('<p class="price">Price on request</p>');
    expect(cards).not.toMatch(/€0\b/);
  });

  it("shows prices in the listing's own currency, whole amounts without fraction digits", () => {
    const dollars: Listing = { ...listing, id: 'usd-1', price: 1_250_000, currency: 'USD' };
    const pounds: Listing = { ...listing, id: 'gbp-1', price: 1_234.5, currency: 'GBP' };
    const yen: Listing = { ...listing, id: 'jpy-1', price: 98_000_000, currency: 'JPY' };
    const detail = renderPage(listingPage(PUBLIC_URL, dollars));
    expect(detail).toContain('<p class="price">US$1,250,000</p>');
    expect(jsonLdOf(detail)).toMatchObject({ offers: { '@type': 'Offer', price: 1_250_000, priceCurrency: 'USD' } });
    expect(renderPage(listingPage(PUBLIC_URL, pounds))).toContain('<p class="price">£1,234.50</p>');
    expect(jsonLdOf(renderPage(listingPage(PUBLIC_URL, yen)))).toMatchObject({ offers: { price: 98_000_000, priceCurrency: 'JPY' } });
    const cards = cardsOf([dollars, pounds, yen, { ...listing, price: 250_000, currency: 'EUR' }]);
    for (const price of ['US$1,250,000', '£1,234.50', 'JP¥98,000,000', '€250,000']) expect(cards).toContain(`<p class="price">${price}</p>`);
  });

  it('says "1 bedroom" and "2 bedrooms", bathrooms likewise', () => {
    const one: Listing = { ...listing, bedrooms: 1, bathrooms: 1 };
    const two: Listing = { ...listing, id: 'two', bedrooms: 2, bathrooms: 2 };
    const cards = cardsOf([one, two]);
    expect(cards).toContain('1 bedroom · 1 bathroom ·');
    expect(cards).toContain('2 bedrooms · 2 bathrooms ·');
    const detail = renderPage(listingPage(PUBLIC_URL, one));
    expect(detail).toContain('<li>1 bedroom</li><li>1 bathroom</li>');
    expect(detail).not.toMatch(/\b1 (bedrooms|bathrooms)\b/);
    expect(head(detail).description).toContain(' · 1 bedroom, ');
    expect(renderPage(listingPage(PUBLIC_URL, two))).toContain('<li>2 bedrooms</li><li>2 bathrooms</li>');
  });

  it("loads the detail page's first photo at once and first, the others lazily", () => {
    const images = [...renderPage(listingPage(PUBLIC_URL, listing)).matchAll(/<img [^>]*>/g)].map((match) => match[0]);
    expect(images).toHaveLength(listing.photos.length);
    // HTML attribute names are case-insensitive: React writes `fetchPriority`.
    expect(images[0]).toMatch(/ fetchpriority="high"/i);
    expect(images[0]).not.toContain('loading="lazy"');
    for (const image of images.slice(1)) {
      expect(image).toContain('loading="lazy"');
      expect(image).not.toMatch(/fetchpriority/i);
    }
  });

  it('skips no heading level: an h1, then h2s, then h3s under them', () => {
    const levels = (html: string) => [...html.matchAll(/<h([1-6])[\s>]/g)].map((match) => Number(match[1]));
    const pages = {
      home: renderPage(homePage(PUBLIC_URL, others)),
      browse: renderPage(browsePage(PUBLIC_URL, { listings: others, total: 9, page: 1, totalPages: 1, sort: 'newest', urlForPage: () => '/listings' })),
      detail: renderPage(listingPage(PUBLIC_URL, listing, others)),
      lonelyDetail: renderPage(listingPage(PUBLIC_URL, listing)),
    };
    for (const [name, html] of Object.entries(pages)) {
      const found = levels(html);
      expect([name, found[0], found.filter((level) => level === 1).length]).toEqual([name, 1, 1]);
      const skips = found.filter((level, index) => index > 0 && level > found[index - 1]! + 1);
      expect([name, skips]).toEqual([name, []]);
      expect(found.length).toBeGreaterThan(1);
    }
  });

  it('gives the price a colour contrast of at least 4.5:1 against the backgrounds it sits on', () => {
    const rule = (selector: string) => new RegExp(`(?:^|[}\\s])${selector.replace('.', '\\.')}\\{([^}]*)\\}`).exec(STYLES)?.[1] ?? '';
    const colour = (declarations: string, property: string) => new RegExp(`(?:^|;)${property}:(#[0-9a-f]{3,6})\\b`, 'i').exec(declarations)?.[1];
    const price = colour(rule('.price'), 'color');
    const backgrounds = [colour(rule('body'), 'background'), colour(rule('.card'), 'background')];
    expect(price).toBeDefined();
    expect(backgrounds).toEqual([expect.any(String), expect.any(String)]);
    for (const background of backgrounds) expect(contrastRatio(price!, background!)).toBeGreaterThanOrEqual(4.5);
    // The check itself: WCAG's own examples.
    expect(contrastRatio('#000', '#fff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#0a6', '#fff')).toBeCloseTo(3.03, 2);
  });

  it('links the site icon from every page', () => {
    for (const html of [renderPage(homePage(PUBLIC_URL, others)), renderPage(listingPage(PUBLIC_URL, listing))]) {
      expect(html).toContain('<link rel="icon" href="/favicon.ico" sizes="32x32"/>');
      expect(html).toContain('<link rel="icon" href="/favicon.svg" type="image/svg+xml"/>');
    }
  });
});

/** WCAG 2 contrast ratio of two #rgb / #rrggbb colours. */
function contrastRatio(a: string, b: string): number {
  const luminance = (hex: string) => {
    const digits = hex.slice(1).length === 3 ? [...hex.slice(1)].map((d) => d + d) : (hex.slice(1).match(/../g) ?? []);
    const [r, g, bl] = digits.map((pair) => {
      const c = parseInt(pair, 16) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}
