import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, waitFor, waitForStored, type TestAppHandle } from '../helpers/app';
import { listen } from '../helpers/raw-http';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import { startTwentyStub, type TwentyStub } from '../helpers/twenty-stub';
import { RECORDED_WEBHOOK_SECRET, recordedWorkspace } from '../../tools/twenty-workspace';

/**
 * The server on a workspace set up as the recorded Twenty 2.21 one: object `properties`, its
 * "Address" named `addressCustom`, two records without a price, Twenty 2.21's paging (nulls lost
 * past a cursor) and its token buckets of 100 a minute without Retry-After. Only the five Twenty
 * settings a user gives are set; the webhook is registered through the API as a user would.
 */
describe('a Twenty 2.21 workspace as people set it up (LISTING_SOURCE, TWENTY_API_URL, TWENTY_API_KEY, TWENTY_LISTING_OBJECT, TWENTY_WEBHOOK_SECRET)', () => {
  const API_KEY = 'recorded-workspace-api-key';
  const workspace = recordedWorkspace();
  const prefix = uniquePrefix('recorded');
  let stub: TwentyStub;
  let handle: TestAppHandle;
  let server: { url: string; close(): Promise<void> };

  type Row = { id: string; name: string; price: { amountMicros: number | null }; addressCustom: Record<string, string> };
  const rows = () => stub.records as unknown as Row[];
  const cityOf = (row: Row) => row.addressCustom.addressCity as string;
  const bot = async (path: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { 'User-Agent': GOOGLEBOT } });
    return { status: res.status, cache: res.headers.get('x-cache'), text: await res.text() };
  };
  const idsIn = (html: string) => [...new Set([...html.matchAll(/href="\/listings\/([0-9a-f-]{36})"/g)].map((match) => match[1] as string))];
  const twenty = (method: string, path: string, body?: unknown) =>
    fetch(`${stub.url}/rest/${path}`, {
      method,
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  /** The server's Twenty rate-limit bucket, as /health shows it. */
  const health = async () => ((await (await fetch(`${server.url}/health`)).json()) as { twenty: { rateLimit: { waits: { page: number } } } }).twenty.rateLimit;

  /** A bearer invalidation naming no page drops every record and list the server holds. */
  const forgetListingData = async () => {
    const res = await fetch(`${server.url}/api/cache/invalidate`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json' },
      body: '{"tags":["nothing"]}',
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    stub = await startTwentyStub(workspace.records, { ...workspace, apiKey: API_KEY, version: '2.21', rateLimit: { perMinute: 100, perSecond: 100 } });
    handle = testApp({
      LISTING_SOURCE: 'twenty',
      TWENTY_API_URL: stub.url,
      TWENTY_API_KEY: API_KEY,
      TWENTY_LISTING_OBJECT: 'properties',
      TWENTY_WEBHOOK_SECRET: RECORDED_WEBHOOK_SECRET,
      REDIS_URL: realRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
    });
    await redisReady(handle);
    server = await listen(handle.handler);
    // Settings > APIs & Webhooks > Create webhook, for every event.
    const created = await twenty('POST', 'webhooks', {
      targetUrl: `${server.url}/api/cache/invalidate`,
      operations: ['*.*'],
      description: 'listings cache',
      secret: RECORDED_WEBHOOK_SECRET,
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await server.close();
    await handle.close();
    await stub.close();
    const client = inspectionClient();
    await removeKeys(client, prefix);
    client.disconnect();
  });

  it('finds the fields by type (the Address is addressCustom) and says so in /health', async () => {
    await bot('/');
    const health = (await (await fetch(`${server.url}/health`)).json()) as { twenty: Record<string, unknown> };
    expect(health.twenty).toMatchObject({
      object: 'properties',
      singular: 'property',
      from: 'metadata',
      fields: { address: 'addressCustom', city: 'addressCustom.addressCity', price: 'price', priceKind: 'currency', description: 'description' },
      rateLimit: { mode: 'redis', limits: { perMinute: 100, perSecond: 100 } },
    });
  });

  it('serves home, every browse page in every sort with the unpriced listings last, city pages and detail pages with their Address row', async () => {
    const home = await bot('/');
    expect(home.status).toBe(200);
    expect(idsIn(home.text).length).toBeGreaterThan(0);

    const all = rows().map((row) => row.id);
    const unpriced = rows()
      .filter((row) => row.price.amountMicros === null)
      .map((row) => row.id)
      .sort();
    expect(unpriced).toHaveLength(2);
    for (const sort of ['newest', 'price_asc', 'price_desc']) {
      const seen: string[] = [];
      for (let page = 1; page <= 2; page += 1) {
        const res = await bot(`/listings?sort=${sort}${page > 1 ? `&page=${page}` : ''}`);
        expect({ sort, page, status: res.status }).toEqual({ sort, page, status: 200 });
        seen.push(...idsIn(res.text));
      }
      expect({ sort, count: seen.length }).toEqual({ sort, count: 30 });
      expect(new Set(seen)).toEqual(new Set(all));
      if (sort !== 'newest') {
        // Where NullsLast puts them: after every priced listing, ordered by id.
        expect(seen.slice(-2)).toEqual(unpriced);
        const prices = seen.slice(0, -2).map((id) => rows().find((row) => row.id === id)?.price.amountMicros as number);
        expect(prices).toEqual([...prices].sort((a, b) => (sort === 'price_asc' ? a - b : b - a)));
      }
    }
    expect((await bot('/listings?sort=price_asc&page=3')).status).toBe(404);

    for (const city of new Set(rows().map(cityOf))) {
      const res = await bot(`/listings?city=${encodeURIComponent(city.toLowerCase())}`);
      expect({ city, status: res.status }).toEqual({ city, status: 200 });
      expect(new Set(idsIn(res.text))).toEqual(
        new Set(
          rows()
            .filter((row) => cityOf(row) === city)
            .map((row) => row.id),
        ),
      );
    }

    for (const row of rows()) {
      const res = await bot(`/listings/${row.id}`);
      expect({ id: row.id, status: res.status }).toEqual({ id: row.id, status: 200 });
      const { addressStreet1, addressPostcode, addressCity } = row.addressCustom;
      // The Address row: street, postcode and city; the JSON-LD address has them too.
      expect(res.text).toContain(`${addressStreet1}`);
      expect(res.text).toContain(`${addressPostcode} ${addressCity}`);
      expect(res.text).toContain(`"addressLocality":"${addressCity}","postalCode":"${addressPostcode}","addressCountry":"Portugal"`);
      expect(res.text).toContain(`More homes in ${addressCity}`);
      if (row.price.amountMicros === null) {
        expect(res.text).toContain('Price on request');
        expect(res.text).not.toContain('"price":');
      }
    }
  });

  it("renews both cities' pages when a listing moves to another city, and only the detail page on a street change", async () => {
    const mover = rows().find((row) => cityOf(row) === 'Braga') as Row;
    const stayer = rows().find((row) => cityOf(row) === 'Braga' && row.id !== mover.id) as Row;
    const inFaro = rows().find((row) => cityOf(row) === 'Faro') as Row;
    const [inPorto, portoOther] = rows().filter((row) => cityOf(row) === 'Porto') as [Row, Row];
    const pages = [
      `/listings/${mover.id}`,
      `/listings/${stayer.id}`,
      `/listings/${inFaro.id}`,
      '/listings?city=braga',
      '/listings?city=faro',
      '/listings?city=porto',
      `/listings/${portoOther.id}`,
    ];
    const cacheAll = async () => {
      for (const path of pages) await bot(path);
      for (const path of pages) await waitForStored(handle, `ssr:${path}`);
      for (const path of pages) expect({ path, cache: (await bot(path)).cache }).toEqual({ path, cache: 'HIT' });
    };
    const missed = async () => {
      const states = new Map<string, string | null>();
      for (const path of pages) states.set(path, (await bot(path)).cache);
      return [...states].filter(([, cache]) => cache !== 'HIT').map(([path]) => path);
    };

    // A young memory (just deployed) cannot vouch for pages rendered before it: the first move is renewed everywhere.
    await cacheAll();
    const first = stub.deliveries.length;
    expect((await twenty('PATCH', `properties/${inPorto.id}`, { addressCustom: { ...inPorto.addressCustom, addressCity: 'Aveiro' } })).status).toBe(200);
    await stub.waitForDeliveries(first + 1);
    expect(await missed()).toEqual(expect.arrayContaining(['/listings?city=braga', '/listings?city=faro', '/listings?city=porto']));

    // Once a webhook has reset its entry, the memory knows every city the listing is shown under.
    expect((await twenty('PATCH', `properties/${mover.id}`, { bedrooms: 4 })).status).toBe(200);
    await stub.waitForDeliveries(first + 2);
    await cacheAll();
    const before = stub.deliveries.length;
    const moved = await twenty('PATCH', `properties/${mover.id}`, { addressCustom: { ...mover.addressCustom, addressCity: 'Faro' } });
    expect(moved.status).toBe(200);
    const [delivery] = (await stub.waitForDeliveries(before + 1)).slice(before);
    expect(delivery).toMatchObject({ eventName: 'property.updated', status: 200 });
    // Both cities: the lists and the "more homes" sections of Braga and Faro; Porto's pages stay.
    expect((await missed()).sort()).toEqual(
      [`/listings/${mover.id}`, `/listings/${stayer.id}`, `/listings/${inFaro.id}`, '/listings?city=braga', '/listings?city=faro'].sort(),
    );
    expect(idsIn((await bot('/listings?city=faro')).text)).toContain(mover.id);
    expect(idsIn((await bot('/listings?city=braga')).text)).not.toContain(mover.id);

    await cacheAll();
    const street = await twenty('PATCH', `properties/${mover.id}`, {
      addressCustom: { ...mover.addressCustom, addressCity: 'Faro', addressStreet1: '1 Rua Nova' },
    });
    expect(street.status).toBe(200);
    await stub.waitForDeliveries(before + 2);
    expect(await missed()).toEqual([`/listings/${mover.id}`]);
    expect((await bot(`/listings/${mover.id}`)).text).toContain('1 Rua Nova');
  });

  it('reads the field mapping again when Twenty tells of a new field (a metadata.fieldMetadata webhook)', async () => {
    // A background read, which leaves the last 20 tokens to pages: run before the refused-list test empties the bucket.
    const metadataReads = () => stub.requests.filter((request) => request.path === '/rest/metadata/objects').length;
    const before = metadataReads();
    const delivered = stub.deliveries.length;
    // Settings > Data model > a new field, as a user adds one.
    stub.addField('agentNotes', 'TEXT');
    const sent = await stub.waitForDeliveries(delivered + 1);
    expect(sent.slice(delivered).map((delivery) => delivery.eventName)).toContain('metadata.fieldMetadata.created');
    await waitFor(async () => (metadataReads() > before ? true : undefined), 5000, 20);
  });

  it('answers 200 for a detail page whose "more homes" list Twenty refuses, and keeps that page only briefly', async () => {
    const row = rows().find((candidate) => cityOf(candidate) === 'Coimbra') as Row;
    const answer = stub.respond;
    // Every city list is refused as Twenty refuses over its limit (429, no Retry-After); the record itself is read.
    stub.respond = (req, path, query, body) =>
      path === '/rest/properties' && (query.get('filter') ?? '').includes('addressCity')
        ? { status: 429, body: { statusCode: 429, error: 'HttpException', messages: ['Limit reached (100 tokens per 60000 ms)'] } }
        : answer(req, path, query, body);
    try {
      // Neither its page nor its city's list held any more.
      await forgetListingData();
      handle.tiers.memory?.clear();
      await handle.cache.delete([`ssr:/listings/${row.id}`]);
      const started = Date.now();
      const res = await bot(`/listings/${row.id}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain(row.name);
      expect(res.text).not.toContain('More homes in');
      // The 429 was waited out within the render's bound, then the page went out without the list.
      expect(Date.now() - started).toBeLessThan(8000);
      await waitForStored(handle, `ssr:/listings/${row.id}`);
      const stored = await handle.cache.get(`ssr:/listings/${row.id}`);
      expect(stored?.freshTtl).toBe(60);
    } finally {
      stub.respond = answer;
    }
  });

  it('answers every sitemap URL of a cold crawl with a 2xx, paced under the 100-a-minute bucket', async () => {
    // Cold: no page stored, no Twenty data held.
    await forgetListingData();
    handle.tiers.memory?.clear();
    const client = inspectionClient();
    await removeKeys(client, `${prefix}ssr:`);
    client.disconnect();
    // The tests before this one spent the bucket (and a 429 emptied it): the crawl must wait for
    // tokens. Twenty refusing any of its calls would mean the server did not pace itself.
    let refused = 0;
    const answer = stub.respond;
    stub.respond = (...args) => {
      const reply = answer(...args);
      if (reply.status === 429) refused += 1;
      return reply;
    };
    const waitsBefore = (await health()).waits.page;
    const locs = (xml: string) => [...xml.matchAll(/<loc>([^<]+)<\/loc>/g)].map((match) => new URL(match[1] as string).pathname);
    const index = await bot('/sitemap.xml');
    expect(index.status).toBe(200);
    const urls: string[] = [];
    for (const sitemap of locs(index.text)) {
      const child = await bot(sitemap);
      expect({ sitemap, status: child.status }).toEqual({ sitemap, status: 200 });
      urls.push(...locs(child.text));
    }
    expect(urls.length).toBeGreaterThanOrEqual(31);
    const statuses = new Map<number, number>();
    for (const path of urls) {
      const { status } = await bot(path);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect([...statuses]).toEqual([[200, urls.length]]);
    stub.respond = answer;
    expect(refused).toBe(0);
    expect((await health()).waits.page).toBeGreaterThan(waitsBefore);
  });
});
