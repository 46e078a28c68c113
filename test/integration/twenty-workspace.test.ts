import request from 'supertest';
import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, waitFor, waitForStored, type TestAppHandle } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import { startTwentyStub, twentyRecord, type TwentyStub, type TwentyStubOptions } from '../helpers/twenty-stub';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

const CITIES = ['Lisbon', 'Porto', 'Faro'];
/** A workspace whose object is `properties` (singular `property`), the city only in the address, prices in Currency. */
const records = Array.from({ length: 30 }, (_, index) =>
  twentyRecord(`p-${index + 1}`, {
    name: `Home ${index + 1}`,
    price: { amountMicros: (100_000 + ((index * 7919) % 30) * 10_000) * 1_000_000, currencyCode: 'EUR' },
    address: { addressStreet1: `${index + 1} Main Street`, addressCity: CITIES[index % 3], addressCountry: 'Portugal' },
    featured: index < 12,
    createdAt: `2026-01-${String(index + 1).padStart(2, '0')}T00:00:00.000Z`,
    description: { markdown: `A **bright** home <script>alert(${index})</script>`, blocknote: null },
  }),
);
const priceOf = (id: string) => (records.find((record) => record.id === id)?.price as { amountMicros: number }).amountMicros / 1e6;

/**
 * Registers the hooks of a suite on a Twenty workspace: the stand-in with these records (object
 * `properties`, singular `property`, 200 records a list call) and the server on it with only
 * TWENTY_LISTING_OBJECT set of Twenty's settings, on the real Redis under its own prefix.
 */
function useWorkspace(label: string, records: Record<string, unknown>[], stubOptions: TwentyStubOptions = {}) {
  const context = { prefix: uniquePrefix(label) } as { prefix: string; stub: TwentyStub; handle: TestAppHandle };
  beforeAll(async () => {
    context.stub = await startTwentyStub(records, { plural: 'properties', singular: 'property', maxLimit: 200, ...stubOptions });
    context.handle = testApp({
      LISTING_SOURCE: 'twenty',
      TWENTY_API_URL: context.stub.url,
      TWENTY_API_KEY: 'twenty-api-key',
      TWENTY_LISTING_OBJECT: 'properties',
      TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TWENTY_WEBHOOK_MODE: 'hard',
      REDIS_URL: realRedisUrl(),
      REDIS_KEY_PREFIX: context.prefix,
    });
    await redisReady(context.handle);
  });
  afterAll(async () => {
    await context.handle.close();
    await context.stub.close();
    const client = inspectionClient();
    await removeKeys(client, context.prefix);
    client.disconnect();
  });
  return context;
}

