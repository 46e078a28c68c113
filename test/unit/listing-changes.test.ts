import fc from 'fast-check';
import { effectsOfUpdate, resolveCityEffects, tagsForListingChange } from '../../server/listings/listing-changes';
import { defaultFieldMapping, discoverFields } from '../../server/listings/twenty-fields';
import { TwentyObjectName } from '../../server/listings/twenty-object';
import { readTwentyEvent, signatureProblem } from '../../server/listings/twenty-webhook';

const listing = new TwentyObjectName('listings', 'listing');
import { createHmac } from 'node:crypto';

const lists = (city: string, sorts = ['newest', 'price_asc', 'price_desc']) =>
  sorts.flatMap((sort) => [`listings:sort:${sort}:all`, `listings:sort:${sort}:${city}`]);

const defaults = defaultFieldMapping();
/** The recorded workspace's mapping: a custom object whose "Address" Twenty named addressCustom. */
const recorded = discoverFields([
  { name: 'name', type: 'TEXT' },
  { name: 'price', type: 'CURRENCY' },
  { name: 'addressCustom', type: 'ADDRESS', label: 'Address' },
  { name: 'description', type: 'RICH_TEXT' },
  { name: 'photos', type: 'LINKS' },
  { name: 'bedrooms', type: 'NUMBER' },
  { name: 'agentNotes', type: 'TEXT', label: 'Agent notes' },
  { name: 'createdAt', type: 'DATE_TIME', isSystem: true },
]);

