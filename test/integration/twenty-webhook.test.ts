import fc from 'fast-check';
import inject from 'light-my-request';
import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { generateCatalog } from '../../server/listings/embedded-catalog';
import { pageCacheRoutes } from '../../server/config';
import { compileRoutes } from '../../packages/ssr-page-cache/src/options';
import { generateCacheKey } from '../../packages/ssr-page-cache/src/key';
import type { Redis } from '../../server/utils/redis-client';
import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, testConfig, waitForStored } from '../helpers/app';
import { listen, rawExchange } from '../helpers/raw-http';
import { inspectionClient, listKeys, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

const ENDPOINT = '/api/cache/invalidate';
const CATALOG_SIZE = 200;
const catalog = generateCatalog(CATALOG_SIZE);
const policies = compileRoutes(pageCacheRoutes(testConfig().cache));

describe('Twenty webhooks', () => {
  const prefix = uniquePrefix('webhook');
  let handle: AppHandle;
  let redis: Redis;

  const post = (body: string, headers: Record<string, string>) => request(handle.app).post(ENDPOINT).set(headers).send(body);
  const bot = (path: string) => request(handle.handler).get(path).set('User-Agent', GOOGLEBOT);
  async function cache(paths: string[]): Promise<void> {
    for (const path of paths) {
      await bot(path).expect(200);
      await waitForStored(handle, `ssr:${path}`);
    }
  }
  const storedKeys = async () => (await listKeys(redis, `${prefix}ssr:`)).map((key) => key.slice(prefix.length));

  beforeAll(async () => {
    redis = inspectionClient();
    handle = testApp({
      REDIS_URL: realRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      LISTING_CATALOG_SIZE: String(CATALOG_SIZE),
      TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TWENTY_WEBHOOK_MODE: 'hard',
    });
    await redisReady(handle);
  });
  afterEach(async () => {
    await removeKeys(redis, prefix);
    handle.tiers.memory?.clear();
  });
  afterAll(async () => {
    await handle.close();
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  describe('signature', () => {
    const body = twentyEvent('updated', '5', { updatedFields: ['description'] });

    it('accepts a genuine webhook and says what it removed', async () => {
      await cache(['/listings/5']);
      const res = await post(body, twentyHeaders(body));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        source: 'twenty',
        event: 'listing.updated',
        ids: ['5'],
        effects: ['detail'],
        mode: 'hard',
        deleted: 1,
        tags: ['listing-page:5', 'sitemap'],
      });
      expect(res.body.keys).toContain('ssr:/listings/5');
    });

    const now = Date.now();
    it.each<[string, () => Record<string, string>, string | RegExp]>([
      ['a wrong secret', () => twentyHeaders(body, { secret: 'another-secret-0123456789' }), 'signature does not match'],
      ['a body changed by one byte', () => twentyHeaders(body.replace('description', 'descriptioN')), 'signature does not match'],
      ['a timestamp too old', () => twentyHeaders(body, { timestamp: now - 301_000 }), /too old \(more than 300 s\)/],
      ['a timestamp in the future', () => twentyHeaders(body, { timestamp: Date.now() + 301_000 }), /in the future/],
      ['no timestamp', () => ({ ...twentyHeaders(body), 'X-Twenty-Webhook-Timestamp': '' }), /Timestamp must be milliseconds/],
      ['a signature of the wrong length', () => ({ ...twentyHeaders(body), 'X-Twenty-Webhook-Signature': 'abc123' }), /64 lowercase hex/],
      ['a signature that is not hex', () => ({ ...twentyHeaders(body), 'X-Twenty-Webhook-Signature': 'z'.repeat(64) }), /64 lowercase hex/],
      [
        'an upper-case signature',
        () => {
          const headers = twentyHeaders(body);
          return { ...headers, 'X-Twenty-Webhook-Signature': headers['X-Twenty-Webhook-Signature']!.toUpperCase() };
        },
        /64 lowercase hex/,
      ],
      ['a malformed nonce', () => ({ ...twentyHeaders(body), 'X-Twenty-Webhook-Nonce': 'no' }), /Nonce must be/],
    ])('answers 401 naming the reason for %s', async (_name, headers, reason) => {
      const res = await post(body, headers());
      expect(res.status).toBe(401);
      expect(res.body.error).toMatch(reason);
    });

    it('answers 401 for missing headers', async () => {
      const { ['X-Twenty-Webhook-Nonce']: _nonce, ...withoutNonce } = twentyHeaders(body);
      expect((await post(body, withoutNonce)).body.error).toBe('missing X-Twenty-Webhook-Nonce header');
      const { ['X-Twenty-Webhook-Timestamp']: _timestamp, ...withoutTimestamp } = twentyHeaders(body);
      expect((await post(body, withoutTimestamp)).body.error).toBe('missing X-Twenty-Webhook-Timestamp header');
    });

    it('answers 401 to a replayed request (same nonce)', async () => {
      const headers = twentyHeaders(body);
      expect((await post(body, headers)).status).toBe(200);
      const replay = await post(body, headers);
      expect(replay.status).toBe(401);
      expect(replay.body.error).toMatch(/already received: a replayed request/);
    });

    it('answers 401 to a replay with a new nonce: the nonce is not signed, replays are told by the signature', async () => {
      const headers = twentyHeaders(body);
      expect((await post(body, headers)).status).toBe(200);
      const invalidations = handle.stats.invalidations;
      for (let i = 0; i < 5; i += 1) {
        const replay = await post(body, { ...headers, 'X-Twenty-Webhook-Nonce': `fresh-nonce-${i}-0123456789` });
        expect([replay.status, replay.body.error]).toEqual([401, 'this delivery (its signature) was already received: a replayed request']);
      }
      expect(handle.stats.invalidations).toBe(invalidations);
      // The claim lives in Redis for as long as a timestamp can pass (twice the tolerance), so every instance refuses it:
      // one set of signatures scored by when they may be forgotten (a key without TTL, which volatile-* policies never evict).
      expect(await listKeys(redis, `${prefix}ssr-webhook`)).toEqual([`${prefix}ssr-webhook-deliveries`]);
      const claims = await redis.zrange(`${prefix}ssr-webhook-deliveries`, 0, -1, 'WITHSCORES');
      expect(claims[0]).toBe(headers['X-Twenty-Webhook-Signature']);
      expect(Number(claims[1]) - Date.now()).toBeGreaterThan(590_000);
      // A new delivery of the same change (a new timestamp, so a new signature) is a new event.
      expect((await post(body, twentyHeaders(body, { timestamp: Date.now() + 1 }))).status).toBe(200);
    });

    it('refuses a webhook whose signature headers cannot pass before reading its body', async () => {
      const server = await listen(handle.handler);
      try {
        const stale = twentyHeaders(body, { timestamp: Date.now() - 3_600_000 });
        // Headers announcing a megabyte that never comes: the answer must not wait for it.
        const head = [
          `POST ${ENDPOINT} HTTP/1.1`,
          'Host: x',
          'Connection: close',
          'Content-Type: application/json',
          'Content-Length: 1000000',
          ...Object.entries(stale)
            .filter(([name]) => name !== 'Content-Type')
            .map(([name, value]) => `${name}: ${value}`),
          '',
          '',
        ].join('\r\n');
        const started = Date.now();
        const answer = await rawExchange(server.url, Buffer.from(head));
        expect(answer.status).toBe(401);
        expect(answer.body).toMatch(/too old/);
        expect(Date.now() - started).toBeLessThan(2000);
      } finally {
        await server.close();
      }
    });

    it('refuses signed webhooks with 403 when no secret is configured', async () => {
      const other = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix });
      try {
        const res = await request(other.app).post(ENDPOINT).set(twentyHeaders(body)).send(body);
        expect(res.status).toBe(403);
        expect(res.body.error).toMatch(/TWENTY_WEBHOOK_SECRET/);
      } finally {
        await other.close();
      }
    });
  });

  describe('what a change invalidates', () => {
    // Listing 5 and pages around it: which of them show it is read from their HTML.
    const subject = catalog[4]!;
    const elsewhere = catalog.find((listing) => listing.city !== subject.city && Number(listing.id) > 100)!;
    const otherCityList = `/listings?city=${encodeURIComponent(elsewhere.city.toLowerCase())}`;
    const pages = ['/listings/5', '/listings', '/listings?page=3', '/listings?page=3&sort=price_asc', '/', `/listings/${elsewhere.id}`, otherCityList];
    const showing = new Map<string, boolean>();
    const send = async (action: string, extra: Record<string, unknown> = {}) => {
      const body = twentyEvent(action, '5', { ...extra, record: { id: '5', city: subject.city } });
      const res = await post(body, twentyHeaders(body));
      expect(res.status).toBe(200);
      return res;
    };
    const remaining = async () => new Set((await storedKeys()).map((key) => key.slice('ssr:'.length)));

    beforeEach(async () => {
      for (const path of pages) {
        const res = await bot(path).expect(200);
        showing.set(path, new RegExp(`href="/listings/5"`).test(res.text) || path === '/listings/5');
        await waitForStored(handle, generateCacheKey({ url: path }, policies)!);
      }
    });

    it('display-only update: exactly the pages showing the listing', async () => {
      const res = await send('updated', { updatedFields: ['name', 'bedrooms'] });
      expect(res.body.effects).toEqual(['display']);
      const kept = await remaining();
      for (const path of pages) expect({ path, kept: kept.has(path) }).toEqual({ path, kept: !showing.get(path) });
    });

    it('an update of what only the detail page shows (description, photos): that page alone', async () => {
      const res = await send('updated', { updatedFields: ['description', 'photos'] });
      expect(res.body.effects).toEqual(['detail']);
      const kept = await remaining();
      for (const path of pages) expect({ path, kept: kept.has(path) }).toEqual({ path, kept: path !== '/listings/5' });
    });

    it('price change: also the price-sorted lists, not the newest-first ones, the homepage or another city', async () => {
      const res = await send('updated', { updatedFields: ['price'] });
      expect(res.body.effects).toEqual(['price']);
      const kept = await remaining();
      expect(kept.has('/listings?page=3&sort=price_asc')).toBe(false);
      expect(kept.has('/listings/5')).toBe(false);
      expect(kept.has('/')).toBe(true);
      expect(kept.has(`/listings/${elsewhere.id}`)).toBe(true);
      expect(kept.has('/listings?page=3')).toBe(!showing.get('/listings?page=3'));
    });

    it.each(['created', 'deleted', 'destroyed', 'restored'])(
      '%s: a membership change reaches the lists of its city and of all cities, the homepage and its city, not another city',
      async (action) => {
        const res = await send(action);
        expect(res.body).toMatchObject({ effects: ['membership'], mode: 'hard' });
        const city = subject.city.toLowerCase();
        expect(new Set(res.body.tags)).toEqual(
          new Set([
            'listing:5',
            'listing-page:5',
            'sitemap',
            `listings:city:${city}`,
            'home',
            ...['newest', 'price_asc', 'price_desc'].flatMap((sort) => [`listings:sort:${sort}:all`, `listings:sort:${sort}:${city}`]),
          ]),
        );
        expect([...(await remaining())].sort()).toEqual([`/listings/${elsewhere.id}`, otherCityList].sort());
      },
    );

    it("a move to another city reaches both cities' lists and sections (the old one from where the listing was shown), not a third city", async () => {
      // An earlier change made the memory of where listing 5 is shown complete (a young memory alone vouches for nothing).
      await send('updated', { updatedFields: ['bedrooms'] });
      for (const path of pages) {
        await bot(path).expect(200);
        await waitForStored(handle, generateCacheKey({ url: path }, policies)!);
      }
      const body = twentyEvent('updated', '5', { updatedFields: ['city'], record: { id: '5', city: elsewhere.city } });
      const res = await post(body, twentyHeaders(body));
      expect(res.body.effects).toEqual(['relocation']);
      const [from, to] = [subject.city.toLowerCase(), elsewhere.city.toLowerCase()];
      // Exactly both cities' orderings and sections (and the lists of all cities): no third city, not every list.
      expect(new Set(res.body.tags)).toEqual(
        new Set([
          'listing:5',
          'listing-page:5',
          'sitemap',
          'home',
          `listings:city:${from}`,
          `listings:city:${to}`,
          ...['newest', 'price_asc', 'price_desc'].flatMap((sort) => [
            `listings:sort:${sort}:all`,
            `listings:sort:${sort}:${from}`,
            `listings:sort:${sort}:${to}`,
          ]),
        ]),
      );
      // The other city's list and its detail page (its "more homes" now may hold listing 5) go too.
      expect([...(await remaining())]).toEqual([]);
    });

    it('a city change whose old city is not known for sure (a young memory, a listing never shown) reaches every list, other cities too', async () => {
      const young = await send('updated', { updatedFields: ['city'] });
      expect(young.body.tags).toContain('listings:list');
      const body = twentyEvent('updated', 'never-shown', { updatedFields: ['city'], record: { id: 'never-shown', city: subject.city } });
      const res = await post(body, twentyHeaders(body));
      expect(res.body.effects).toEqual(['relocation']);
      expect(res.body.tags).toContain('listings:list');
    });

    it('ignores other objects and unknown actions with 202, so the CRM sees no failure', async () => {
      const company = twentyEvent('updated', 'c1', {}, 'company');
      const ignored = await post(company, twentyHeaders(company));
      expect(ignored.status).toBe(202);
      expect(ignored.body.ignored).toMatch(/object "company"/);
      const archived = twentyEvent('archived', '5');
      const unknown = await post(archived, twentyHeaders(archived));
      expect(unknown.status).toBe(202);
      expect(unknown.body.ignored).toMatch(/action "archived"/);
    });

    it('answers metadata events (a webhook on all events gets them) with 202, ignored', async () => {
      const body = JSON.stringify({
        targetUrl: 'https://listings.example.com/api/cache/invalidate',
        eventName: 'metadata.fieldMetadata.updated',
        objectMetadata: { id: '9a1c4e2b-0000-4000-8000-000000000001', nameSingular: 'fieldMetadata' },
        workspaceId: '20202020-1c25-4d02-bf25-6aeccf7ea419',
        webhookId: '3b8c0f41-6a55-4c4a-8b4e-0a9b8f5e2d10',
        eventDate: new Date().toISOString(),
        event: { id: 'f1', name: 'price' },
      });
      const res = await post(body, twentyHeaders(body));
      expect(res.status).toBe(202);
      expect(res.body.ignored).toMatch(/metadata event/);
    });

    it('reads a 200 KB body (a long rich-text description) and refuses one over TWENTY_WEBHOOK_MAX_BODY_KB with 413', async () => {
      await cache(['/listings/5']);
      const description = { blocknote: JSON.stringify([{ type: 'paragraph', content: 'x'.repeat(100_000) }]), markdown: 'y'.repeat(100_000) };
      const large = twentyEvent('updated', '5', { updatedFields: ['description'], record: { id: '5', city: 'Lisbon', description } });
      expect(Buffer.byteLength(large)).toBeGreaterThan(200_000);
      const res = await post(large, twentyHeaders(large));
      expect(res.status).toBe(200);
      expect(res.body.keys).toContain('ssr:/listings/5');
      const huge = twentyEvent('updated', '5', { record: { id: '5', description: 'z'.repeat(1100 * 1024) } });
      const refused = await post(huge, twentyHeaders(huge));
      expect(refused.status).toBe(413);
      expect(refused.body.error).toMatch(/larger than 1024kb/);
    });

    it('answers 400 for a signed body that is not a listing event', async () => {
      for (const body of ['{"eventName":"listing"}', '{"eventName":"listing.updated"}', '[]', '{"eventName":"listing.updated","record":{"id":{}}}']) {
        const res = await post(body, twentyHeaders(body));
        expect(res.status).toBe(400);
        expect(typeof res.body.error).toBe('string');
      }
    });

    it('keeps the bearer forms: {"tags":[...]}', async () => {
      const res = await request(handle.app)
        .post(ENDPOINT)
        .set('Authorization', `Bearer ${TEST_TOKEN}`)
        .set('Content-Type', 'application/json')
        .send({ tags: ['home'] });
      expect(res.status).toBe(200);
      expect(res.body.keys).toEqual(['ssr:/']);
      expect(await storedKeys()).not.toContain('ssr:/');
    });
  });

  describe('properties', () => {
    const shownIds = (html: string) => new Set([...html.matchAll(/href="\/listings\/(\d+)"/g)].map((match) => match[1]!));
    const pageArbitrary = fc.oneof(
      fc.integer({ min: 1, max: 60 }).map((id) => `/listings/${id}`),
      fc
        .record({ page: fc.integer({ min: 1, max: 3 }), sort: fc.constantFrom('newest', 'price_asc', 'price_desc') })
        .map(({ page, sort }) => `/listings?page=${page}&sort=${sort}`),
      fc.constant('/'),
    );
    const changeArbitrary = fc.record({
      id: fc.integer({ min: 1, max: 60 }).map(String),
      // Detail-only and display changes are the ones that must reach exactly the pages showing what changed.
      fields: fc.oneof(
        fc.subarray(['description', 'photos', 'name', 'bedrooms', 'areaSqm'], { minLength: 1 }),
        fc.subarray(['description', 'photos', 'price', 'featured', 'city', 'name'], { minLength: 1 }),
      ),
    });

    it('never serves from cache a page that showed a changed listing; pruning leaves only live pages indexed', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(pageArbitrary, { minLength: 1, maxLength: 8 }),
          fc.array(changeArbitrary, { minLength: 1, maxLength: 4 }),
          async (paths, changes) => {
            await removeKeys(redis, prefix);
            handle.tiers.memory?.clear();
            const shown = new Map<string, Set<string>>();
            for (const path of paths) {
              const res = await inject(handle.handler, { method: 'GET', url: path, headers: { 'user-agent': GOOGLEBOT } });
              shown.set(path, shownIds(res.payload));
            }
            for (const path of paths) await waitForStored(handle, generateCacheKey({ url: path }, policies)!);
            for (const change of changes) {
              const body = twentyEvent('updated', change.id, { updatedFields: change.fields, record: { id: change.id } });
              const res = await inject(handle.app, { method: 'POST', url: ENDPOINT, headers: twentyHeaders(body), payload: body });
              expect(res.statusCode).toBe(200);
            }
            // A change of what only the detail page shows (description, photos) must reach that page; any other, every page showing the listing.
            const detailOnly = (fields: string[]) => fields.every((field) => field === 'description' || field === 'photos');
            const changed = new Set(changes.filter((change) => !detailOnly(change.fields)).map((change) => change.id));
            const ownPages = new Set(changes.map((change) => `/listings/${change.id}`));
            for (const path of paths) {
              if (!ownPages.has(path) && ![...shown.get(path)!].some((id) => changed.has(id))) continue;
              const res = await inject(handle.handler, { method: 'GET', url: path, headers: { 'user-agent': GOOGLEBOT } });
              expect({ path, cache: res.headers['x-cache'] }).toEqual({ path, cache: 'MISS' });
            }
            // Pages gone without an invalidation (expired, evicted) leave members behind until pruned.
            const gone = (await listKeys(redis, `${prefix}ssr:/listings/`)).slice(0, 2);
            if (gone.length > 0) await redis.unlink(...gone);
            await handle.cache.pruneTagIndex();
            for (const tagKey of await listKeys(redis, `${prefix}ssr-tag:`)) {
              for (const member of await redis.smembers(tagKey))
                expect({ tagKey, member, exists: await redis.exists(`${prefix}${member}`) }).toEqual({ tagKey, member, exists: 1 });
            }
          },
        ),
        { numRuns: 60 },
      );
    });

    it('never answers 5xx to random bodies and headers', async () => {
      const header = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 80 }), fc.stringMatching(/^[0-9a-f]{64}$/), fc.integer().map(String));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.json(),
            fc.string({ maxLength: 300 }),
            fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
          ),
          fc.record({
            signature: header,
            timestamp: header,
            nonce: header,
            authorization: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 60 }), fc.constant(`Bearer ${TEST_TOKEN}`)),
            contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
          }),
          async (payload, parts) => {
            const headers: Record<string, string> = { 'content-type': parts.contentType };
            if (parts.signature !== undefined) headers['x-twenty-webhook-signature'] = parts.signature;
            if (parts.timestamp !== undefined) headers['x-twenty-webhook-timestamp'] = parts.timestamp;
            if (parts.nonce !== undefined) headers['x-twenty-webhook-nonce'] = parts.nonce;
            if (parts.authorization !== undefined) headers.authorization = parts.authorization;
            const res = await inject(handle.app, { method: 'POST', url: ENDPOINT, headers, payload });
            expect(res.statusCode).toBeLessThan(500);
            expect(() => JSON.parse(res.payload)).not.toThrow();
          },
        ),
        { numRuns: 2000 },
      );
    });
  });
});
