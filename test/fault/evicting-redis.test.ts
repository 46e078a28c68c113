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

  let junkRound = 0;

  /**
   * Writes junk until Redis has evicted at least `count` keys, reading the pages as it goes: they
   * stay hot, their tag sets do not. The pages are read straight from Redis, which keeps them hot
   * without a render storing an evicted one again (a store would write its tag sets anew).
   */
  async function fillUntilEvicted(count: number): Promise<void> {
    const evicted = async () => Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))?.[1] ?? 0);
    const start = await evicted();
    const junk = 'x'.repeat(8 * 1024);
    const done = async () => (await evicted()) - start >= count;
    for (let round = 0; !(await done()); round += 1) {
      if (round > 1000) throw new Error('Redis did not evict');
      // Read first, then write: what is read this second is never the oldest when Redis evicts.
      // As every Redis-tier read does, the invalidation record is read beside the pages.
      await Promise.all([...PAGES.map((path) => client.get(`ssr:${path}`)), client.hmget('ssr-inv', 'seq', 'floor')]);
      const batch = client.pipeline();
      for (let i = 0; i < 50; i += 1) batch.set(`junk:${(junkRound += 1)}`, junk, 'EX', 3600);
      await batch.exec();
    }
  }

  /** A signed `updated` webhook for each of the 50 listings, each accepted. */
  async function webhooks(): Promise<void> {
    for (const [index] of PAGES.entries()) {
      const id = String(index + 1);
      const body = twentyEvent('updated', id, { updatedFields: ['name'], record: { id, name: `Listing ${id}`, city: 'Lisbon' } });
      const res = await request(handle.app).post('/api/cache/invalidate').set(twentyHeaders(body)).send(body);
      expect(res.status).toBe(200);
    }
  }

  const cacheAll = async () => {
    for (const path of PAGES) await waitFor(async () => ((await bot(path)).headers['x-cache'] === 'HIT' ? true : undefined), 5000, 10);
  };

  it('leaves none of 50 cached pages a fresh HIT after their webhooks when Redis dropped their tag indexes', async () => {
    await cacheAll();
    // What an LRU Redis does to keys written once and never read (a tag set), done here to all 50:
    // the pages stay, their indexes go (the eviction below does it at random).
    // (Both tags a detail page carries: its listing's and its own page's.)
    await client.unlink(...PAGES.flatMap((_path, index) => [`ssr-tag:listing:${index + 1}`, `ssr-tag:listing-page:${index + 1}`]));
    const before = [];
    for (const path of PAGES) before.push((await bot(path)).headers['x-cache']);
    expect(before.filter((cache) => cache === 'HIT')).toHaveLength(50);
    await webhooks();
    const after = [];
    for (const path of PAGES) after.push((await bot(path)).headers['x-cache']);
    expect(after.filter((cache) => cache === 'HIT')).toEqual([]);
  }, 60_000);

  it('keeps caching, and leaves no webhooked page a fresh HIT, while Redis evicts under a full maxmemory', async () => {
    await cacheAll();
    // Redis's LRU clock ticks once a second: the tag sets (written once) grow older than the pages,
    // which reads keep young; then Redis is filled until it evicts.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await fillUntilEvicted(1500);
    const storesBefore = handle.stats.stores;
    await webhooks();
    const after = [];
    for (const path of PAGES) after.push((await bot(path)).headers['x-cache']);
    expect(after.filter((cache) => cache === 'HIT')).toEqual([]);
    // Caching goes on: the re-renders are stored and served, and the write budget never pauses.
    for (const path of PAGES.slice(0, 10)) await waitFor(async () => ((await bot(path)).headers['x-cache'] === 'HIT' ? true : undefined), 5000, 20);
    expect(handle.stats.stores).toBeGreaterThan(storesBefore);
    expect(handle.budget.isOverBudget).toBe(false);
    // Redis did evict (how many tag sets it took varies with its sampling: the test above takes them all).
    expect(Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))?.[1])).toBeGreaterThan(1000);
  }, 120_000);
});
