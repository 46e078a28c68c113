import request from 'supertest';
import { BROWSER, GOOGLEBOT, TEST_TOKEN, testApp, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import { scrape } from '../helpers/metrics';
import { freePort } from '../helpers/redis';

const bot = (app: Parameters<typeof request>[0], path: string) => request(app).get(path).set('User-Agent', GOOGLEBOT);

describe('GET /metrics (real Redis, parsed as Prometheus text)', () => {
  const context = useAppOnRealRedis('metrics', { METRICS_TOKEN: 'metrics-token-0123456789' });
  const token = 'metrics-token-0123456789';

  it('asks for METRICS_TOKEN when it is set, compared as a bearer token', async () => {
    expect((await request(context.handle.app).get('/metrics')).status).toBe(401);
    expect((await request(context.handle.app).get('/metrics').set('Authorization', 'Bearer wrong-token-0123456789')).status).toBe(401);
    const res = await request(context.handle.app).get('/metrics').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('counts requests by outcome and route, renders, lookups and their durations', async () => {
    const { handle } = context;
    const before = await scrape(handle.app, token);
    await bot(handle.handler, '/listings/7');
    await waitForStored(handle, 'ssr:/listings/7');
    handle.tiers.memory?.clear(); // the next hit reads Redis
    await bot(handle.handler, '/listings/7');
    await bot(handle.handler, '/listings/7'); // from the in-process tier
    await request(handle.handler).get('/listings/7').set('User-Agent', BROWSER);
    await bot(handle.handler, '/');

    const after = await scrape(handle.app, token);
    const delta = (name: string, labels?: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    const countDelta = (name: string, labels?: Record<string, string>) => after.count(name, labels) - before.count(name, labels);
    expect(delta('ssr_cache_requests_total', { route: 'detail', outcome: 'miss' })).toBe(1);
    expect(delta('ssr_cache_requests_total', { route: 'detail', outcome: 'hit' })).toBe(2);
    expect(delta('ssr_cache_requests_total', { route: 'detail', outcome: 'bypass' })).toBe(1);
    expect(delta('ssr_cache_requests_total', { route: 'home', outcome: 'miss' })).toBe(1);
    expect(delta('ssr_cache_renders_total', { route: 'detail', trigger: 'request' })).toBe(1);
    expect(countDelta('ssr_cache_render_duration_seconds', { route: 'detail', trigger: 'request' })).toBe(1);
    expect(countDelta('ssr_cache_lookup_duration_seconds', { result: 'miss' })).toBe(2);
    expect(countDelta('ssr_cache_lookup_duration_seconds', { result: 'redis' })).toBe(1);
    // An in-process hit is answered synchronously and not timed: memory_hits_total counts it.
    expect(countDelta('ssr_cache_lookup_duration_seconds', { result: 'memory' })).toBe(0);
    expect(delta('ssr_cache_stores_total')).toBeGreaterThanOrEqual(1);
    expect(delta('ssr_cache_memory_hits_total')).toBe(1);
    expect(after.families.get('ssr_cache_render_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(after.families.get('ssr_cache_requests_total')?.type).toBe('COUNTER');
  });

  it('counts answers by crawler family, outcome and status (304s included), and shows them in /health', async () => {
    const { handle } = context;
    const BINGBOT = 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)';
    const OTHER_BOT = 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)';
    const before = await scrape(handle.app, token);
    const healthBefore = (await request(handle.app).get('/health')).body.cache.crawl;
    const miss = await bot(handle.handler, '/listings/11');
    await waitForStored(handle, 'ssr:/listings/11');
    await bot(handle.handler, '/listings/11').set('If-None-Match', miss.headers.etag as string);
    await request(handle.handler).get('/listings/11').set('User-Agent', BINGBOT);
    await request(handle.handler).get('/listings/11').set('User-Agent', OTHER_BOT);
    await request(handle.handler).get('/listings/11').set('User-Agent', BROWSER);
    await bot(handle.handler, '/listings/no-such-home');

    const after = await scrape(handle.app, token);
    const delta = (labels: Record<string, string>) => after.value('ssr_cache_responses_total', labels) - before.value('ssr_cache_responses_total', labels);
    expect(delta({ agent: 'googlebot', outcome: 'miss', status: '200' })).toBe(1);
    expect(delta({ agent: 'googlebot', outcome: 'hit', status: '304' })).toBe(1);
    expect(delta({ agent: 'googlebot', outcome: 'miss', status: '404' })).toBe(1);
    expect(delta({ agent: 'bingbot', outcome: 'hit', status: '200' })).toBe(1);
    expect(delta({ agent: 'other-bot', outcome: 'hit', status: '200' })).toBe(1);
    expect(delta({ agent: 'human', outcome: 'bypass', status: '200' })).toBe(1);

    const crawl = (await request(handle.app).get('/health')).body.cache.crawl;
    expect(crawl.agents.googlebot.requests - healthBefore.agents.googlebot.requests).toBe(3);
    expect(crawl.agents.googlebot.notModified - healthBefore.agents.googlebot.notModified).toBe(1);
    expect(crawl.agents.googlebot.negative - healthBefore.agents.googlebot.negative).toBe(1);
    expect(crawl.agents.bingbot.hits - healthBefore.agents.bingbot.hits).toBe(1);
    expect(crawl.agents.human.bypasses - healthBefore.agents.human.bypasses).toBe(1);
    expect(crawl.notModifiedShare).toMatch(/^\d+\.\d\d%$/);
  });

  it('observes how stale the STALE pages were, and the freshness lag from an accepted invalidation to the fresh page', async () => {
    const { handle } = context;
    await bot(handle.handler, '/listings/12');
    await waitForStored(handle, 'ssr:/listings/12');
    const before = await scrape(handle.app, token);
    const invalidate = (mode: string) =>
      request(handle.app)
        .post('/api/cache/invalidate')
        .set('Authorization', `Bearer ${TEST_TOKEN}`)
        .send({ keys: ['ssr:/listings/12'], mode });
    expect((await invalidate('soft')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const stale = await bot(handle.handler, '/listings/12');
    expect(stale.headers['x-cache']).toBe('STALE');
    // The re-render behind it stores the fresh page: the lag of that invalidation ends. A poll
    // that comes before it lands is one more STALE answer, observed too.
    let staleAnswers = 1;
    await waitFor(async () => {
      const cache = (await bot(handle.handler, '/listings/12')).headers['x-cache'];
      if (cache === 'STALE') staleAnswers += 1;
      return cache === 'HIT' ? true : undefined;
    }, 3000);

    const after = await scrape(handle.app, token);
    expect(after.count('ssr_cache_stale_age_seconds') - before.count('ssr_cache_stale_age_seconds')).toBe(staleAnswers);
    expect(after.count('ssr_cache_freshness_lag_seconds') - before.count('ssr_cache_freshness_lag_seconds')).toBe(1);
    const lagSum = after.value('ssr_cache_freshness_lag_seconds_sum') - before.value('ssr_cache_freshness_lag_seconds_sum');
    expect(lagSum).toBeGreaterThanOrEqual(1);
    expect(lagSum).toBeLessThan(5);
    const health = (await request(handle.app).get('/health')).body.cache;
    expect(health.crawl.freshnessLag.count).toBeGreaterThanOrEqual(1);
    expect(health.crawl.freshnessLag.lastSeconds).toBeGreaterThanOrEqual(1);
    expect(health.crawl.staleAge.maxSeconds).toBeGreaterThanOrEqual(1);
  });

  it('counts invalidations by source and mode, and the keys they reached', async () => {
    const { handle } = context;
    await bot(handle.handler, '/listings/8');
    await waitForStored(handle, 'ssr:/listings/8');
    const before = await scrape(handle.app, token);
    const res = await request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .send({ keys: ['ssr:/listings/8', 'ssr:/listings/9'], mode: 'soft' });
    expect(res.status).toBe(200);
    const after = await scrape(handle.app, token);
    expect(
      after.value('ssr_cache_invalidations_total', { source: 'api', mode: 'soft' }) -
        before.value('ssr_cache_invalidations_total', { source: 'api', mode: 'soft' }),
    ).toBe(1);
    expect(
      after.value('ssr_cache_invalidated_keys_total', { source: 'api', mode: 'soft' }) -
        before.value('ssr_cache_invalidated_keys_total', { source: 'api', mode: 'soft' }),
    ).toBe(res.body.markedStale);
    expect(res.body.markedStale).toBe(1);
  });

  it('counts a stale page served and its background re-render', async () => {
    const { handle } = context;
    await bot(handle.handler, '/listings/11');
    await waitForStored(handle, 'ssr:/listings/11');
    await request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .send({ keys: ['ssr:/listings/11'], mode: 'soft' });
    const before = await scrape(handle.app, token);
    expect((await bot(handle.handler, '/listings/11')).headers['x-cache']).toBe('STALE');
    const after = await waitFor(
      async () => {
        const metrics = await scrape(handle.app, token);
        return metrics.count('ssr_cache_render_duration_seconds', { route: 'detail', trigger: 'refresh' }) >
          before.count('ssr_cache_render_duration_seconds', { route: 'detail', trigger: 'refresh' })
          ? metrics
          : undefined;
      },
      3000,
      10,
    );
    expect(
      after.value('ssr_cache_requests_total', { route: 'detail', outcome: 'stale' }) -
        before.value('ssr_cache_requests_total', { route: 'detail', outcome: 'stale' }),
    ).toBe(1);
    expect(
      after.value('ssr_cache_renders_total', { route: 'detail', trigger: 'refresh' }) -
        before.value('ssr_cache_renders_total', { route: 'detail', trigger: 'refresh' }),
    ).toBe(1);
    expect(after.value('ssr_cache_background_refreshes_total') - before.value('ssr_cache_background_refreshes_total')).toBe(1);
  });

  it('shows Redis up, the breaker closed, Redis memory, the in-process tier and the process metrics', async () => {
    const { handle } = context;
    await bot(handle.handler, '/listings/10');
    await waitForStored(handle, 'ssr:/listings/10');
    const metrics = await scrape(handle.app, token);
    expect(metrics.value('ssr_cache_redis_up')).toBe(1);
    expect(metrics.value('ssr_cache_redis_breaker_state', { state: 'closed' })).toBe(1);
    expect(metrics.value('ssr_cache_redis_breaker_state', { state: 'open' })).toBe(0);
    expect(metrics.value('ssr_cache_memory_tier_entries')).toBe(handle.tiers.memory!.size);
    expect(metrics.value('ssr_cache_memory_tier_bytes')).toBe(handle.tiers.memory!.bytes);
    expect(metrics.value('ssr_cache_memory_tier_bytes')).toBeGreaterThan(0);
    // The write budget reads INFO memory at start-up.
    expect(metrics.value('ssr_cache_redis_memory_used_bytes')).toBeGreaterThan(0);
    expect(metrics.families.has('ssr_cache_write_budget_skips_total')).toBe(true);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(metrics.families.has(name)).toBe(true);
    }
  });

  it("/health keeps the story's cache object beside the rolling window, with the same counts", async () => {
    const { handle } = context;
    const health = (await request(handle.app).get('/health')).body;
    expect(health.cache).toMatchObject({ enabled: true, hits: expect.any(Number), misses: expect.any(Number), hitRate: expect.stringMatching(/^\d+\.\d\d%$/) });
    // Every request of this app was within the hour.
    expect(health.cache.window).toEqual({
      seconds: 3600,
      hits: health.cache.hits,
      misses: health.cache.misses,
      stale: health.cache.staleServed,
      hitRate: health.cache.hitRate,
      staleShare: `${((health.cache.staleServed / (health.cache.hits + health.cache.misses)) * 100).toFixed(2)}%`,
    });
    expect(health.redis.usedMemoryBytes).toBeGreaterThan(0);
    expect(health.alerts).toEqual([]);
  });
});

describe('GET /metrics without METRICS_TOKEN, and with Redis down', () => {
  it('is open, says Redis is down, and /health names the RedisDown alert', async () => {
    // A port nobody listens on: the connection is refused at once.
    const handle = testApp({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    try {
      await bot(handle.handler, '/listings/3');
      const metrics = await scrape(handle.app);
      expect(metrics.value('ssr_cache_redis_up')).toBe(0);
      expect(metrics.value('ssr_cache_requests_total', { route: 'detail', outcome: 'miss' })).toBe(1);
      const health = (await request(handle.app).get('/health')).body;
      expect(health.alerts.map((alert: { name: string }) => alert.name)).toEqual(['SsrCacheRedisDown']);
    } finally {
      await handle.close();
    }
  });
});
