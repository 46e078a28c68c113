/**
 * Which fields of the Twenty object hold what a listing page shows. Twenty names fields as the
 * workspace's user did (and renames some: a custom object's "Address" is `addressCustom`, since
 * `address` is reserved), so they are found in its metadata by type first and name second.
 */
export interface ListingFields {
  /** TEXT: the card's and page's heading (Twenty's label identifier, usually `name`). */
  title: string;
  /** RICH_TEXT (or TEXT). */
  description?: string;
  /** A CURRENCY field (`{amountMicros, currencyCode}`) or a NUMBER field holding the amount. */
  price: string;
  priceKind: 'currency' | 'number';
  /** An ADDRESS field: street lines, city, postcode, country. */
  address?: string;
  /** Where the city is, as a filter path: `{address}.addressCity`, or a TEXT field. */
  city: string;
  /** SELECT: apartment, house, ... */
  propertyType?: string;
  /** MULTI_SELECT. */
  features?: string;
  /** LINKS (`{primaryLinkUrl, secondaryLinks}`) or an ARRAY of URLs. */
  photos?: string;
  bedrooms?: string;
  bathrooms?: string;
  areaSqm?: string;
  /** BOOLEAN: shown on the home page. */
  featured?: string;
}

export type ListingFieldRole = Exclude<keyof ListingFields, 'priceKind'>;

/** The names a workspace made from this project's set-up has (and what the server used before discovery). */
export const DEFAULT_LISTING_FIELDS: Readonly<ListingFields> = {
  title: 'name',
  description: 'description',
  price: 'price',
  priceKind: 'currency',
  address: 'address',
  city: 'address.addressCity',
  propertyType: 'propertyType',
  features: 'features',
  photos: 'photos',
  bedrooms: 'bedrooms',
  bathrooms: 'bathrooms',
  areaSqm: 'areaSqm',
  featured: 'featured',
};

/** How the mapping in use came about, for the start log and /health. */
export interface FieldMapping {
  fields: ListingFields;
  /** `metadata`: found in Twenty's metadata; `defaults`: metadata not (yet) read, today's names. */
  from: 'metadata' | 'defaults';
  /** Settings that override what was found (TWENTY_CITY_FIELD, TWENTY_PRICE_FIELD). */
  overrides: string[];
  /** Roles no field was found for (their part of the page stays empty), and other remarks. */
  notes: string[];
  /** Every field name of the object Twenty listed (absent with the defaults): a field outside the mapping changes no page content. */
  known?: ReadonlySet<string>;
}

export interface FieldOverrides {
  /** TWENTY_CITY_FIELD: `addressCustom.addressCity` (an Address field's city) or `city` (a text field). */
  cityField?: string;
  /** TWENTY_PRICE_FIELD: `price.amountMicros` (a Currency field) or `price` (a Number field). */
  priceField?: string;
}

/** A field as the metadata API describes it (only what discovery reads). */
export interface MetadataField {
  name?: unknown;
  type?: unknown;
  label?: unknown;
  isActive?: unknown;
  isSystem?: unknown;
  id?: unknown;
}

interface Candidate {
  name: string;
  type: string;
  label: string;
  id?: string;
}

const RICH_TEXT = new Set(['RICH_TEXT', 'RICH_TEXT_V2']);

/** The field of one of these types whose name or label matches best: a preferred name, then a pattern, then the only one. */
function pick(fields: readonly Candidate[], types: readonly string[], names: readonly string[], pattern?: RegExp, onlyOne = true): Candidate | undefined {
  const typed = fields.filter((field) => types.includes(field.type));
  const lower = (text: string) => text.toLowerCase();
  return (
    names.map((name) => typed.find((field) => lower(field.name) === lower(name))).find(Boolean) ??
    (pattern ? typed.find((field) => pattern.test(field.name) || pattern.test(field.label)) : undefined) ??
    (onlyOne && typed.length === 1 ? typed[0] : undefined)
  );
}

function candidates(fields: readonly MetadataField[]): Candidate[] {
  return fields
    .filter((field) => typeof field?.name === 'string' && typeof field.type === 'string' && field.isActive !== false)
    .map((field) => ({
      name: field.name as string,
      type: field.type as string,
      label: typeof field.label === 'string' ? field.label : '',
      id: typeof field.id === 'string' ? field.id : undefined,
    }));
}

/** The part before the first dot: the field a path names (`addressCustom.addressCity` -> `addressCustom`). */
export function fieldOf(path: string): string {
  return path.split('.')[0] as string;
}

function applyOverrides(fields: ListingFields, overrides: FieldOverrides, used: string[]): void {
  if (overrides.cityField) {
    used.push(`TWENTY_CITY_FIELD=${overrides.cityField}`);
    fields.city = overrides.cityField;
    if (overrides.cityField.includes('.')) fields.address = fieldOf(overrides.cityField);
  }
  if (overrides.priceField) {
    used.push(`TWENTY_PRICE_FIELD=${overrides.priceField}`);
    fields.price = fieldOf(overrides.priceField);
    fields.priceKind = overrides.priceField.includes('.') ? 'currency' : 'number';
  }
}

