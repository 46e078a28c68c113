import type { CacheEvent } from 'ssr-page-cache';
import { cacheTags } from './listing-tags';
import { roleOf, type FieldMapping, type ListingFieldRole } from './twenty-fields';

/**
 * What a change to a listing alters, and so which pages it invalidates:
 * - detail: only what its own page shows (a street, a postcode, a field no page shows but whose
 *   update dates the page) -> its detail page (`listing-page:{id}`);
 * - display: how the listing looks -> the pages showing it (`listing:{id}`: its page, its cards);
 * - price: also its place in the price orderings -> the price-sorted lists (of its city and of all);
 * - featured: also the homepage;
 * - recency: its place in the newest-first orderings -> those lists, its city's "more homes"
 *   sections and the homepage;
 * - membership: whether lists hold it (status, deletion) -> every ordering of its city's lists
 *   and of the all-cities lists, the homepage and its city's "more homes" sections;
 * - relocation: which city's lists hold it -> those of every city it was shown in and of the new
 *   one when they are known, else every list; the homepage and "more homes" sections.
 * An address change is told apart when the city it had is known (see CityMemory): the same city
 * is `detail`, another one `relocation`.
 */
export type ChangeEffect = 'detail' | 'display' | 'price' | 'featured' | 'recency' | 'membership' | 'relocation';

/** What the change of each field role is (the Address field: `address`, resolved by the city before and after). */
// A card (server/ssr/listing-card.tsx) shows the title, price, rooms, area and city: the rest is on the detail page alone.
const ROLE_EFFECTS: Readonly<Record<ListingFieldRole, ChangeEffect | 'address'>> = {
  title: 'display',
  description: 'detail',
  photos: 'detail',
  features: 'detail',
  bedrooms: 'display',
  bathrooms: 'display',
  areaSqm: 'display',
  propertyType: 'detail',
  price: 'price',
  featured: 'featured',
  address: 'address',
  city: 'relocation',
};

/** Twenty's own fields on every object. */
const SYSTEM_FIELD_EFFECTS: Readonly<Record<string, ChangeEffect>> = {
  createdAt: 'recency',
  deletedAt: 'membership',
  status: 'membership',
  updatedAt: 'detail',
  updatedBy: 'detail',
  createdBy: 'detail',
  position: 'detail',
  searchVector: 'detail',
};

/**
 * The effects of the fields an update changed, by the role each plays in the mapping. A field
 * the workspace has but no page shows dates the detail page only; a field unknown to the mapping
 * (metadata not read, or none named) counts as a relocation: the broadest, never too little.
 */
export function effectsOfUpdate(updatedFields: readonly string[] | undefined, mapping: FieldMapping): (ChangeEffect | 'address')[] {
  if (!updatedFields || updatedFields.length === 0) return ['relocation'];
  const effectOf = (field: string): ChangeEffect | 'address' => {
    const role = roleOf(mapping.fields, field);
    if (role) return ROLE_EFFECTS[role];
    // Own properties only: `constructor`, `__proto__` or `toString` is a field like any unknown one, never Object.prototype's.
    if (Object.hasOwn(SYSTEM_FIELD_EFFECTS, field)) return SYSTEM_FIELD_EFFECTS[field] as ChangeEffect;
    return mapping.known?.has(field) ? 'detail' : 'relocation';
  };
  return [...new Set(updatedFields.map(effectOf))];
}

/** Same city, ignoring case and spaces around it. */
const sameCity = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * Resolves an Address change, and catches a move any event reveals, by where pages showed the
 * listing before (`shownIn`, as shown): another city is a move (every event after it is too, so a
 * move whose own webhook came second is still one); the same city spelt otherwise changes the
 * cards (`display`); the same city, only the street or postcode (`detail`). When it is not known
 * where pages showed it, an Address change is a move from anywhere.
 */