describe('what a listing change invalidates', () => {
  it('maps updated fields by the role they play to their effects; a field the mapping does not know to relocation', () => {
    expect(effectsOfUpdate(['description', 'photos'], defaults)).toEqual(['detail']);
    expect(effectsOfUpdate(['description', 'price'], defaults)).toEqual(['detail', 'price']);
    expect(effectsOfUpdate(['bedrooms', 'name'], defaults)).toEqual(['display']);
    expect(effectsOfUpdate(['someNewField'], defaults)).toEqual(['relocation']);
    expect(effectsOfUpdate([], defaults)).toEqual(['relocation']);
    expect(effectsOfUpdate(undefined, defaults)).toEqual(['relocation']);
  });

  it('finds the Address field under the name the workspace has (addressCustom), and a field no page shows dates the detail page only', () => {
    expect(effectsOfUpdate(['addressCustom'], recorded)).toEqual(['address']);
    expect(effectsOfUpdate(['address'], recorded)).toEqual(['relocation']);
    expect(effectsOfUpdate(['agentNotes'], recorded)).toEqual(['detail']);
    expect(effectsOfUpdate(['createdAt'], recorded)).toEqual(['recency']);
  });

  it('tells a move from a street change by the cities the listing was shown under', () => {
    expect(resolveCityEffects(['address'], 'Porto', ['Porto'])).toEqual(['detail']);
    expect(resolveCityEffects(['address', 'price'], 'Porto', ['Lisbon'])).toEqual(['relocation', 'price']);
    expect(resolveCityEffects(['address'], 'Porto', ['Porto', 'Lisbon'])).toEqual(['relocation']);
    // Not known where it was shown: a move from anywhere.
    expect(resolveCityEffects(['address'], 'Porto', undefined)).toEqual(['relocation']);
    expect(resolveCityEffects(['address'], undefined, ['Porto'])).toEqual(['relocation']);
    // The same city spelt otherwise: the cards show it, so the pages showing the listing.
    expect(resolveCityEffects(['address'], 'Porto', ['porto'])).toEqual(['display']);
  });

  it("catches a move any event reveals (the move's own webhook may come second, or go to another instance)", () => {
    expect(resolveCityEffects(['display'], 'Braga', ['Porto'])).toEqual(['display', 'relocation']);
    expect(resolveCityEffects(['price'], 'Braga', ['Braga'])).toEqual(['price']);
    expect(resolveCityEffects(['membership'], 'Braga', undefined)).toEqual(['membership']);
  });

  it('keeps a text city set by TWENTY_CITY_FIELD beside an Address field a city, never a detail', () => {
    const both = discoverFields(
      [
        { name: 'addressCustom', type: 'ADDRESS' },
        { name: 'city', type: 'TEXT' },
        { name: 'price', type: 'CURRENCY' },
      ],
      { cityField: 'city' },
    );
    expect(effectsOfUpdate(['city'], both)).toEqual(['relocation']);
    expect(effectsOfUpdate(['addressCustom'], both)).toEqual(['address']);
  });

  it("treats names from Object.prototype (constructor, __proto__, toString, ...) as unknown fields, never as the prototype's members", () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf']) {
      expect([name, effectsOfUpdate([name], defaults)]).toEqual([name, ['relocation']]);
      expect([name, effectsOfUpdate(['description', name], defaults)]).toEqual([name, ['detail', 'relocation']]);
    }
  });

  it('maps every field to its own effect, and names the mapping does not know to relocation (property test)', () => {
    // What each field of the default mapping changes, written out here rather than read from the code under test.
    const expected: Record<string, string> = {
      name: 'display',
      bedrooms: 'display',
      bathrooms: 'display',
      areaSqm: 'display',
      description: 'detail',
      photos: 'detail',
      features: 'detail',
      propertyType: 'detail',
      updatedAt: 'detail',
      price: 'price',
      featured: 'featured',
      address: 'address',
      createdAt: 'recency',
      deletedAt: 'membership',
    };
    const known = Object.keys(expected);
    const prototypeNames = Object.getOwnPropertyNames(Object.prototype);
    const name = fc.oneof(fc.string(), fc.constantFrom(...known), fc.constantFrom(...prototypeNames, '__proto__'));
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 8 }), (fields) => {
        const want = new Set(fields.map((field) => (Object.hasOwn(expected, field) ? expected[field] : 'relocation')));
        expect(new Set(effectsOfUpdate(fields, defaults))).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });

  // Every change moves the listing's lastmod in the sitemap (or adds or removes it there).
  it.each([
    [['detail'], ['listing-page:7', 'sitemap']],
    [['display'], ['listing-page:7', 'listing:7', 'sitemap']],
    [['price'], ['listing-page:7', 'listing:7', 'sitemap', ...lists('porto', ['price_asc', 'price_desc'])]],
    [['featured'], ['listing-page:7', 'listing:7', 'sitemap', 'home']],
    [['recency'], ['listing-page:7', 'listing:7', 'sitemap', ...lists('porto', ['newest']), 'home', 'listings:city:porto']],
    [['membership'], ['listing-page:7', 'listing:7', 'sitemap', ...lists('porto'), 'home', 'listings:city:porto']],
    [['relocation'], ['listing-page:7', 'listing:7', 'sitemap', 'home', 'listings:city:porto', 'listings:list']],
  ] as const)('%j in Porto -> %j', (effects, expected) => {
    expect(new Set(tagsForListingChange('7', effects, 'Porto'))).toEqual(new Set(expected));
  });

  it('renews both cities\' lists and "more homes" sections on a move whose old city is known, and no other city\'s', () => {
    const tags = new Set(tagsForListingChange('7', ['relocation'], 'Porto', ['lisbon']));
    expect(tags).toEqual(
      new Set(['listing-page:7', 'listing:7', 'sitemap', 'home', ...lists('porto'), ...lists('lisbon'), 'listings:city:porto', 'listings:city:lisbon']),
    );
    expect(tags.has('listings:list')).toBe(false);
  });

  it('reaches every city when the record has none', () => {
    expect(new Set(tagsForListingChange('7', ['price']))).toEqual(
      new Set(['listing-page:7', 'listing:7', 'sitemap', 'listings:sort:price_asc', 'listings:sort:price_desc']),
    );
    expect(tagsForListingChange('7', ['membership'])).toContain('listings:list');
  });
});

