import { brotliDecompressSync } from 'node:zlib';
import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import { ListingSourceError, type ListingSource } from '../../server/listings/listing';
import { decodeEntry, encodeEntry } from '../../packages/ssr-page-cache/src/entry/cache-entry';
import type { Redis } from '../../server/utils/redis-client';
import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, waitFor, waitForStored } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';

type Behaviour = 'ok' | 'throw' | 'unavailable' | 'hang' | 'gone';

/** Detail pages whose title carries the render number, so every render's page differs. */
function versionedSource(delayMs: number) {
  const base = createEmbeddedCatalog(50);
  const state = { renders: 0, active: 0, maxActive: 0, behaviour: 'ok' as Behaviour, gate: undefined as Promise<void> | undefined };
  const source: ListingSource = {
    ...base,
    async getListing(id) {
      state.renders += 1;
      const version = state.renders;
      if (state.behaviour === 'hang') return new Promise(() => undefined);
      state.active += 1;
      state.maxActive = Math.max(state.maxActive, state.active);
      try {
        await state.gate;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      } finally {
        state.active -= 1;
      }
      if (state.behaviour === 'throw') throw new Error('renderer bug');
      if (state.behaviour === 'unavailable') throw new ListingSourceError('unavailable', 'CRM down');
      if (state.behaviour === 'gone') return undefined;
      const listing = await base.getListing(id);
      return listing && { ...listing, title: `${listing.title} (version ${version})` };
    },
  };
  return { source, state };
}

/** Requests until the background re-render has landed and the answer is a HIT. */
function untilHit(get: () => request.Test): Promise<request.Response> {
  return waitFor(async () => {
    const res = await get();
    return res.headers['x-cache'] === 'HIT' ? res : undefined;
  }, 3000);
}

const versionOf = (html: string) => /\(version (\d+)\)/.exec(html)?.[1];

