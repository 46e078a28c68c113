import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { BROWSER, GOOGLEBOT, testApp, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import type { Redis } from '../../server/utils/redis-client';
import { listKeys, realRedisUrl, uniquePrefix } from '../helpers/redis';

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

  it('answers a bot MISS then HIT with the same page, stored under ssr:{path} for the route TTL plus grace', async () => {
    const miss = await botGet(handle, '/listings/123');
    expect(miss.status).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['content-type']).toBe('text/html; charset=utf-8');
    await waitForStored(handle, 'ssr:/listings/123');

    // Detail pages: fresh for 3600 s, then served stale for 3600 s of grace while one re-render runs.
    const ttlMs = await redis.pttl(`${prefix}ssr:/listings/123`);
    expect(ttlMs).toBeGreaterThan(7_190_000);
    expect(ttlMs).toBeLessThanOrEqual(7_200_000);

    const hit = await botGet(handle, '/listings/123');
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(hit.text).toBe(miss.text);
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(0);
    expect(hit.headers.etag).toMatch(/^"/);
  });

  it('stores browse pages for the browse TTL and the homepage for its own (each plus grace)', async () => {
    await botGet(handle, '/listings?sort=price_asc&page=2');
    await botGet(handle, '/');
    await waitForStored(handle, 'ssr:/listings?page=2&sort=price_asc');
    await waitForStored(handle, 'ssr:/');
    expect(await redis.pttl(`${prefix}ssr:/listings?page=2&sort=price_asc`)).toBeLessThanOrEqual(5_400_000);
    expect(await redis.pttl(`${prefix}ssr:/listings?page=2&sort=price_asc`)).toBeGreaterThan(5_390_000);
    expect(await redis.pttl(`${prefix}ssr:/`)).toBeGreaterThan(7_190_000);
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

  it('does not store a HEAD miss, which has no body', async () => {
    const head = await request(handle[entry]).head('/listings/8').set('User-Agent', GOOGLEBOT);
    expect(head.headers['x-cache']).toBe('MISS');
    const get = await botGet(handle, '/listings/8');
    expect(get.headers['x-cache']).toBe('MISS');
    expect(get.text).toContain('</html>');
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

  it('does not store 404 pages, invalid queries or unknown routes', async () => {
    expect((await botGet(handle, '/listings/999999')).status).toBe(404);
    expect((await botGet(handle, '/listings?page=0')).status).toBe(400);
    expect((await botGet(handle, '/listings?sort=cheapest')).status).toBe(400);
    expect((await botGet(handle, '/listings?city=atlantis')).status).toBe(404);
    expect((await botGet(handle, '/listings?page=999')).status).toBe(404);
    expect((await botGet(handle, '/no-such-page')).status).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await listKeys(redis, `${prefix}ssr:`)).toEqual([]);
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
    await waitForStored(handle, 'ssr:/listings?page=1');
    expect(await listKeys(redis, `${prefix}ssr:`)).toEqual([`${prefix}ssr:/listings`, `${prefix}ssr:/listings?page=1`]);
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
