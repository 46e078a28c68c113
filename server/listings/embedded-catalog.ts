import type { Listing, ListingPage, ListingQuery, ListingSort, ListingSource } from './listing';

const CITIES = [
  'Lisbon',
  'Porto',
  'Madrid',
  'Barcelona',
  'Valencia',
  'Paris',
  'Lyon',
  'Berlin',
  'Hamburg',
  'Amsterdam',
  'Rotterdam',
  'Vienna',
  'Prague',
  'Milan',
  'Rome',
  'New York',
];
const STREETS = ['Oak', 'Harbour', 'Station', 'Garden', 'Market', 'River', 'Castle', 'Mill', 'Church', 'Park'];
const TYPES = ['apartment', 'house', 'studio', 'loft', 'townhouse', 'penthouse'];
const ADJECTIVES = ['Bright', 'Quiet', 'Spacious', 'Renovated', 'Charming', 'Modern', 'Sunny', 'Elegant'];
const FEATURES = [
  'Balcony',
  'Lift',
  'Parking space',
  'Air conditioning',
  'Garden',
  'Terrace',
  'Storage room',
  'Fibre internet',
  'Underfloor heating',
  'Concierge',
  'Pets allowed',
  'Sea view',
  'Fireplace',
];
const PARAGRAPHS = [
  'The living room faces south and gets light from morning to evening through floor-to-ceiling windows.',
  'A fitted kitchen with stone worktops opens onto the dining area, with room for a table of eight.',
  'Bedrooms sit at the quiet back of the building, away from the street, each with built-in wardrobes.',
  'The building was restored in recent years: new roof, new wiring, and insulated facades.',
  'Shops, schools and a weekly market are a few minutes away on foot; the metro is at the corner.',
  'Bathrooms have walk-in showers and heated towel rails; one has a bath under a skylight.',
  'Service charges are low and cover the lift, the shared garden and the cleaning of common areas.',
  'The flat is sold with its cellar and can be visited on weekdays and on Saturday mornings.',
];
const CATALOG_EPOCH = Date.parse('2026-01-01T00:00:00Z');

/** Small deterministic PRNG (mulberry32): the same catalog on every start and every machine. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function pickSome<T>(random: () => number, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const chosen: T[] = [];
  while (chosen.length < count && pool.length > 0) chosen.push(pool.splice(Math.floor(random() * pool.length), 1)[0] as T);
  return chosen;
}

function generateListing(index: number, random: () => number): Listing {
  const id = String(index + 1);
  const city = pick(random, CITIES);
  const propertyType = pick(random, TYPES);
  const bedrooms = 1 + Math.floor(random() * 5);
  const areaSqm = 30 + bedrooms * 18 + Math.floor(random() * 40);
  const created = CATALOG_EPOCH - index * 3_600_000 * 7;
  return {
    id,
    title: `${pick(random, ADJECTIVES)} ${bedrooms}-bedroom ${propertyType} in ${city}`,
    description: pickSome(random, PARAGRAPHS, 6).join(' '),
    price: Math.round((80_000 + areaSqm * (2_000 + random() * 6_000)) / 1_000) * 1_000,
    currency: 'EUR',
    city,
    address: `${1 + Math.floor(random() * 180)} ${pick(random, STREETS)} Street, ${city}`,
    propertyType,
    bedrooms,
    bathrooms: 1 + Math.floor(random() * Math.min(bedrooms, 3)),
    areaSqm,
    photos: Array.from({ length: 10 }, (_, photo) => `/images/listings/${id}/${photo + 1}.svg`),
    features: pickSome(random, FEATURES, 5),
    featured: index % 40 === 0,
    createdAt: new Date(created).toISOString(),
    updatedAt: new Date(created + Math.floor(random() * 30) * 86_400_000).toISOString(),
  };
}

export function generateCatalog(size: number, seed = 20261127): Listing[] {
  const random = createRandom(seed);
  return Array.from({ length: size }, (_, index) => generateListing(index, random));
}

/** Listings without a price come last in both price orders, as Twenty's `AscNullsLast`/`DescNullsLast` put them. */
function byPrice(direction: 1 | -1): (a: Listing, b: Listing) => number {
  return (a, b) => {
    if (a.price === null || b.price === null) return (a.price === null ? 1 : 0) - (b.price === null ? 1 : 0) || Number(a.id) - Number(b.id);
    return direction * (a.price - b.price) || Number(a.id) - Number(b.id);
  };
}

const SORTERS: Record<ListingSort, (a: Listing, b: Listing) => number> = {
  newest: (a, b) => b.createdAt.localeCompare(a.createdAt) || Number(a.id) - Number(b.id),
  price_asc: byPrice(1),
  price_desc: byPrice(-1),
};

/** The default source: an in-memory catalog generated at start-up, so the server needs nothing else (or the listings given, for tests). */
export function createEmbeddedCatalog(size: number, listings: Listing[] = generateCatalog(size)): ListingSource {
  const byId = new Map(listings.map((listing) => [listing.id, listing]));
  const sortAll = (items: Listing[]) =>
    Object.fromEntries(Object.entries(SORTERS).map(([sort, compare]) => [sort, [...items].sort(compare)])) as Record<ListingSort, Listing[]>;
  const sorted = sortAll(listings);
  // Per-city lists, sorted once: a city page costs a slice, as a database index would make it.
  const byCity = new Map<string, Record<ListingSort, Listing[]>>();
  for (const city of new Set(listings.map((listing) => listing.city.toLowerCase()))) {
    byCity.set(city, sortAll(listings.filter((listing) => listing.city.toLowerCase() === city)));
  }
  const featured = sorted.newest.filter((listing) => listing.featured);

  return {
    async getListing(id) {
      return byId.get(id);
    },
    async listListings({ page, pageSize, sort, city }: ListingQuery): Promise<ListingPage> {
      const matching = city === undefined ? sorted[sort] : (byCity.get(city)?.[sort] ?? []);
      const start = (page - 1) * pageSize;
      return { items: matching.slice(start, start + pageSize), total: matching.length };
    },
    async listFeatured(limit) {
      return featured.slice(0, limit);
    },
  };
}
