import { listingFromTwentyRecord } from '../../server/listings/twenty-source';

describe("a Twenty record's price", () => {
  const record = (price: unknown) => ({ id: 'rec-1', name: 'Home', city: 'Lisbon', price });

  it('is null, never 0, when the Currency field is empty', () => {
    expect(listingFromTwentyRecord(record({ amountMicros: null, currencyCode: 'EUR' }))).toMatchObject({ price: null, currency: 'EUR' });
    expect(listingFromTwentyRecord(record({ amountMicros: null, currencyCode: null }))).toMatchObject({ price: null, currency: 'EUR' });
    expect(listingFromTwentyRecord(record({ currencyCode: 'USD' }))).toMatchObject({ price: null, currency: 'USD' });
    expect(listingFromTwentyRecord(record(undefined))).toMatchObject({ price: null });
    expect(listingFromTwentyRecord(record(null))).toMatchObject({ price: null });
    expect(listingFromTwentyRecord(record(''))).toMatchObject({ price: null });
  });

  it("keeps the amount and the record's own currency", () => {
    expect(listingFromTwentyRecord(record({ amountMicros: 1_250_000_000_000, currencyCode: 'USD' }))).toMatchObject({ price: 1_250_000, currency: 'USD' });
    expect(listingFromTwentyRecord(record({ amountMicros: '99500000', currencyCode: 'gbp' }))).toMatchObject({ price: 99.5, currency: 'GBP' });
    expect(listingFromTwentyRecord(record({ amountMicros: 0, currencyCode: '' }))).toMatchObject({ price: 0, currency: 'EUR' });
    expect(listingFromTwentyRecord(record(250_007))).toMatchObject({ price: 250_007, currency: 'EUR' });
  });
});