describe('a real Twenty workspace (TWENTY_LISTING_OBJECT=properties and no other Twenty setting)', () => {
  const workspace = useWorkspace('workspace', records);
  let stub: TwentyStub;
  let handle: TestAppHandle;
  const bot = (path: string) => request(handle.handler).get(path).set('User-Agent', GOOGLEBOT);
  /** A bearer invalidation naming no listing also drops the listing data held for renders. */
  const forgetData = () =>
    request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send('{"tags":["nothing"]}')
      .expect(200);
  const ids = (html: string) => [...html.matchAll(/href="\/listings\/(p-\d+)"/g)].map((match) => match[1] as string);

  beforeAll(() => {
    ({ stub, handle } = workspace);
  });

  it('serves the homepage, both price sorts, city pages and detail pages with the right content', async () => {
    const home = await bot('/');
    expect(home.status).toBe(200);
    expect(home.text).toContain('Home 12');

    for (const sort of ['price_asc', 'price_desc'] as const) {
      const res = await bot(`/listings?sort=${sort}`);
      expect(res.status).toBe(200);
      const prices = [...new Set(ids(res.text))].map(priceOf);
      expect(prices.length).toBeGreaterThan(5);
      expect(prices).toEqual([...prices].sort((a, b) => (sort === 'price_asc' ? a - b : b - a)));
    }
    // Twenty wants the Currency field's subfield; the stand-in refuses `price[...]` with a 400, as Twenty does.
    expect(stub.requests.some((seen) => seen.query.get('order_by') === 'price.amountMicros[AscNullsLast]')).toBe(true);

    const porto = await bot('/listings?city=porto');
    expect(porto.status).toBe(200);
    const portoIds = [...new Set(ids(porto.text))];
    expect(portoIds).toHaveLength(10);
    for (const id of portoIds) expect((records.find((record) => record.id === id)?.address as { addressCity: string }).addressCity).toBe('Porto');

    const detail = await bot('/listings/p-4');
    expect(detail.status).toBe(200);
    expect(detail.text).toContain('Home 4');
    expect(detail.text).toContain('More homes in Lisbon');
    // SELECT and MULTI_SELECT values by their labels; rich text without its markers, escaped.
    expect(detail.text).toContain('apartment');
    expect(detail.text).not.toContain('APARTMENT');
    // The workspace's own label from the metadata API ("Ocean view"), not the value humanised ("Sea view").
    await waitFor(async () => ((await bot('/listings/p-11')).text.includes('Ocean view') ? true : undefined), 3000, 50);
    expect(detail.text).not.toContain('**');
    expect(detail.text).not.toContain('<script>alert');
    expect((await bot('/listings/unknown-id')).status).toBe(404);
  });

  it('renews exactly the affected pages on property.updated, and both cities on a move of the address', async () => {
    await bot('/listings/p-5');
    await waitForStored(handle, 'ssr:/listings/p-5');
    const display = twentyEvent('updated', 'p-5', { updatedFields: ['name'], record: { id: 'p-5', address: { addressCity: 'Porto' } } }, 'property');
    const renewed = await request(handle.app).post('/api/cache/invalidate').set(twentyHeaders(display)).send(display);
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ event: 'property.updated', effects: ['display'], keys: expect.arrayContaining(['ssr:/listings/p-5']) });

    const move = twentyEvent('updated', 'p-5', { updatedFields: ['address'], record: { id: 'p-5', address: { addressCity: 'Faro' } } }, 'property');
    const moved = await request(handle.app).post('/api/cache/invalidate').set(twentyHeaders(move)).send(move);
    expect(moved.status).toBe(200);
    expect(moved.body.effects).toEqual(['relocation']);
    // The old city is not in the webhook, but the page was shown under it: both cities' lists and sections go, not every list.
    expect(moved.body.tags).toEqual(
      expect.arrayContaining(['listings:city:porto', 'listings:city:faro', 'listings:sort:newest:porto', 'listings:sort:newest:faro']),
    );
    expect(moved.body.tags).not.toContain('listings:list');

    // A street change in the same city renews its detail page alone.
    const street = twentyEvent(
      'updated',
      'p-5',
      { updatedFields: ['address'], record: { id: 'p-5', address: { addressStreet1: '9 New Street', addressCity: 'Faro' } } },
      'property',
    );
    const renamed = await request(handle.app).post('/api/cache/invalidate').set(twentyHeaders(street)).send(street);
    expect(renamed.body.effects).toEqual(['detail']);
    expect(new Set(renamed.body.tags)).toEqual(new Set(['listing-page:p-5', 'sitemap']));
  });

  it('answers a get-one "no such record" as a 404 page in every Twenty version, and any other Twenty error as 503 that keeps the stored page', async () => {
    const answer = stub.respond;
    try {
      stub.respond = (req, path, query) =>
        path === '/rest/properties/old-400'
          ? { status: 400, body: { statusCode: 400, error: 'BadRequestException', messages: ['Record not found'] } }
          : answer(req, path, query);
      expect((await bot('/listings/old-400')).status).toBe(404);
      stub.respond = (req, path, query) =>
        path === '/rest/properties/old-null' ? { status: 200, body: { data: { property: null } } } : answer(req, path, query);
      expect((await bot('/listings/old-null')).status).toBe(404);

      await bot('/listings/p-6');
      await waitForStored(handle, 'ssr:/listings/p-6');
      await forgetData();
      stub.respond = () => ({ status: 400, body: { statusCode: 400, error: 'BadRequestException', messages: ['Limit reached'] } });
      handle.tiers.memory?.clear();
      // The stored page is served as it is; an uncached one is a 503 with Retry-After, never a 404 or 502.
      expect((await bot('/listings/p-6')).headers['x-cache']).toBe('HIT');
      const uncached = await bot('/listings/p-7');
      expect(uncached.status).toBe(503);
      expect(uncached.headers['retry-after']).toBeDefined();
      expect(await handle.cache.ttlMs('ssr:/listings/p-6')).toBeGreaterThan(0);
    } finally {
      stub.respond = answer;
    }
  });

  it("waits out a short 429 Retry-After, and passes a long one on as 503 with Twenty's Retry-After", async () => {
    const answer = stub.respond;
    let refused = 0;
    try {
      stub.respond = (req, path, query) => {
        if (path === '/rest/properties/p-8' && refused === 0) {
          refused += 1;
          return { status: 429, body: { statusCode: 429, messages: ['Limit reached'] }, headers: { 'Retry-After': '1' } };
        }
        return answer(req, path, query);
      };
      await forgetData();
      expect((await bot('/listings/p-8')).status).toBe(200);
      await forgetData();
      stub.respond = () => ({ status: 429, body: { statusCode: 429, messages: ['Limit reached'] }, headers: { 'Retry-After': '40' } });
      const limited = await bot('/listings/p-9');
      expect(limited.status).toBe(503);
      expect(limited.headers['retry-after']).toBe('40');
    } finally {
      stub.respond = answer;
    }
  });
});