describe('stale-while-revalidate and stale-if-error', () => {
  const prefix = uniquePrefix('swr');
  let redis: Redis;
  let handle: AppHandle;
  let state: ReturnType<typeof versionedSource>['state'];

  const get = (path = '/listings/5') => request(handle.handler).get(path).set('User-Agent', GOOGLEBOT);

  /** Moves a stored page `ms` into the past (its key keeps its TTL) and drops in-process copies. */
  async function age(key: string, ms: number): Promise<void> {
    const full = `${prefix}${key}`;
    const entry = decodeEntry(await redis.getBuffer(full));
    if (!entry) throw new Error(`no entry at ${full}`);
    await redis.set(full, encodeEntry({ ...entry, storedAt: entry.storedAt - ms }), 'KEEPTTL');
    handle.tiers.memory?.clear();
  }

  async function start(env: Record<string, string> = {}, delayMs = 200): Promise<void> {
    const built = versionedSource(delayMs);
    state = built.state;
    handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix, SSR_CACHE_TTL_DETAIL: '60', ...env }, { listings: built.source });
    await redisReady(handle);
  }

  /** First render (version 1), stored, then made stale by age. */
  async function cacheThenAge(): Promise<string> {
    const first = await get();
    expect(first.headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/listings/5');
    await age('ssr:/listings/5', 61_000);
    return first.text;
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

  it('serves a page past its TTL but in grace at once as STALE, re-renders it once behind, then serves the new page', async () => {
    await start();
    const old = await cacheThenAge();
    // Re-renders wait for the gate, which opens only after the stale answers came: an answer
    // that waited for the render would never come.
    let open!: () => void;
    state.gate = new Promise((resolve) => {
      open = resolve;
    });
    const stale = await Promise.all(Array.from({ length: 10 }, () => get()));
    open();
    for (const res of stale) {
      expect(res.headers['x-cache']).toBe('STALE');
      expect(res.text).toBe(old);
    }
    const fresh = await untilHit(get);
    expect(versionOf(fresh.text)).toBe('2');
    expect(state.renders).toBe(2);
    expect(handle.stats).toMatchObject({ backgroundRefreshes: 1, renderErrors: 0 });
    expect(handle.stats.staleServed).toBeGreaterThanOrEqual(10);
  });

  it('gives a request that joined a render an invalidation overlapped none of its page as a HIT: it renders anew', async () => {
    await start({}, 5);
    let open!: () => void;
    state.gate = new Promise((resolve) => {
      open = resolve;
    });
    const leader = get().then((res) => res);
    await waitFor(async () => (state.renders === 1 ? true : undefined), 2000, 5);
    const change = await request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send({ tags: ['listing:5'], mode: 'soft' });
    expect(change.status).toBe(200);
    const joined = get().then((res) => res);
    // It joins the leader's render of the same page (a Redis read, then the wait).
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(state.renders).toBe(1);
    open();
    state.gate = undefined;
    expect([(await leader).headers['x-cache'], versionOf((await leader).text)]).toEqual(['MISS', '1']);
    const follower = await joined;
    expect(follower.headers['x-cache']).not.toBe('HIT');
    expect(versionOf(follower.text)).toBe('2');
  });

  it.each([
    ['throws', 'throw'],
    ['answers 503', 'unavailable'],
    ['passes SSR_RENDER_TIMEOUT_MS', 'hang'],
  ] as const)('keeps serving the stale page when the re-render %s', async (_name, behaviour) => {
    await start({ SSR_RENDER_TIMEOUT_MS: '300' }, 20);
    const old = await cacheThenAge();
    state.behaviour = behaviour;
    expect((await get()).headers['x-cache']).toBe('STALE');
    await waitFor(async () => (handle.stats.renderErrors === 1 ? true : undefined), 3000);
    const after = await get();
    expect(after.headers['x-cache']).toBe('STALE');
    expect(after.status).toBe(200);
    expect(after.text).toBe(old);
    expect(versionOf(decodedBody(await redis.getBuffer(`${prefix}ssr:/listings/5`)))).toBe('1');
  });

  it.each([
    ['throws', 'throw', 500],
    ['answers 503', 'unavailable', 503],
  ] as const)('serves the error page and stores nothing when a render %s with no stale page', async (_name, behaviour, status) => {
    await start({}, 5);
    state.behaviour = behaviour;
    expect((await get()).status).toBe(status);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await redis.exists(`${prefix}ssr:/listings/5`)).toBe(0);
    expect((await get()).headers['x-cache']).toBe('MISS');
  });

  it('replaces the stale page with its 404 when the re-render finds the page gone', async () => {
    await start({}, 5);
    await cacheThenAge();
    state.behaviour = 'gone';
    expect((await get()).headers['x-cache']).toBe('STALE');
    await waitFor(async () => (decodeEntry(await redis.getBuffer(`${prefix}ssr:/listings/5`))?.status === 404 ? true : undefined), 3000);
    const next = await get();
    expect([next.status, next.headers['x-cache']]).toEqual([404, 'HIT']);
    // The 404 stands for the page: no invalidation was made of it (nothing waits for a fresh page).
    expect(handle.stats.invalidations).toBe(0);
  });

  it('drops the stale page when the re-render finds the page gone and 404s are not stored', async () => {
    await start({ SSR_CACHE_NEGATIVE_TTL: '0' }, 5);
    await cacheThenAge();
    state.behaviour = 'gone';
    expect((await get()).headers['x-cache']).toBe('STALE');
    await waitFor(async () => ((await redis.exists(`${prefix}ssr:/listings/5`)) === 0 ? true : undefined), 3000);
    const next = await get();
    expect([next.status, next.headers['x-cache']]).toEqual([404, 'MISS']);
  });

  it('never serves a page whose listing changed (hard) while it rendered: the next request renders it anew', async () => {
    await start({}, 5);
    let open!: () => void;
    state.gate = new Promise((resolve) => {
      open = resolve;
    });
    const rendering = get().then((res) => res); // then() sends it
    await waitFor(async () => (state.renders === 1 ? true : undefined), 2000, 5);
    const change = await request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send({ tags: ['listing:5'] });
    expect(change.status).toBe(200);
    open();
    state.gate = undefined;
    expect((await rendering).headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/listings/5');
    // The invalidation was hard (the bearer default): the render it overlapped is never served again.
    const next = await get();
    expect(next.headers['x-cache']).toBe('MISS');
    expect(versionOf(next.text)).toBe('2');
    expect(versionOf((await untilHit(get)).text)).toBe('2');
  });

  it.each([
    ['throws', 'throw'],
    ['answers 503', 'unavailable'],
    ['passes SSR_RENDER_TIMEOUT_MS', 'hang'],
  ] as const)('serves the copy kept past grace (stale-if-error) when the render on the request %s', async (_name, behaviour) => {
    await start({ SSR_RENDER_TIMEOUT_MS: '300' }, 5);
    const first = await get();
    await waitForStored(handle, 'ssr:/listings/5');
    // Past its TTL (60 s) and grace (3600 s), within SSR_CACHE_STALE_IF_ERROR (3600 s): not served unless the render fails.
    await age('ssr:/listings/5', (60 + 3600 + 60) * 1000);
    state.behaviour = behaviour;
    const kept = await get();
    expect([kept.status, kept.headers['x-cache']]).toEqual([200, 'STALE']);
    expect(kept.text).toBe(first.text);
    expect(kept.headers['cache-control']).not.toBe('no-store');
    expect(handle.stats.renderErrors).toBe(1);
    // When the render works again, it is the answer (on the request's path: the copy is past grace).
    state.behaviour = 'ok';
    const fresh = await get();
    expect([fresh.status, fresh.headers['x-cache']]).toEqual([200, 'MISS']);
    expect(versionOf(fresh.text)).toBe('3');
  });

  it('keeps nothing past SSR_CACHE_STALE_IF_ERROR: a failed render then answers its own error', async () => {
    await start({ SSR_CACHE_STALE_IF_ERROR: '600' }, 5);
    await get();
    await waitForStored(handle, 'ssr:/listings/5');
    expect(await redis.pttl(`${prefix}ssr:/listings/5`)).toBeGreaterThan((60 + 3600 + 590) * 1000);
    await age('ssr:/listings/5', (60 + 3600 + 601) * 1000);
    state.behaviour = 'unavailable';
    const res = await get();
    expect([res.status, res.headers['x-cache'], res.headers['retry-after']]).toEqual([503, 'MISS', '30']);
  });

  it('serves entries of another build as STALE and re-renders them behind, at most SSR_REFRESH_CONCURRENCY at once', async () => {
    await start({ SSR_CACHE_BUILD_ID: 'build-a' }, 40);
    const paths = Array.from({ length: 12 }, (_, i) => `/listings/${i + 1}`);
    const before = new Map<string, string>();
    for (const path of paths) before.set(path, (await get(path)).text);
    for (const path of paths) await waitForStored(handle, `ssr:${path}`);
    expect(decodeEntry(await redis.getBuffer(`${prefix}ssr:/listings/1`))?.build).toMatch(/^\d+\.\d+\.\d+\+build-a$/);
    await handle.close();

    // The deploy: the same Redis, a new build, all pages asked for at once.
    await start({ SSR_CACHE_BUILD_ID: 'build-b', SSR_REFRESH_CONCURRENCY: '2' }, 40);
    state.maxActive = 0;
    const first = await Promise.all(paths.map((path) => get(path)));
    for (const [index, res] of first.entries()) {
      expect([res.status, res.headers['x-cache']]).toEqual([200, 'STALE']);
      expect(res.text).toBe(before.get(paths[index]!));
    }
    for (const path of paths) await untilHit(() => get(path));
    expect(state.maxActive).toBeLessThanOrEqual(2);
    expect(state.renders).toBe(12);
    expect(handle.stats.refreshesQueued).toBeGreaterThanOrEqual(10);
    expect(decodeEntry(await redis.getBuffer(`${prefix}ssr:/listings/1`))?.build).toMatch(/\+build-b$/);
    const health = (await request(handle.app).get('/health')).body;
    // Every page read once or more as another build's (the polling above reads some again before their re-render lands).
    const { id, redisPageReads, otherBuildReads, runningBuildShare } = health.cache.build;
    expect(id).toMatch(/\+build-b$/);
    expect(otherBuildReads).toBeGreaterThanOrEqual(12);
    expect(runningBuildShare).toBe(`${(((redisPageReads - otherBuildReads) / redisPageReads) * 100).toFixed(2)}%`);
  }, 20_000);

  it('answers 503 with Retry-After at SSR_RENDER_TIMEOUT_MS when a render hangs with no stale page, and stores nothing', async () => {
    await start({ SSR_RENDER_TIMEOUT_MS: '300' }, 5);
    state.behaviour = 'hang';
    const started = Date.now();
    const res = await get();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1300);
    expect(await redis.exists(`${prefix}ssr:/listings/5`)).toBe(0);
    expect(handle.stats.renderErrors).toBe(1);
  });
});

