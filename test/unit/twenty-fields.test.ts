import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultFieldMapping, discoverFields, roleOf, type MetadataField } from '../../server/listings/twenty-fields';
import { learnListingObject, learnObjectMetadata, TwentyObjectName } from '../../server/listings/twenty-object';
import { listingFromTwentyRecord } from '../../server/listings/twenty-source';

const REST = join(__dirname, '../fixtures/twenty-2.21/rest');

/** The JSON body of a recorded answer (status line and headers, a blank line, the body). */
function recordedBody(file: string): unknown {
  const text = readFileSync(join(REST, file), 'utf8');
  return JSON.parse(text.slice(text.search(/\r?\n\r?\n/)).trim());
}

type MetadataObject = { namePlural: string; nameSingular: string; fields: MetadataField[]; labelIdentifierFieldMetadataId?: string };
const objects = (recordedBody('06-metadata-objects.http') as { data: { objects: MetadataObject[] } }).data.objects;
const properties = objects.find((object) => object.namePlural === 'properties') as MetadataObject;

describe('the listing fields found in the metadata of a real Twenty 2.21 workspace', () => {
  const mapping = discoverFields(properties.fields, {}, properties.labelIdentifierFieldMetadataId);

  it('finds each role by type, whatever the workspace named it (the "Address" a user made is addressCustom)', () => {
    expect(mapping.from).toBe('metadata');
    expect(mapping.fields).toEqual({
      title: 'name',
      description: 'description',
      price: 'price',
      priceKind: 'currency',
      address: 'addressCustom',
      city: 'addressCustom.addressCity',
      propertyType: 'propertyType',
      features: 'features',
      photos: 'photos',
      bedrooms: 'bedrooms',
      bathrooms: 'bathrooms',
      areaSqm: 'areaSqm',
      featured: 'featured',
    });
    expect(mapping.notes).toEqual([]);
    expect(roleOf(mapping.fields, 'addressCustom')).toBe('address');
    expect(roleOf(mapping.fields, 'address')).toBeUndefined();
  });

  it('reads a recorded record through it: the Address row, the currency amount and a null price', () => {
    const list = recordedBody('13-all-limit-200-price-asc.http') as { data: { properties: Record<string, unknown>[] } };
    const [first] = list.data.properties;
    const listing = listingFromTwentyRecord(first as Record<string, unknown>, mapping.fields);
    expect(listing).toMatchObject({
      title: 'Listing 29 in Vila Nova de Gaia',
      city: 'Vila Nova de Gaia',
      street: '29 Rua das Flores, Apt 3',
      postcode: '4000-029',
      country: 'Portugal',
      address: '29 Rua das Flores, Apt 3, 4000-029 Vila Nova de Gaia',
      price: 160_000,
      currency: 'EUR',
    });
    const unpriced = list.data.properties.filter((record) => (record.price as { amountMicros: unknown }).amountMicros === null);
    expect(unpriced).toHaveLength(2);
    for (const record of unpriced) expect(listingFromTwentyRecord(record, mapping.fields).price).toBeNull();
    // With the names assumed before discovery, the city and address are lost (the bug this fixes).
    expect(listingFromTwentyRecord(first as Record<string, unknown>).city).toBe('');
  });

  it('lets the settings override what it found, and says so', () => {
    const overridden = discoverFields(properties.fields, { cityField: 'city', priceField: 'askingPrice' });
    expect(overridden.fields).toMatchObject({ city: 'city', price: 'askingPrice', priceKind: 'number', address: 'addressCustom' });
    expect(overridden.overrides).toEqual(['TWENTY_CITY_FIELD=city', 'TWENTY_PRICE_FIELD=askingPrice']);
  });

  it('finds fields named otherwise by their type and label, and names the roles it could not fill', () => {
    const other = discoverFields([
      { name: 'headline', type: 'TEXT', label: 'Title' },
      { name: 'askingPrice', type: 'CURRENCY', label: 'Asking price' },
      { name: 'location', type: 'ADDRESS', label: 'Location' },
      { name: 'notes', type: 'RICH_TEXT', label: 'Notes' },
      { name: 'beds', type: 'NUMBER', label: 'Beds' },
      { name: 'floorArea', type: 'NUMBER', label: 'Floor area (m²)' },
      { name: 'gallery', type: 'LINKS', label: 'Gallery' },
      { name: 'oldAddress', type: 'TEXT', label: 'Old address', isActive: false },
    ]);
    expect(other.fields).toMatchObject({
      title: 'headline',
      price: 'askingPrice',
      priceKind: 'currency',
      address: 'location',
      city: 'location.addressCity',
      description: 'notes',
      bedrooms: 'beds',
      areaSqm: 'floorArea',
      photos: 'gallery',
    });
    expect(other.fields.bathrooms).toBeUndefined();
    expect(other.notes).toEqual(expect.arrayContaining(['no field found for bathrooms: left empty on the pages']));
  });

  it('falls back to the default names, saying so, without metadata', () => {
    const fallback = defaultFieldMapping({ cityField: 'addressCustom.addressCity' });
    expect(fallback.from).toBe('defaults');
    expect(fallback.fields).toMatchObject({ address: 'addressCustom', city: 'addressCustom.addressCity', price: 'price' });
    expect(fallback.notes[0]).toMatch(/metadata/);
  });
});