export function resolveCityEffects(
  effects: readonly (ChangeEffect | 'address')[],
  city: string | undefined,
  shownIn: readonly string[] | undefined,
): ChangeEffect[] {
  const known = city !== undefined && shownIn !== undefined && shownIn.length > 0;
  const moved = known && shownIn.some((old) => !sameCity(old, city));
  const respelled = known && !moved && shownIn.some((old) => old.trim() !== city.trim());
  const address: ChangeEffect = !known || moved ? 'relocation' : respelled ? 'display' : 'detail';
  const resolved = effects.map((effect) => (effect === 'address' ? address : effect));
  if (moved) resolved.push('relocation');
  if (respelled) resolved.push('display');
  return [...new Set(resolved)];
}

/** The orderings a change moves the listing in: every city's when its own is not known. */
function sortedLists(sort: string, cities: readonly string[]): string[] {
  return cities.length > 0 ? [cacheTags.sortedList(sort, undefined), ...cities.map((city) => cacheTags.sortedList(sort, city))] : [cacheTags.sort(sort)];
}

const SORTS = ['newest', 'price_asc', 'price_desc'] as const;

/**
 * The tags of every page a change to one listing can alter. `city` is its city after the change;
 * `shownIn` the cities pages may show it under from before (a move's old city), when known.
 * Without any city, any city's pages may hold it, so the change reaches them all.
 */
export function tagsForListingChange(id: string, effects: readonly ChangeEffect[], city?: string, shownIn?: readonly string[]): string[] {
  // Any change moves a listing's lastmod (or its presence) in the sitemap.
  const tags = new Set([cacheTags.listingPage(id), cacheTags.sitemap]);
  const add = (list: Iterable<string>) => {
    for (const tag of list) tags.add(tag);
  };
  // Tags normalise a city's case and spaces; the Set of tags drops the repeats.
  const cities = [...(city ? [city] : []), ...(shownIn ?? [])];
  // A move with no old city known may have left any city's lists.
  const knowsMove = city !== undefined && shownIn !== undefined && shownIn.length > 0;
  for (const effect of effects) {
    if (effect !== 'detail') tags.add(cacheTags.listing(id));
    const affected = effect === 'relocation' && !knowsMove ? [] : cities;
    if (effect === 'price') add(['price_asc', 'price_desc'].flatMap((sort) => sortedLists(sort, affected)));
    if (effect === 'featured') tags.add(cacheTags.home);
    if (effect === 'recency') add(sortedLists('newest', affected));
    if (effect === 'membership' || (effect === 'relocation' && knowsMove)) add(SORTS.flatMap((sort) => sortedLists(sort, affected)));
    if (effect === 'recency' || effect === 'membership' || effect === 'relocation') {
      tags.add(cacheTags.home);
      // A city's newest homes appear on its detail pages ("more homes in {city}"); the old
      // city's pages that showed it carry its listing tag.
      for (const name of cities) tags.add(cacheTags.city(name));
      if (affected.length === 0) tags.add(cacheTags.lists);
    }
  }
  return [...tags];
}

/**
 * What the story's `{"type":"listing","id":"123"}` invalidates: the listing's detail page, the
 * homepage, every browse page (each query variant of `/listings`) and every page tagged with the
 * listing (the detail pages whose "more homes" section shows it), but no other detail page.
 */
export function listingInvalidation(id: string): { paths: string[]; patterns: string[]; tags: string[] } {
  return {
    paths: [`/listings/${encodeURIComponent(id)}`, '/', '/listings'],
    patterns: ['/listings\\?*'],
    tags: [cacheTags.listing(id), cacheTags.sitemap],
  };
}

const LISTING_TAG = cacheTags.listing('');
const LISTING_PAGE_TAG = cacheTags.listingPage('');

/**
 * Drops the listing data an invalidation may have changed: the records its listing tags name
 * (with every list), or everything when it names pages another way (keys, patterns, list tags only).
 */
export function forgetListings(event: Extract<CacheEvent, { type: 'invalidate' }>, forget: (id?: string) => void): void {
  const ids = event.everything
    ? []
    : [
        ...new Set(
          event.tags.flatMap((tag) =>
            tag.startsWith(LISTING_TAG) ? [tag.slice(LISTING_TAG.length)] : tag.startsWith(LISTING_PAGE_TAG) ? [tag.slice(LISTING_PAGE_TAG.length)] : [],
          ),
        ),
      ];
  if (ids.length === 0) return forget(undefined);
  for (const id of ids) forget(id);
}
