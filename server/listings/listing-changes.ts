import { LISTING_FIELD_EFFECTS, type ListingChangeEffect } from '../config';
import type { CacheEvent } from 'ssr-page-cache';
import { cacheTags } from './listing-tags';

export type ChangeEffect = ListingChangeEffect;

const SORTS = ['newest', 'price_asc', 'price_desc'] as const;

/** The effects of the fields an update changed (none named: relocation, to be safe). */
export function effectsOfUpdate(updatedFields: readonly string[] | undefined): ChangeEffect[] {
  if (!updatedFields || updatedFields.length === 0) return ['relocation'];
  // Own properties only: `constructor`, `__proto__` or `toString` is a field like any unknown one, never Object.prototype's.
  return [
    ...new Set(updatedFields.map((field) => (Object.hasOwn(LISTING_FIELD_EFFECTS, field) ? (LISTING_FIELD_EFFECTS[field] as ChangeEffect) : 'relocation'))),
  ];
}

/** The orderings a change moves the listing in: every city's when its own is not known. */
function sortedLists(sort: string, city: string | undefined): string[] {
  return city ? [cacheTags.sortedList(sort, undefined), cacheTags.sortedList(sort, city)] : [cacheTags.sort(sort)];
}

/**
 * The tags of every page a change to one listing can alter (see LISTING_FIELD_EFFECTS). Without
 * the listing's city, any city's pages may hold it, so the change reaches them all.
 */
export function tagsForListingChange(id: string, effects: readonly ChangeEffect[], city?: string): string[] {
  // Any change moves a listing's lastmod (or its presence) in the sitemap.
  const tags = new Set([cacheTags.listing(id), cacheTags.sitemap]);
  const add = (list: Iterable<string>) => {
    for (const tag of list) tags.add(tag);
  };
  for (const effect of effects) {
    const broad = effect === 'relocation' || !city;
    if (effect === 'price') add(['price_asc', 'price_desc'].flatMap((sort) => sortedLists(sort, city)));
    if (effect === 'featured') tags.add(cacheTags.home);
    if (effect === 'recency') add(sortedLists('newest', city));
    if (effect === 'membership') add(SORTS.flatMap((sort) => sortedLists(sort, city)));
    if (effect === 'recency' || effect === 'membership' || effect === 'relocation') {
      tags.add(cacheTags.home);
      // A city's newest homes appear on its detail pages ("more homes in {city}"); the old
      // city's pages that showed it carry its listing tag.
      if (city) tags.add(cacheTags.city(city));
      if (broad) tags.add(cacheTags.lists);
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

/**
 * Drops the listing data an invalidation may have changed: the records its listing tags name
 * (with every list), or everything when it names pages another way (keys, patterns, list tags only).
 */
export function forgetListings(event: Extract<CacheEvent, { type: 'invalidate' }>, forget: (id?: string) => void): void {
  const ids = event.everything ? [] : event.tags.filter((tag) => tag.startsWith(LISTING_TAG)).map((tag) => tag.slice(LISTING_TAG.length));
  if (ids.length === 0) return forget(undefined);
  for (const id of ids) forget(id);
}
