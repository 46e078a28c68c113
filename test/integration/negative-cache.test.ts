import { Agent, request as httpRequest } from 'node:http';
import express from 'express';
import request from 'supertest';
import { createEmbeddedCatalog, createRandom } from '../../server/listings/embedded-catalog';
import type { ListingSource } from '../../server/listings/listing';
import { createPageCache } from 'ssr-page-cache';
import { decodeEntry, encodeEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import type { Redis } from '../../server/utils/redis-client';
import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, waitFor, waitForStored, type TestAppHandle } from '../helpers/app';
import { listen } from '../helpers/raw-http';
import { inspectionClient, listKeys, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';

/** The embedded catalog, counting the detail reads (one per detail render), with listings that can appear later. */
function countingSource() {
  const base = createEmbeddedCatalog(50);
  const state = { detailReads: 0, created: new Set<string>() };
  const source: ListingSource = {
    ...base,
    async getListing(id) {
      state.detailReads += 1;
      if (state.created.has(id)) {
        const template = await base.getListing('1');
        return template && { ...template, id, title: `New home ${id}` };
      }
      return base.getListing(id);
    },
  };
  return { source, state };
}

function getStatus(agent: Agent, url: string): Promise<{ status: number; retryAfter?: string; xCache?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, headers: { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'br' } }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'] as string | undefined,
          xCache: res.headers['x-cache'] as string | undefined,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('negative caching and the render budget (real Redis)', () => {
  const prefix = uniquePrefix('negative');
  let redis: Redis;
  let handle: TestAppHandle;
  let state: ReturnType<typeof countingSource>['state'];
  const get = (path: string) => request(handle.handler).get(path).set('User-Agent', GOOGLEBOT);

  async function start(env: Record<string, string>): Promise<void> {
    const built = countingSource();
    state = built.state;
    handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix, ...env }, { listings: built.source });
    await redisReady(handle);
  }

  beforeAll(() => {
    redis = inspectionClient();
  });
  afterEach(async () => {
    await handle.close();
    await removeKeys(redis, prefix);
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('2,000 random 404 paths from a bot add at most the cap in keys and at most the budget in renders', async () => {
    const cap = 100;
    const budget = { perSecond: 20, burst: 300 };
    await start({
      SSR_CACHE_MAX_NEGATIVE_ENTRIES: String(cap),
      SSR_RENDER_BUDGET_PER_SECOND: String(budget.perSecond),
      SSR_RENDER_BUDGET_BURST: String(budget.burst),
    });
    const server = await listen(handle.handler);
    const random = createRandom(404);
    const paths = Array.from({ length: 2000 }, (_, i) => `/listings/junk-${i}-${Math.floor(random() * 1e9).toString(36)}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const statuses = new Map<number, number>();
    const retryAfters = new Set<string | undefined>();
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const answer = await getStatus(agent, `${server.url}${paths[next++]!}`);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status === 503) retryAfters.add(answer.retryAfter);
      }
    };
    try {
      await Promise.all(Array.from({ length: 32 }, worker));
    } finally {
      agent.destroy();
      await server.close();
    }
    const seconds = (Date.now() - started) / 1000;
    const allowedRenders = budget.burst + Math.ceil(budget.perSecond * seconds);

    // Renders: the engine's count and the source's own both stay within the budget.
    expect(handle.stats.renders).toBeLessThanOrEqual(allowedRenders);
    expect(state.detailReads).toBeLessThanOrEqual(allowedRenders);
    expect(handle.stats.renderBudgetSpent).toBe(2000 - handle.stats.renders);
    // Every answer is a 404 or the 503 crawlers read as "later", with Retry-After; never another error.
    expect([...statuses.keys()].sort()).toEqual([404, 503]);
    // Retry-After: when the budget has a render again (20 a second: in a second), not the 30 s of a render timeout.
    expect([...retryAfters]).toEqual(['1']);

    // Keys: at most the cap of negative pages, each with its one tag set, the cap's index and the invalidation record.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const pages = await listKeys(redis, `${prefix}ssr:`);
    const tagSets = await listKeys(redis, `${prefix}ssr-tag:`);
    expect(pages.length).toBeLessThanOrEqual(cap);
    expect(pages.length).toBeGreaterThan(cap / 2);
    expect(tagSets.length).toBeLessThanOrEqual(cap);
    expect((await listKeys(redis, prefix)).length).toBeLessThanOrEqual(2 * cap + 2);
    expect(await redis.zcard(`${prefix}ssr-negative`)).toBeLessThanOrEqual(cap);
    for (const key of pages.slice(0, 10)) expect(decodeEntry(await redis.getBuffer(key))?.status).toBe(404);
  }, 60_000);

  it('stores a 404 for SSR_CACHE_NEGATIVE_TTL, tagged: the listing created renews it at once', async () => {
    await start({ SSR_CACHE_NEGATIVE_TTL: '45' });
    expect((await get('/listings/fresh-home')).status).toBe(404);
    await waitForStored(handle, 'ssr:/listings/fresh-home');
    const ttl = await redis.pttl(`${prefix}ssr:/listings/fresh-home`);
    expect(ttl).toBeGreaterThan(40_000);
    expect(ttl).toBeLessThanOrEqual(45_000);
    const hit = await get('/listings/fresh-home');
    expect([hit.status, hit.headers['x-cache']]).toEqual([404, 'HIT']);
    expect(state.detailReads).toBe(1);

    state.created.add('fresh-home');
    const change = await request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send({ type: 'listing', id: 'fresh-home', mode: 'soft' });
    expect(change.status).toBe(200);
    const created = await get('/listings/fresh-home');
    expect(created.status).toBe(200);
    expect(created.text).toContain('New home fresh-home');
  });

  it('never stores a 404 when SSR_CACHE_NEGATIVE_TTL=0', async () => {
    await start({ SSR_CACHE_NEGATIVE_TTL: '0' });
    expect((await get('/listings/nothing-here')).status).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await redis.exists(`${prefix}ssr:/listings/nothing-here`)).toBe(0);
    expect((await get('/listings/nothing-here')).headers['x-cache']).toBe('MISS');
  });

  it('over budget, a page kept past grace is served (STALE), and an unknown page gets 503 with Retry-After', async () => {
    await start({ SSR_RENDER_BUDGET_PER_SECOND: '1', SSR_RENDER_BUDGET_BURST: '1', SSR_CACHE_TTL_DETAIL: '60', SSR_RETRY_AFTER_SECONDS: '7' });
    const first = await get('/listings/5');
    expect(first.headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/listings/5');
    // Past freshness and grace (3600 s), within stale-if-error (3600 s).
    const key = `${prefix}ssr:/listings/5`;
    const entry = decodeEntry(await redis.getBuffer(key))!;
    await redis.set(key, encodeEntry({ ...entry, storedAt: entry.storedAt - 3_700_000 }), 'KEEPTTL');
    handle.tiers.memory?.clear();

    const kept = await get('/listings/5');
    expect([kept.status, kept.headers['x-cache']]).toEqual([200, 'STALE']);
    expect(kept.text).toBe(first.text);
    const unknown = await get('/listings/6');
    expect([unknown.status, unknown.headers['retry-after'], unknown.headers['x-cache-reason']]).toEqual([503, '1', 'render-budget']);
    expect(unknown.headers['cache-control']).toBe('no-store');
    expect(await redis.exists(`${prefix}ssr:/listings/6`)).toBe(0);
    // The budget refills: a second later the page renders.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await get('/listings/6')).status).toBe(200);
  });
});

describe('permanent redirects (the engine on real Redis)', () => {
  const prefix = uniquePrefix('redirect');
  let redis: Redis;
  let inspect: Redis;
  beforeAll(async () => {
    inspect = inspectionClient();
    redis = inspectionClient();
    // The cache stores nothing while its client is still connecting (by design): on a busy machine
    // the first request could come first, and the 301 would then never reach Redis.
    await Promise.all([redis.ping(), inspect.ping()]);
  });
  afterAll(async () => {
    await removeKeys(inspect, prefix);
    inspect.disconnect();
    redis.disconnect();
  });

  it('stores a 301 for redirectTtl with its Location, and a 302 never', async () => {
    const cache = createPageCache({ redis, keyPrefix: prefix, routes: { '/old/:id': { ttl: 300 }, '/moved/:id': { ttl: 300 } }, redirectTtl: 120 });
    let renders = 0;
    const app = express();
    app.use(cache.middleware);
    app.get('/old/:id', (req, res) => {
      renders += 1;
      res.redirect(301, `/new/${req.params.id}`);
    });
    app.get('/moved/:id', (req, res) => {
      renders += 1;
      res.redirect(302, `/elsewhere/${req.params.id}`);
    });
    try {
      const miss = await request(app).get('/old/7').set('User-Agent', GOOGLEBOT);
      expect([miss.status, miss.headers.location, miss.headers['x-cache']]).toEqual([301, '/new/7', 'MISS']);
      await waitFor(async () => ((await inspect.exists(`${prefix}ssr:/old/7`)) === 1 ? true : undefined), 2000);
      const ttl = await inspect.pttl(`${prefix}ssr:/old/7`);
      expect(ttl).toBeGreaterThan(115_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
      const hit = await request(app).get('/old/7').set('User-Agent', GOOGLEBOT);
      expect([hit.status, hit.headers.location, hit.headers['x-cache']]).toEqual([301, '/new/7', 'HIT']);

      await request(app).get('/moved/7').set('User-Agent', GOOGLEBOT);
      expect((await request(app).get('/moved/7').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
      expect(renders).toBe(3);
    } finally {
      await cache.close();
    }
  });
});