describe('invalidation modes', () => {
  const prefix = uniquePrefix('modes');
  let redis: Redis;
  let handle: AppHandle;
  let state: ReturnType<typeof versionedSource>['state'];
  const get = () => request(handle.handler).get('/listings/6').set('User-Agent', GOOGLEBOT);
  const invalidate = (mode: string) =>
    request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send({ type: 'listing', id: '6', mode });

  beforeEach(async () => {
    redis = inspectionClient();
    const built = versionedSource(100);
    state = built.state;
    handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix }, { listings: built.source });
    await redisReady(handle);
    await get();
    await waitForStored(handle, 'ssr:/listings/6');
    expect(state.renders).toBe(1);
  });
  afterEach(async () => {
    await handle.close();
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  it('hard: deletes; the next request renders on its path', async () => {
    expect((await invalidate('hard')).body).toMatchObject({ mode: 'hard', deleted: 1 });
    const next = await get();
    expect(next.headers['x-cache']).toBe('MISS');
    expect(versionOf(next.text)).toBe('2');
    expect(state.renders).toBe(2);
  });

  it('soft: marks stale; the next request gets the old page at once and one re-render runs', async () => {
    expect((await invalidate('soft')).body).toMatchObject({ mode: 'soft', markedStale: 1 });
    expect(state.renders).toBe(1);
    const next = await get();
    expect(next.headers['x-cache']).toBe('STALE');
    expect(versionOf(next.text)).toBe('1');
    const fresh = await untilHit(get);
    expect(versionOf(fresh.text)).toBe('2');
    expect(state.renders).toBe(2);
  });

  it('refresh: re-renders now, so the next request is a HIT on the new page', async () => {
    expect((await invalidate('refresh')).body).toMatchObject({ mode: 'refresh', refreshing: 3 });
    await waitFor(async () => (versionOf(decodedBody(await redis.getBuffer(`${prefix}ssr:/listings/6`))) === '2' ? true : undefined), 3000);
    const next = await get();
    expect(next.headers['x-cache']).toBe('HIT');
    expect(versionOf(next.text)).toBe('2');
    expect(state.renders).toBe(2);
  });

  it('rejects an unknown mode naming the accepted ones', async () => {
    const res = await invalidate('gentle');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('mode: must be one of: hard, soft, refresh');
  });
});

/** The HTML of a stored entry. */
function decodedBody(value: Buffer | null): string {
  const entry = decodeEntry(value);
  return entry ? brotliDecompressSync(entry.body).toString() : '';
}
