import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { ListingSourceError } from '../../server/listings/listing';
import { learnObjectMetadata, TwentyObjectName } from '../../server/listings/twenty-object';
import { recordedWorkspace } from '../../tools/twenty-workspace';
import { createTwentyClient } from '../../server/listings/twenty-client';
import { createTwentySource } from '../../server/listings/twenty-source';
import { GOOGLEBOT, redisReady, testApp, waitForStored } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import { startTwentyStub, twentyRecord, type TwentyStub } from '../helpers/twenty-stub';

const records = Array.from({ length: 60 }, (_, index) => twentyRecord(`rec-${index + 1}`));

describe('the Twenty REST listing source', () => {
  let stub: TwentyStub;
  const client = () => createTwentyClient({ apiUrl: stub.url, apiKey: 'twenty-api-key', timeoutMs: 300 });
  const source = () => createTwentySource({ client: client(), timeoutMs: 300, objectNamePlural: 'listings', objectNameSingular: 'listing' });

  beforeEach(async () => {
    stub = await startTwentyStub(records);
  });
  afterEach(async () => {
    await stub.close();
  });

  it("learns the object's singular name from Twenty's metadata API, never from the plural", async () => {
    const paced = client();
    const ask = (plural: string) => learnObjectMetadata((path) => paced.get(path, 'page'), plural);
    const metadata = await ask('listings');
    expect(metadata?.singular).toBe('listing');
    expect(metadata?.labels.get('features')?.get('SEA_VIEW')).toBe('Ocean view');
    expect(await ask('properties')).toBeUndefined();
    expect(stub.requests[0]).toMatchObject({ path: '/rest/metadata/objects', authorization: 'Bearer twenty-api-key' });
  });

  it('reads one record, with the API key, and maps Twenty field shapes', async () => {
    const listing = await source().getListing('rec-7');
    expect(stub.requests[0]).toMatchObject({ path: '/rest/listings/rec-7', authorization: 'Bearer twenty-api-key' });
    expect(listing).toMatchObject({
      id: 'rec-7',
      title: 'Listing rec-7',
      description: 'Description of listing rec-7.',
      price: 250_007,
      currency: 'EUR',
      city: 'Lisbon',
      address: '1 Harbour Street, 1100-001 Lisbon',
      street: '1 Harbour Street',
      postcode: '1100-001',
      country: 'Portugal',
      photos: ['https://cdn.example.com/rec-7/1.jpg', 'https://cdn.example.com/rec-7/2.jpg'],
      featured: true,
    });
  });

  it('answers undefined for an unknown record', async () => {
    await expect(source().getListing('nope')).resolves.toBeUndefined();
  });

  it('walks cursors to a browse page, with order and city filter', async () => {
    const page = await source().listListings({ page: 3, pageSize: 24, sort: 'price_asc', city: 'lisbon' });
    expect(page.total).toBe(60);
    expect(page.items.map((listing) => listing.id)).toEqual(records.slice(48, 60).map((record) => record.id));
    expect(stub.requests).toHaveLength(3);
    // Each page starts after the cursor the previous answer ended with.
    expect(stub.requests[2]!.query.get('starting_after')).toBeTruthy();
    expect(stub.requests[1]!.query.get('starting_after')).not.toBe(stub.requests[2]!.query.get('starting_after'));
    expect(stub.requests[0]!.query.get('order_by')).toBe('price.amountMicros[AscNullsLast]');
    expect(stub.requests[0]!.query.get('filter')).toBe('address.addressCity[ilike]:"lisbon"');
  });

  it('turns an error answer into an unavailable error and a slow one into a timeout', async () => {
    stub.respond = () => ({ status: 500, body: { error: 'boom' } });
    await expect(source().getListing('rec-1')).rejects.toMatchObject({ failure: 'unavailable', httpStatus: 503 });
    stub.respond = () => ({ status: 200, body: { data: { listing: records[0] } }, delayMs: 2000 });
    const started = Date.now();
    const error = await source()
      .getListing('rec-1')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ListingSourceError);
    expect(error).toMatchObject({ failure: 'timeout', httpStatus: 503 });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it.each([
    ['404 (current Twenty)', 404, { statusCode: 404, error: 'NotFoundException', messages: ['Record not found'] }],
    ['400 "Record not found" (older Twenty)', 400, { statusCode: 400, error: 'BadRequestException', messages: ['Record not found'] }],
    ['400 for a malformed UUID', 400, { statusCode: 400, error: 'BadRequestException', messages: ['invalid input syntax for type uuid: "x"'] }],
    ['200 with a null record (oldest Twenty)', 200, { data: { listing: null } }],
  ])('reads get-one %s as no such listing', async (_name, status, body) => {
    stub.respond = () => ({ status, body });
    await expect(source().getListing('x')).resolves.toBeUndefined();
  });

  it('never reads another 400 or 404 (an older Twenty\'s "Limit reached", a proxy) as a missing record', async () => {
    stub.respond = () => ({ status: 400, body: { statusCode: 400, error: 'BadRequestException', messages: ['Limit reached'] } });
    await expect(source().getListing('rec-1')).rejects.toMatchObject({ failure: 'rate-limited', httpStatus: 503 });
    stub.respond = () => ({ status: 400, body: { statusCode: 400, error: 'BadRequestException', messages: ["field 'city' does not exist"] } });
    await expect(source().getListing('rec-1')).rejects.toMatchObject({ failure: 'unavailable' });
    // A 404 that is not Twenty's "Record not found" (a wrong plural, a proxy) is an outage, not a deletion.
    stub.respond = () => ({ status: 404, body: { statusCode: 404, error: 'NotFound', messages: ['Cannot GET /rest/listings/rec-1'] } });
    await expect(source().getListing('rec-1')).rejects.toMatchObject({ failure: 'unavailable' });
    stub.respond = () => ({ status: 400, body: { statusCode: 400, messages: ['Object metadata not found for listings'] } });
    await expect(source().getListing('rec-1')).rejects.toMatchObject({ failure: 'unavailable' });
  });

  it('rejects a list answer without the data array', async () => {
    stub.respond = () => ({ status: 200, body: { data: {} } });
    await expect(source().listFeatured(3)).rejects.toMatchObject({ failure: 'unavailable' });
  });
});

describe('the SSR server on the Twenty source', () => {
  let stub: TwentyStub;
  let handle: AppHandle;
  const prefix = uniquePrefix('twenty');

  beforeAll(async () => {
    stub = await startTwentyStub(records);
    handle = testApp({
      LISTING_SOURCE: 'twenty',
      TWENTY_API_URL: stub.url,
      TWENTY_API_KEY: 'twenty-api-key',
      TWENTY_API_TIMEOUT_MS: '300',
      // Every render asks Twenty: these tests are about its answers, not the data cache.
      TWENTY_DATA_CACHE_SECONDS: '0',
      REDIS_URL: realRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
    });
    await redisReady(handle);
  });
  afterAll(async () => {
    await stub.close();
    await handle.close();
    const client = inspectionClient();
    await removeKeys(client, prefix);
    client.disconnect();
  });

  it('renders a detail page from the CRM and caches it', async () => {
    const first = await request(handle.app).get('/listings/rec-3').set('User-Agent', GOOGLEBOT);
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.text).toContain('Listing rec-3');
    await waitForStored(handle, 'ssr:/listings/rec-3');
    const second = await request(handle.app).get('/listings/rec-3').set('User-Agent', GOOGLEBOT);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.text).toBe(first.text);
  });

  it('serves a 503 page with Retry-After, not stored, when the CRM fails (never a 502, which slows a crawl)', async () => {
    stub.respond = () => ({ status: 503, body: { error: 'maintenance' } });
    for (const expected of ['MISS', 'MISS']) {
      const res = await request(handle.app).get('/listings/rec-9').set('User-Agent', GOOGLEBOT);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('30');
      expect(res.headers['x-cache']).toBe(expected);
      expect(res.text).toContain('Listings are unavailable');
    }
  });

  it('serves a 503 page, without hanging, when the CRM is too slow', async () => {
    stub.respond = () => ({ status: 200, body: { data: { listing: records[0] } }, delayMs: 3000 });
    const started = Date.now();
    const res = await request(handle.app).get('/listings/rec-10').set('User-Agent', GOOGLEBOT);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('30');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('null-priced listings on the browse pages (Twenty 2.21 loses them past a cursor)', () => {
  const workspace = recordedWorkspace();
  const object = new TwentyObjectName('properties', 'property');
  object.learn('property', {
    labels: new Map(),
    fields: Object.entries(workspace.fields).map(([name, spec]) => ({ name, type: typeof spec === 'string' ? spec : spec.type })),
  });
  type Row = { id: string; price: { amountMicros: number | null }; addressCustom: { addressCity: string } };
  const rows = workspace.records as unknown as Row[];
  const unpriced = rows.filter((row) => row.price.amountMicros === null);

  it.each(['2.21', 'latest'] as const)('lists every record of every price ordering once, the unpriced last, on Twenty %s', async (version) => {
    const stub = await startTwentyStub(workspace.records, { ...workspace, version });
    try {
      const source = createTwentySource({
        client: createTwentyClient({ apiUrl: stub.url, apiKey: 'k', timeoutMs: 1000 }),
        timeoutMs: 1000,
        objectNamePlural: 'properties',
        objectNameSingular: 'property',
        object,
      });
      for (const sort of ['price_asc', 'price_desc'] as const) {
        for (const pageSize of [24, 13, 7]) {
          const seen: string[] = [];
          for (let page = 1; page <= Math.ceil(30 / pageSize) + 1; page += 1) {
            const { items, total } = await source.listListings({ page, pageSize, sort });
            expect(total).toBe(30);
            seen.push(...items.map((listing) => listing.id));
          }
          expect({ sort, pageSize, count: seen.length }).toEqual({ sort, pageSize, count: 30 });
          expect(seen.slice(-2)).toEqual(unpriced.map((row) => row.id).sort());
          source.forget?.();
        }
      }
      // A city whose only unpriced listing sits after its priced ones.
      const city = unpriced[0]!.addressCustom.addressCity;
      const inCity = rows.filter((row) => row.addressCustom.addressCity === city);
      const first = await source.listListings({ page: 1, pageSize: inCity.length - 1, sort: 'price_asc', city: city.toLowerCase() });
      const second = await source.listListings({ page: 2, pageSize: inCity.length - 1, sort: 'price_asc', city: city.toLowerCase() });
      expect([...first.items, ...second.items].map((listing) => listing.id).at(-1)).toBe(unpriced[0]!.id);
      // Newer Twenty pages the nulls itself: no extra call for them.
      const nullQueries = stub.requests.filter((request) => (request.query.get('filter') ?? '').includes('[is]:NULL'));
      if (version === 'latest') expect(nullQueries).toEqual([]);
      else expect(nullQueries.length).toBeGreaterThan(0);
    } finally {
      await stub.close();
    }
  });
});