describe('readTwentyEvent', () => {
  it('reads the listing id, city (text or address field) and effects', () => {
    expect(readTwentyEvent({ eventName: 'listing.updated', record: { id: 'a1', city: 'Lisbon' }, updatedFields: ['price'] }, listing)).toEqual({
      kind: 'change',
      event: 'listing.updated',
      action: 'updated',
      id: 'a1',
      city: 'Lisbon',
      effects: ['price'],
    });
    const created = readTwentyEvent({ eventName: 'listing.created', record: { id: 'a2', address: { addressCity: 'Porto' } } }, listing);
    expect(created).toMatchObject({ city: 'Porto', effects: ['membership'] });
    expect(readTwentyEvent({ eventName: 'listing.deleted', record: { id: 'a3' } }, listing)).toMatchObject({ effects: ['relocation'] });
  });

  it('knows the object by the singular Twenty names, not one derived from the plural (properties -> property)', () => {
    const properties = new TwentyObjectName('properties');
    const event = { eventName: 'property.updated', objectMetadata: { id: 'm1', nameSingular: 'property' }, record: { id: 'p1' }, updatedFields: ['price'] };
    expect(readTwentyEvent(event, properties)).toMatchObject({ kind: 'change', id: 'p1', effects: ['price'] });
    expect(readTwentyEvent({ ...event, eventName: 'person.updated', objectMetadata: { id: 'm2', nameSingular: 'person' } }, properties)).toMatchObject({
      kind: 'ignored',
    });
    // Once Twenty's metadata (or TWENTY_LISTING_OBJECT_SINGULAR) says the name, only that one matches.
    const learnt = new TwentyObjectName('properties', 'realEstate');
    expect(readTwentyEvent(event, learnt)).toMatchObject({ kind: 'ignored' });
    expect(readTwentyEvent({ ...event, eventName: 'realEstate.updated', objectMetadata: { id: 'm1', nameSingular: 'realEstate' } }, learnt)).toMatchObject({
      kind: 'change',
    });
  });

  it('ignores metadata events, which a webhook on all events also gets', () => {
    const metadata = { eventName: 'metadata.fieldMetadata.updated', objectMetadata: { id: 'm', nameSingular: 'fieldMetadata' }, event: { id: 'f1' } };
    expect(readTwentyEvent(metadata, listing)).toMatchObject({ kind: 'ignored', reason: expect.stringContaining('metadata event') });
  });

  it("reads the city from the workspace's Address field (addressCustom) once the metadata named it", () => {
    const properties = new TwentyObjectName('properties', 'property');
    properties.learn('property', { labels: new Map(), fields: [{ name: 'addressCustom', type: 'ADDRESS' }] });
    const event = { eventName: 'property.updated', record: { id: 'p1', addressCustom: { addressCity: ' Braga ' } }, updatedFields: ['addressCustom'] };
    expect(readTwentyEvent(event, properties)).toMatchObject({ kind: 'change', city: 'Braga', effects: ['address'] });
  });

  it('ignores other objects and actions, and refuses malformed bodies', () => {
    expect(readTwentyEvent({ eventName: 'person.created', record: { id: '1' } }, listing)).toMatchObject({ kind: 'ignored' });
    expect(readTwentyEvent({ eventName: 'listing.archived', record: { id: '1' } }, listing)).toMatchObject({ kind: 'ignored' });
    expect(readTwentyEvent({ eventName: 'listing.updated' }, listing)).toEqual({ kind: 'invalid', error: 'record: required for listing events' });
    expect(readTwentyEvent({ eventName: 42 }, listing)).toMatchObject({ kind: 'invalid' });
  });
});

describe('signatureProblem', () => {
  const secret = 'a-secret-of-sixteen+';
  const body = Buffer.from('{"eventName":"listing.updated"}');
  const now = 1_800_000_000_000;
  const headers = (timestamp = String(now), signature?: string) => ({
    'x-twenty-webhook-timestamp': timestamp,
    'x-twenty-webhook-nonce': '0123456789abcdef0123456789abcdef',
    'x-twenty-webhook-signature': signature ?? createHmac('sha256', secret).update(`${timestamp}:${body}`).digest('hex'),
  });

  it('accepts HMAC-SHA256(secret, "{timestamp}:{raw body}") within the tolerance', () => {
    expect(signatureProblem(headers(), body, { secret, toleranceMs: 300_000, now })).toBeUndefined();
    expect(signatureProblem(headers(String(now - 299_000)), body, { secret, toleranceMs: 300_000, now })).toBeUndefined();
  });

  it('names each problem', () => {
    const check = { secret, toleranceMs: 300_000, now };
    expect(signatureProblem(headers(), Buffer.from(`${body} `), check)).toBe('signature does not match');
    expect(signatureProblem(headers(String(now - 301_000)), body, check)).toMatch(/too old/);
    expect(signatureProblem(headers(String(now + 301_000)), body, check)).toMatch(/future/);
    expect(signatureProblem(headers(String(now), 'ab'), body, check)).toMatch(/64 lowercase hex/);
    expect(signatureProblem({}, body, check)).toBe('missing X-Twenty-Webhook-Timestamp header');
  });
});