/** The mapping without metadata: today's names, with the settings' overrides. */
export function defaultFieldMapping(overrides: FieldOverrides = {}, note = 'metadata not read yet: the default field names are used'): FieldMapping {
  const fields: ListingFields = { ...DEFAULT_LISTING_FIELDS };
  const used: string[] = [];
  applyOverrides(fields, overrides, used);
  return { fields, from: 'defaults', overrides: used, notes: [note] };
}

/**
 * Finds each role's field among the object's (active, non-system) fields by type, then by name
 * or label where a type has several: ADDRESS, CURRENCY, RICH_TEXT, SELECT, MULTI_SELECT, LINKS,
 * BOOLEAN, and the NUMBER fields by their names (bedrooms, bathrooms, area). The settings win.
 */
export function discoverFields(metadataFields: readonly MetadataField[], overrides: FieldOverrides = {}, labelIdentifierId?: string): FieldMapping {
  const all = candidates(metadataFields);
  const own = all.filter((field) => !metadataFields.find((meta) => meta.name === field.name)?.isSystem);
  const notes: string[] = [];
  const title =
    own.find((field) => field.id !== undefined && field.id === labelIdentifierId && field.type === 'TEXT') ??
    pick(own, ['TEXT'], ['name', 'title'], /\b(name|title)\b/i);
  const address = pick(own, ['ADDRESS'], ['address', 'addressCustom'], /address/i);
  const currency = pick(own, ['CURRENCY'], ['price'], /price|amount|cost/i);
  const numberPrice = currency ? undefined : pick(own, ['NUMBER', 'NUMERIC'], ['price'], /price/i, false);
  const textCity = address ? undefined : pick(own, ['TEXT'], ['city'], /\b(city|town)\b/i, false);
  const description = pick(own, [...RICH_TEXT], ['description'], /description|details|about/i) ?? pick(own, ['TEXT'], ['description'], /description/i, false);
  const fields: ListingFields = {
    title: title?.name ?? 'name',
    description: description?.name,
    price: currency?.name ?? numberPrice?.name ?? DEFAULT_LISTING_FIELDS.price,
    priceKind: currency || !numberPrice ? 'currency' : 'number',
    address: address?.name,
    city: address ? `${address.name}.addressCity` : (textCity?.name ?? DEFAULT_LISTING_FIELDS.city),
    propertyType: pick(own, ['SELECT'], ['propertyType', 'type'], /type|kind|category/i)?.name,
    features: pick(own, ['MULTI_SELECT'], ['features', 'amenities'], /feature|amenit/i)?.name,
    photos: pick(own, ['LINKS', 'ARRAY'], ['photos', 'images', 'pictures'], /photo|image|picture/i)?.name,
    bedrooms: pick(own, ['NUMBER', 'NUMERIC'], ['bedrooms', 'beds'], /bed/i, false)?.name,
    bathrooms: pick(own, ['NUMBER', 'NUMERIC'], ['bathrooms', 'baths'], /bath/i, false)?.name,
    areaSqm: pick(own, ['NUMBER', 'NUMERIC'], ['areaSqm', 'area', 'size'], /area|sqm|surface|size|m2/i, false)?.name,
    featured: pick(own, ['BOOLEAN'], ['featured'], /featured|highlight|promot/i)?.name,
  };
  if (!currency && !numberPrice) notes.push(`no CURRENCY field (nor a NUMBER field named price): "${fields.price}" is assumed`);
  if (!address && !textCity) notes.push(`no ADDRESS field (nor a TEXT field named city): "${fields.city}" is assumed`);
  for (const role of ['description', 'propertyType', 'features', 'photos', 'bedrooms', 'bathrooms', 'areaSqm', 'featured'] as const) {
    if (fields[role] === undefined) notes.push(`no field found for ${role}: left empty on the pages`);
  }
  const used: string[] = [];
  applyOverrides(fields, overrides, used);
  return { fields, from: 'metadata', overrides: used, notes, known: new Set(all.map((field) => field.name)) };
}

/** The role a field plays on the pages, if any (`addressCustom` -> `address`). */
export function roleOf(fields: ListingFields, field: string): ListingFieldRole | undefined {
  // A text city (TWENTY_CITY_FIELD=city) beside an Address field is still the city.
  if (fieldOf(fields.city) === field && field !== fields.address) return 'city';
  for (const [role, name] of Object.entries(fields) as [keyof ListingFields, string | undefined][]) {
    if (role !== 'priceKind' && role !== 'city' && name === field) return role;
  }
  return undefined;
}
