import { LISTING_FIELD_EFFECTS } from '../config';
import { cacheTags } from '../utils/cache-tags';

export type ChangeEffect = 'display' | 'order' | 'membership';
const RANK: Record<ChangeEffect, number> = { display: 0, order: 1, membership: 2 };

/** The broadest effect of the fields an update changed (none named: membership, to be safe). */
export function effectOfUpdate(updatedFields: readonly string[] | undefined): ChangeEffect {
  if (!updatedFields || updatedFields.length === 0) return 'membership';
  let effect: ChangeEffect = 'display';
  for (const field of updatedFields) {
    const fieldEffect = LISTING_FIELD_EFFECTS[field] ?? 'membership';
    if (RANK[fieldEffect] > RANK[effect]) effect = fieldEffect;
  }
  return effect;
}

/** The tags of every page a change to one listing can alter (see LISTING_FIELD_EFFECTS). */
export function tagsForListingChange(id: string, effect: ChangeEffect, city?: string): string[] {
  const tags = [cacheTags.listing(id)];
  if (effect === 'display') return tags;
  tags.push(cacheTags.lists, cacheTags.home);
  if (effect === 'membership' && city) tags.push(cacheTags.city(city));
  return tags;
}