describe("reading Twenty's metadata API to its last page", () => {
  it('follows the cursor until the object is found', async () => {
    const pages = [
      { data: { objects: objects.slice(0, 5) }, pageInfo: { hasNextPage: true, endCursor: 'c1' }, totalCount: objects.length },
      { data: { objects: objects.slice(5) }, pageInfo: { hasNextPage: false, endCursor: 'c2' }, totalCount: objects.length },
    ];
    const asked: string[] = [];
    const get = async (path: string) => {
      asked.push(path);
      return new Response(JSON.stringify(pages[asked.length - 1]), { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    // `properties` is the 19th object: on the second page.
    const metadata = await learnObjectMetadata(get, 'properties');
    expect(asked).toEqual(['metadata/objects', 'metadata/objects?starting_after=c1']);
    expect(metadata?.singular).toBe('property');
    expect(metadata?.fields.map((field) => field.name)).toContain('addressCustom');
    asked.length = 0;
    expect(await learnObjectMetadata(get, 'listings')).toBeUndefined();
    expect(asked).toHaveLength(2);
  });
});

describe('learning the mapping again (a field renamed in Twenty)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());
  const logger = { info: () => undefined, warn: () => undefined };
  const renamed = objects.map((object) =>
    object === properties
      ? { ...object, fields: object.fields.map((field) => (field.name === 'bedrooms' ? { ...field, name: 'beds', label: 'Beds' } : field)) }
      : object,
  );
  const answer = (list: MetadataObject[]) =>
    new Response(JSON.stringify({ data: { objects: list }, pageInfo: { hasNextPage: false } }), {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
    });

  it('reads the metadata again every 10 minutes and on refresh(), one read at a time, tells of a change once, and stops', async () => {
    const object = new TwentyObjectName('properties');
    const asked: string[] = [];
    let served = objects;
    let release: (() => void) | undefined;
    const get = (_path: string, priority: 'page' | 'background') => {
      asked.push(priority);
      const held = served;
      return new Promise<Response>((resolve) => {
        release = () => resolve(answer(held));
      });
    };
    const changes: number[] = [];
    const learning = learnListingObject(object, get, logger, { refreshMs: 600_000, onChange: () => changes.push(Date.now()) });
    expect(asked).toEqual(['page']);
    // A refresh asked while the first read is under way makes one more read after it, not a second at once.
    learning.refresh();
    learning.refresh();
    expect(asked).toHaveLength(1);
    release?.();
    await jest.advanceTimersByTimeAsync(0);
    expect(object.fields.bedrooms).toBe('bedrooms');
    expect(asked).toEqual(['page', 'background']);
    release?.();
    await jest.advanceTimersByTimeAsync(0);
    expect(changes).toEqual([]);

    // Ten minutes later, at background priority: the field renamed in Twenty is found, the host told once.
    served = renamed;
    await jest.advanceTimersByTimeAsync(600_000);
    expect(asked).toHaveLength(3);
    release?.();
    await jest.advanceTimersByTimeAsync(0);
    expect(object.fields.bedrooms).toBe('beds');
    expect(changes).toHaveLength(1);

    learning.stop();
    await jest.advanceTimersByTimeAsync(3_600_000);
    expect(asked).toHaveLength(3);
  });
});
