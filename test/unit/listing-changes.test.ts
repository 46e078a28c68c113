import fc from 'fast-check';
import { LISTING_FIELD_EFFECTS } from '../../server/config';
import { effectsOfUpdate, tagsForListingChange } from '../../server/listings/listing-changes';
import { TwentyObjectName } from '../../server/listings/twenty-object';
import { readTwentyEvent, signatureProblem } from '../../server/listings/twenty-webhook';

const listing = new TwentyObjectName('listings', 'listing');
import { createHmac } from 'node:crypto';

const lists = (city: string, sorts = ['newest', 'price_asc', 'price_desc']) =>
  sorts.flatMap((sort) => [`listings:sort:${sort}:all`, `listings:sort:${sort}:${city}`]);

describe('what a listing change invalidates', () => {
  it('maps updated fields to their broadest effects, unknown fields to relocation', () => {
    expect(effectsOfUpdate(['description', 'photos'])).toEqual(['display']);
    expect(effectsOfUpdate(['description', 'price'])).toEqual(['display', 'price']);
    expect(effectsOfUpdate(['someNewField'])).toEqual(['relocation']);
    expect(effectsOfUpdate([])).toEqual(['relocation']);
    expect(effectsOfUpdate(undefined)).toEqual(['relocation']);
  });

  it("treats names from Object.prototype (constructor, __proto__, toString, ...) as unknown fields, never as the prototype's members", () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf']) {
      expect([name, effectsOfUpdate([name])]).toEqual([name, ['relocation']]);
      expect([name, effectsOfUpdate(['description', name])]).toEqual([name, ['display', 'relocation']]);
    }
  });

  it('maps any field name to its own effect, or to relocation when the table has none (property test)', () => {
    const known = Object.keys(LISTING_FIELD_EFFECTS);
    const prototypeNames = Object.getOwnPropertyNames(Object.prototype);
    const name = fc.oneof(fc.string(), fc.constantFrom(...known), fc.constantFrom(...prototypeNames, '__proto__'));
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 8 }), (fields) => {
        const expected = new Set(fields.map((field) => (known.includes(field) ? LISTING_FIELD_EFFECTS[field] : 'relocation')));
        expect(new Set(effectsOfUpdate(fields))).toEqual(expected);
        for (const effect of effectsOfUpdate(fields)) expect(typeof effect).toBe('string');
      }),
      { numRuns: 500 },
    );
  });

  // Every change moves the listing's lastmod in the sitemap (or adds or removes it there).
  it.each([
    [['display'], ['listing:7', 'sitemap']],
    [['price'], ['listing:7', 'sitemap', ...lists('porto', ['price_asc', 'price_desc'])]],
    [['featured'], ['listing:7', 'sitemap', 'home']],
    [['recency'], ['listing:7', 'sitemap', ...lists('porto', ['newest']), 'home', 'listings:city:porto']],
    [['membership'], ['listing:7', 'sitemap', ...lists('porto'), 'home', 'listings:city:porto']],
    [['relocation'], ['listing:7', 'sitemap', 'home', 'listings:city:porto', 'listings:list']],
  ] as const)('%j in Porto -> %j', (effects, expected) => {
    expect(new Set(tagsForListingChange('7', effects, 'Porto'))).toEqual(new Set(expected));
  });

  it('reaches every city when the record has none', () => {
    expect(new Set(tagsForListingChange('7', ['price']))).toEqual(new Set(['listing:7', 'sitemap', 'listings:sort:price_asc', 'listings:sort:price_desc']));
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

  it('treats an address change as a move: the city lives in the address', () => {
    expect(effectsOfUpdate(['address'])).toEqual(['relocation']);
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
