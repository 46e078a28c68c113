import { LISTING_FIELD_EFFECTS, type ListingChangeEffect } from '../config';
import { cacheTags } from '../utils/cache-tags';

export type ChangeEffect = ListingChangeEffect;

/** The effects of the fields an update changed (none named: membership, to be safe). */
export function effectsOfUpdate(updatedFields: readonly string[] | undefined): ChangeEffect[] {
  if (!updatedFields || updatedFields.length === 0) return ['membership'];
  return [...new Set(updatedFields.map((field) => LISTING_FIELD_EFFECTS[field] ?? 'membership'))];
}

/** The orderings a change moves the listing in: every city's when its own is not known. */
function sortedLists(sort: string, city: string | undefined): string[] {
  return city ? [cacheTags.sortedList(sort, undefined), cacheTags.sortedList(sort, city)] : [cacheTags.sort(sort)];
}

/** The tags of every page a change to one listing can alter (see LISTING_FIELD_EFFECTS). */
export function tagsForListingChange(id: string, effects: readonly ChangeEffect[], city?: string): string[] {
  const tags = new Set([cacheTags.listing(id)]);
  for (const effect of effects) {
    if (effect === 'price') for (const sort of ['price_asc', 'price_desc']) for (const tag of sortedLists(sort, city)) tags.add(tag);
    if (effect === 'featured') tags.add(cacheTags.home);
    if (effect === 'recency' || effect === 'membership') {
      tags.add(cacheTags.home);
      // Without its city, every city's "more homes" sections may hold it: only the list tag reaches them all.
      if (city) tags.add(cacheTags.city(city));
    }
    if (effect === 'recency') for (const tag of sortedLists('newest', city)) tags.add(tag);
    if (effect === 'membership' || (effect === 'recency' && !city)) tags.add(cacheTags.lists);
  }
  return [...tags];
}
