import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { BROWSER, GOOGLEBOT, testApp, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import type { Redis } from '../../server/utils/redis-client';
import { listKeys, realRedisUrl, uniquePrefix } from '../helpers/redis';
import { decodeEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';

/** The statuses stored at every page key under the prefix, by path. */
async function storedStatuses(redis: Redis, prefix: string): Promise<Record<string, number | undefined>> {
  const statuses: Record<string, number | undefined> = {};
  for (const key of await listKeys(redis, `${prefix}ssr:`)) statuses[key.slice(`${prefix}ssr:`.length)] = decodeEntry(await redis.getBuffer(key))?.status;
  return statuses;
}

/** Which entry point a suite sends requests to: the server's (cache front, then Express) or Express alone. */
let entry: 'handler' | 'app' = 'handler';

/** Bot request through the real app on the real Redis. */
function botGet(handle: AppHandle, url: string, userAgent = GOOGLEBOT) {
  return request(handle[entry]).get(url).set('User-Agent', userAgent);
}

describe.each([
  ["with the in-process tier, through the server's handler", {}, 'handler'],
  ["with Redis only (SSR_CACHE_MEMORY_MB=0), through the server's handler", { SSR_CACHE_MEMORY_MB: '0' }, 'handler'],
  ['with the in-process tier, through the Express middleware alone', {}, 'app'],
])('the page cache on the real Redis, %s', (_name, env: Record<string, string>, through: string) => {
  const context = useAppOnRealRedis('flow', env);
  beforeEach(() => {
    entry = through as typeof entry;
  });
  let handle: AppHandle;
  let redis: Redis;
  const { prefix } = context;
  beforeAll(() => {
    ({ handle, redis } = context);
  });

  it('answers a bot MISS then HIT with the same page, stored under ssr:{path} for the route TTL plus grace plus stale-if-error', async () => {
    const miss = await botGet(handle, '/listings/123');
    expect(miss.status).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['content-type']).toBe('text/html; charset=utf-8');
    await waitForStored(handle, 'ssr:/listings/123');

    // Detail pages: fresh for 3600 s, then served stale for 3600 s of grace while one re-render
    // runs, then kept 3600 s more to stand in for a failed render (stale-if-error).
    const ttlMs = await redis.pttl(`${prefix}ssr:/listings/123`);
    expect(ttlMs).toBeGreaterThan(10_790_000);
    expect(ttlMs).toBeLessThanOrEqual(10_800_000);

    const hit = await botGet(handle, '/listings/123');
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(hit.text).toBe(miss.text);
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(0);
    expect(hit.headers.etag).toMatch(/^"/);
  });

  it('stores browse pages for the browse TTL and the homepage for its own (each plus grace and stale-if-error)', async () => {
    await botGet(handle, '/listings?sort=price_asc&page=2');
    await botGet(handle, '/');
    await waitForStored(handle, 'ssr:/listings?page=2&sort=price_asc');
    await waitForStored(handle, 'ssr:/');
    expect(await redis.pttl(`${prefix}ssr:/listings?page=2&sort=price_asc`)).toBeLessThanOrEqual(9_000_000);
    expect(await redis.pttl(`${prefix}ssr:/listings?page=2&sort=price_asc`)).toBeGreaterThan(8_990_000);
    expect(await redis.pttl(`${prefix}ssr:/`)).toBeGreaterThan(10_790_000);
  });

  it('serves every spelling of a page from one key', async () => {
    const first = await botGet(handle, '/listings?page=2&sort=price_asc');
    await waitForStored(handle, 'ssr:/listings?page=2&sort=price_asc');
    for (const url of ['/listings?sort=price_asc&page=2&utm_source=news', '/listings?page=02&sort=PRICE_ASC&fbclid=1', '/listings/?sort=price_asc&page=2']) {
      const res = await botGet(handle, url);
      expect(res.headers['x-cache']).toBe('HIT');
      expect(res.text).toBe(first.text);
    }
    const keys = await listKeys(redis, `${prefix}ssr:`);
    expect(keys).toEqual([`${prefix}ssr:/listings?page=2&sort=price_asc`]);
  });

  it('stores a page once whatever defaults its URL spells (page=1, sort=newest), with the canonical link of the plain URL', async () => {
    const first = await botGet(handle, '/listings?page=1&sort=newest');
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.text).toContain('<link rel="canonical" href="https://listings.example.com/listings"/>');
    await waitForStored(handle, 'ssr:/listings');
    for (const url of ['/listings', '/listings?page=1', '/listings?sort=newest', '/listings?sort=NEWEST&page=01']) {
      const res = await botGet(handle, url);
      expect([url, res.headers['x-cache']]).toEqual([url, 'HIT']);
      expect(res.text).toBe(first.text);
    }
    const city = await botGet(handle, '/listings?city=Porto&page=1&sort=newest');
    await waitForStored(handle, 'ssr:/listings?city=porto');
    expect(city.text).toContain('<link rel="canonical" href="https://listings.example.com/listings?city=porto"/>');
    expect((await botGet(handle, '/listings?city=porto')).headers['x-cache']).toBe('HIT');
    expect(await listKeys(redis, `${prefix}ssr:`)).toEqual([`${prefix}ssr:/listings`, `${prefix}ssr:/listings?city=porto`]);
  });

  it('renders exactly the page its key names when parameters repeat', async () => {
    const polluted = await botGet(handle, '/listings?page=2&page=3');
    await waitForStored(handle, 'ssr:/listings?page=2');
    const page2 = await botGet(handle, '/listings?page=2');
    const page3 = await botGet(handle, '/listings?page=3');
    expect(page2.headers['x-cache']).toBe('HIT');
    expect(page2.text).toBe(polluted.text);
    expect(polluted.text).toContain('Page 2 of');
    expect(page3.headers['x-cache']).toBe('MISS');
    expect(page3.text).toContain('Page 3 of');
  });

  it('answers HEAD from the cache with headers only', async () => {
    await botGet(handle, '/listings/7');
    await waitForStored(handle, 'ssr:/listings/7');
    const head = await request(handle[entry]).head('/listings/7').set('User-Agent', GOOGLEBOT);
    expect(head.status).toBe(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(1000);
    expect(head.text ?? '').toBe('');
  });

  it('renders a HEAD miss once as a GET and stores it: the GET after it is a HIT with the validators the HEAD sent', async () => {
    const head = await request(handle[entry]).head('/listings/8').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'br');
    expect([head.status, head.headers['x-cache'], head.headers['x-cache-reason'], head.text ?? '']).toEqual([200, 'MISS', 'absent', '']);
    await waitForStored(handle, 'ssr:/listings/8');
    const get = await request(handle[entry]).get('/listings/8').set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'br');
    expect([get.headers['x-cache'], get.headers['content-encoding']]).toEqual(['HIT', 'br']);
    // The encoded length, as the GET sends it.
    for (const name of ['etag', 'last-modified', 'content-length', 'content-encoding', 'content-type', 'vary'])
      expect([name, head.headers[name]]).toEqual([name, get.headers[name]]);
  });

  it('answers a conditional request for a cached page with 304', async () => {
    await botGet(handle, '/listings/9');
    await waitForStored(handle, 'ssr:/listings/9');
    const hit = await botGet(handle, '/listings/9');
    const revalidated = await botGet(handle, '/listings/9').set('If-None-Match', hit.headers.etag!);
    expect(revalidated.status).toBe(304);
    expect(revalidated.text ?? '').toBe('');
  });

  it('gives browsers a fresh render (BYPASS) and stores nothing for them', async () => {
    const res = await botGet(handle, '/listings/124', BROWSER);
    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('BYPASS');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await redis.exists(`${prefix}ssr:/listings/124`)).toBe(0);
  });

  it('never serves or stores a request with credentials', async () => {
    await botGet(handle, '/listings/125');
    await waitForStored(handle, 'ssr:/listings/125');
    const withAuth = await botGet(handle, '/listings/125').set('Authorization', 'Bearer user-token');
    const withCookie = await botGet(handle, '/listings/126').set('Cookie', 'session=abc');
    expect(withAuth.headers['x-cache']).toBe('BYPASS');
    expect(withCookie.headers['x-cache']).toBe('BYPASS');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await redis.exists(`${prefix}ssr:/listings/126`)).toBe(0);
  });

  it('stores 404 pages of cached routes for the negative TTL (60 s), tagged; never a 400 or an unknown route', async () => {
    const missing = await botGet(handle, '/listings/999999');
    expect(missing.status).toBe(404);
    expect((await botGet(handle, '/listings?page=0')).status).toBe(400);
    expect((await botGet(handle, '/listings?sort=cheapest')).status).toBe(400);
    expect((await botGet(handle, '/listings?city=atlantis')).status).toBe(404);
    expect((await botGet(handle, '/listings?page=999')).status).toBe(404);
    expect((await botGet(handle, '/no-such-page')).status).toBe(404);
    await waitForStored(handle, 'ssr:/listings/999999');
    await waitForStored(handle, 'ssr:/listings?page=999');
    await waitForStored(handle, 'ssr:/listings?city=atlantis');
    expect(await storedStatuses(redis, prefix)).toEqual({ '/listings/999999': 404, '/listings?city=atlantis': 404, '/listings?page=999': 404 });
    const ttl = await redis.pttl(`${prefix}ssr:/listings/999999`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const again = await botGet(handle, '/listings/999999');
    expect(again.status).toBe(404);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.text).toBe(missing.text);
    // The listing's tag reaches its 404: a listing created with that id shows at once.
    await handle.pageCache.invalidate({ tags: ['listing:999999'] });
    expect(await redis.exists(`${prefix}ssr:/listings/999999`)).toBe(0);
  });

  it('counts hits and misses in /health', async () => {
    const before = (await request(handle.app).get('/health')).body;
    await botGet(handle, '/listings/40');
    await waitForStored(handle, 'ssr:/listings/40');
    await botGet(handle, '/listings/40');
    await botGet(handle, '/listings/40');
    const after = (await request(handle.app).get('/health')).body;
    expect(after.status).toBe('ok');
    expect(after.redis.status).toBe('up');
    expect(after.cache.enabled).toBe(true);
    expect(after.cache.hits - before.cache.hits).toBe(2);
    expect(after.cache.misses - before.cache.misses).toBe(1);
    expect(after.cache.totalRequests).toBe(after.cache.hits + after.cache.misses);
    expect(after.cache.hitRate).toBe(`${((after.cache.hits / after.cache.totalRequests) * 100).toFixed(2)}%`);
  });

  it('answers hostile URLs with a page or a 4xx, never a 5xx, and stores only canonical pages', async () => {
    const hostile = [
      '/listings/%00',
      '/listings?page=%FF',
      '/listings?page=1e3',
      '/listings?page=-1',
      '/listings?page=99999999999999999999',
      '/listings?city=%E0%A4%A',
      '/listings?city=%0d%0aSet-Cookie:%20x=1',
      '/listings?sort[$ne]=x',
      '/listings?sort=__proto__',
      '/listings?city=constructor',
      '/listings/..%2f..%2fetc%2fpasswd',
      '/%2e%2e/',
      '//listings',
      '/listings/%E0%A4%A',
      `/listings?junk=${'x'.repeat(6000)}`,
      `/listings/${'9'.repeat(300)}`,
      '/listings?page=1&page=2&page[]=3',
    ];
    for (const url of hostile) {
      for (const userAgent of [GOOGLEBOT, BROWSER]) {
        const res = await botGet(handle, url, userAgent);
        expect({ url, status: res.status < 500 }).toEqual({ url, status: true });
        expect(res.headers['set-cookie']).toBeUndefined();
      }
    }
    await waitForStored(handle, 'ssr:/listings');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Pages only under canonical keys; the 404s of cached routes briefly, under their canonical spelling too.
    expect(await storedStatuses(redis, prefix)).toEqual({
      '/listings': 200,
      '/listings/%00': 404,
      '/listings/..%2F..%2Fetc%2Fpasswd': 404,
      [`/listings/${'9'.repeat(300)}`]: 404,
      '/listings?city=%EF%BF%BD%25a': 404,
      '/listings?city=constructor': 404,
      '/listings?city=set-cookie%3A%20x%3D1': 404,
    });
  });

  it('reads a garbage value at a key as a miss and overwrites it with the next render', async () => {
    await redis.set(`${prefix}ssr:/listings/41`, 'garbage from another program');
    const res = await botGet(handle, '/listings/41');
    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('MISS');
    const isEntry = async () => ((await redis.getBuffer(`${prefix}ssr:/listings/41`))?.subarray(0, 4).toString() === 'SSRC' ? true : undefined);
    await waitFor(isEntry, 2000);
    expect((await botGet(handle, '/listings/41')).headers['x-cache']).toBe('HIT');
  });
});

describe('SSR_CACHE_ALL_AGENTS=true', () => {
  const context = useAppOnRealRedis('all-agents', { SSR_CACHE_ALL_AGENTS: 'true' });

  it('caches pages for browsers too', async () => {
    const { handle } = context;
    expect((await botGet(handle, '/listings/3', BROWSER)).headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/listings/3');
    expect((await botGet(handle, '/listings/3', BROWSER)).headers['x-cache']).toBe('HIT');
  });
});

describe('SSR_CACHE_ENABLED=false', () => {
  it('serves pages without touching the cache and says so in /health', async () => {
    const handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix('off'), SSR_CACHE_ENABLED: 'false' });
    try {
      const res = await botGet(handle, '/listings/3');
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBeUndefined();
      const health = await request(handle.app).get('/health');
      expect(health.body.cache.enabled).toBe(false);
      expect(health.body.status).toBe('ok');
    } finally {
      await handle.close();
    }
  });
});