describe('a cold crawl of a Twenty workspace under its rate limit', () => {
  const many = Array.from({ length: 300 }, (_, index) =>
    twentyRecord(`c-${index + 1}`, { address: { addressCity: CITIES[index % 3] }, createdAt: new Date(Date.UTC(2026, 0, 1) + index * 60_000).toISOString() }),
  );
  // Twenty's default API-key limit: 100 calls a minute, shared by every integration.
  const crawl = useWorkspace('crawl', many, { rateLimit: { perSecond: 100, perMinute: 100 } });
  let stub: TwentyStub;
  let handle: TestAppHandle;

  beforeAll(() => {
    ({ stub, handle } = crawl);
  });
  const bot = (path: string) => request(handle.handler).get(path).set('User-Agent', GOOGLEBOT);
  const locs = (xml: string) => [...xml.matchAll(/<loc>([^<]+)<\/loc>/g)].map((match) => new URL(match[1] as string).pathname);

  it('costs at most one REST call a page on average, and no page answers other than 2xx', async () => {
    const before = stub.requests.length;
    const sitemaps = locs((await bot('/sitemap.xml').expect(200)).text);
    const pages: string[] = [];
    for (const sitemap of sitemaps) pages.push(...locs((await bot(sitemap).expect(200)).text));
    expect(pages.length).toBe(302);
    const statuses = new Map<number, number>();
    for (const path of pages) {
      const { status } = await bot(path);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect([...statuses]).toEqual([[200, 302]]);
    const calls = stub.requests.length - before;
    // Records the sitemap walk and the lists brought serve the detail pages; one "more homes" list a city.
    expect(calls / (pages.length + sitemaps.length + 1)).toBeLessThanOrEqual(1);
    expect(calls).toBeLessThan(100);
  });

  it('walks to browse page N from the cursor it remembers: one call, not N', async () => {
    await bot('/listings?page=2').expect(200);
    const before = stub.requests.length;
    await bot('/listings?page=3').expect(200);
    expect(stub.requests.length - before).toBe(1);
    expect(stub.requests.at(-1)?.query.get('starting_after')).toBeTruthy();
  });

  it('forgets a changed record when its webhook arrives: the re-render shows the new data', async () => {
    await bot('/listings/c-10').expect(200);
    await waitForStored(handle, 'ssr:/listings/c-10');
    const record = stub.records.find((candidate) => candidate.id === 'c-10') as Record<string, unknown>;
    record.name = 'Renamed home';
    const body = twentyEvent('updated', 'c-10', { updatedFields: ['name'], record: { id: 'c-10', address: { addressCity: 'Porto' } } }, 'property');
    expect((await request(handle.app).post('/api/cache/invalidate').set(twentyHeaders(body)).send(body)).status).toBe(200);
    const fresh = await bot('/listings/c-10');
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.text).toContain('Renamed home');
  });
});
