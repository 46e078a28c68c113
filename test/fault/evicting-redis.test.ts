import request from 'supertest';
import Redis from 'ioredis';
import { GOOGLEBOT, redisReady, testApp, waitFor, type TestAppHandle } from '../helpers/app';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

/**
 * A Redis that evicts by design (maxmemory with an LRU policy, as a cache Redis is often run):
 * it drops tag indexes while their pages stay. Webhooks for 50 cached pages must still leave
 * none of them a fresh HIT, and caching must go on (the write budget is for noeviction only).
 * No in-process tier: every answer is Redis's.
 */
describe.each(['allkeys-lru', 'volatile-lru'])('an LRU Redis full of pages (maxmemory-policy %s)', (policy) => {
  let redis: PrivateRedis;
  let handle: TestAppHandle;
  let client: Redis;
  const PAGES = Array.from({ length: 50 }, (_, index) => `/listings/${index + 1}`);
  const bot = (path: string) => request(handle.handler).get(path).set('User-Agent', GOOGLEBOT);

  beforeAll(async () => {
    redis = await startPrivateRedis(['--maxmemory', '6mb', '--maxmemory-policy', policy, '--maxmemory-samples', '10']);
    client = new Redis(redis.url);
    handle = testApp({
      REDIS_URL: redis.url,
      SSR_CACHE_MEMORY_MB: '0',
      TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      SSR_CACHE_MEMORY_CHECK_MS: '200',
    });
    await redisReady(handle);
  });

  afterAll(async () => {
    await handle?.close();
    client?.disconnect();
    await redis?.stop();
  });

  /** Writes junk until Redis has evicted at least `count` keys, reading the pages as it goes (they stay hot, their tag sets do not). */
  async function fillUntilEvicted(count: number): Promise<void> {
    const evicted = async () => Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))?.[1] ?? 0);
    const start = await evicted();
    const junk = 'x'.repeat(8 * 1024);
    for (let round = 0; (await evicted()) - start < count; round += 1) {
      if (round > 400) throw new Error('Redis did not evict');
      const batch = client.pipeline();
      for (let i = 0; i < 50; i += 1) batch.set(`junk:${round}:${i}`, junk, 'EX', 3600);
      await batch.exec();
      for (const path of PAGES) await bot(path);
    }
  }

  it('leaves none of 50 webhooked pages a fresh HIT, and keeps caching', async () => {
    for (const path of PAGES) await bot(path);
    await waitFor(async () => ((await bot(PAGES[0] as string)).headers['x-cache'] === 'HIT' ? true : undefined), 5000);
    await fillUntilEvicted(2000);
    // Every page a HIT right before the change (one evicted is rendered and stored again).
    for (const path of PAGES) await waitFor(async () => ((await bot(path)).headers['x-cache'] === 'HIT' ? true : undefined), 5000, 10);
    await fillUntilEvicted(1500);
    const hits = [];
    for (const path of PAGES) hits.push((await bot(path)).headers['x-cache']);
    const tagSetsLeft = (await Promise.all(PAGES.map((_path, index) => client.exists(`ssr-tag:listing:${index + 1}`)))).reduce((sum, n) => sum + n, 0);
    // The case this is about: pages Redis still serves whose tag index it has dropped.
    expect(hits.filter((cache) => cache === 'HIT').length).toBeGreaterThan(25);
    expect(tagSetsLeft).toBeLessThan(45);

    for (const [index] of PAGES.entries()) {
      const id = String(index + 1);
      const body = twentyEvent('updated', id, { updatedFields: ['name'], record: { id, name: `Listing ${id}`, city: 'Lisbon' } });
      const res = await request(handle.app).post('/api/cache/invalidate').set(twentyHeaders(body)).send(body);
      expect(res.status).toBe(200);
    }
    const after = [];
    for (const path of PAGES) after.push((await bot(path)).headers['x-cache']);
    expect(after.filter((cache) => cache === 'HIT')).toEqual([]);

    // Caching goes on: the re-renders are stored and served.
    const storesBefore = handle.stats.stores;
    for (const path of PAGES.slice(0, 10)) await waitFor(async () => ((await bot(path)).headers['x-cache'] === 'HIT' ? true : undefined), 5000, 20);
    expect(handle.stats.stores).toBeGreaterThan(storesBefore);
    expect(handle.budget.isOverBudget).toBe(false);
  }, 120_000);
});
