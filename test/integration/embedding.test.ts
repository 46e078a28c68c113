import { createServer, type Server } from 'node:http';
import express from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { createPageCache, PageCacheOptionsError, type PageCache } from 'ssr-page-cache';
import { internalsOf } from '../../packages/ssr-page-cache/src/internals';
import { isReplyError } from '../../packages/ssr-page-cache/src/redis/reply-errors';
import { GOOGLEBOT, waitFor } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';

/** A blog as a stranger would embed the cache: its own client, its own routes, the public API only. */
function blog(
  redis: Redis,
  keyPrefix: string,
  renders: Map<string, number>,
  refreshes: boolean[],
  seen: { requests: number },
): { app: express.Express; cache: PageCache } {
  const cache = createPageCache({ redis, keyPrefix, routes: { '/posts/:slug': { ttl: 60 } }, memoryTierBytes: 0, breaker: { failureThreshold: 2 } });
  const app = express();
  // Counts what reaches Express at all.
  app.use((_req, _res, next) => {
    seen.requests += 1;
    next();
  });
  app.use(cache.middleware);
  app.get('/posts/:slug', (req, res) => {
    renders.set(req.params.slug, (renders.get(req.params.slug) ?? 0) + 1);
    refreshes.push(cache.isRefresh(req));
    cache.tag(res, `post:${req.params.slug}`);
    res.send(`<h1>${req.params.slug}</h1>`);
  });
  return { app, cache };
}

describe('embedded in another server', () => {
  let redis: Redis;
  let inspector: Redis;
  const prefixes: string[] = [];
  const caches: PageCache[] = [];

  beforeAll(async () => {
    redis = new Redis(realRedisUrl());
    inspector = inspectionClient();
    // Pages go to Redis once the host's client is connected.
    await redis.ping();
  });
  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    for (const prefix of prefixes) await removeKeys(inspector, prefix);
    redis.disconnect();
    inspector.disconnect();
  });
  function make(label: string, renders = new Map<string, number>()) {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    const refreshes: boolean[] = [];
    const seen = { requests: 0 };
    const built = blog(redis, prefix, renders, refreshes, seen);
    caches.push(built.cache);
    return { ...built, prefix, renders, refreshes, seen };
  }
  const get = (app: express.Express, path: string) => request(app).get(path).set('User-Agent', GOOGLEBOT);

  it('keeps caching through a WRONGTYPE value at one page key: that page renders, the breaker stays closed', async () => {
    const { app, cache, prefix, renders } = make('wrongtype');
    const key = `${prefix}ssr:/posts/odd`;
    for (let i = 0; i < 6; i += 1) {
      // Each render's store replaces the foreign value; put it back before every request.
      await inspector.del(key);
      await inspector.sadd(key, 'not a page');
      const res = await get(app, '/posts/odd');
      expect([res.status, res.text]).toEqual([200, '<h1>odd</h1>']);
      // The render's store heals the key.
      await waitFor(async () => ((await inspector.type(key)) === 'string' ? true : undefined), 2000, 5);
    }
    expect(renders.get('odd')).toBe(6);
    // Reads of the foreign value in a row, with no success between them: still not a failure of Redis.
    await inspector.sadd(`${prefix}ssr:/posts/odder`, 'not a page');
    const tier = internalsOf(cache).cache;
    for (let i = 0; i < 3; i += 1) expect(await tier.get('ssr:/posts/odder')).toBeUndefined();
    expect(tier.breakerState()).toMatchObject({ state: 'closed', opens: 0, consecutiveFailures: 0 });
    expect((await get(app, '/posts/fine')).headers['x-cache']).toBe('MISS');
    await waitFor(async () => ((await inspector.exists(`${prefix}ssr:/posts/fine`)) === 1 ? true : undefined), 2000, 5);
    expect((await get(app, '/posts/fine')).headers['x-cache']).toBe('HIT');
  });

  it('tells a Redis reply error by its shape, whichever copy of ioredis made it', () => {
    class ReplyError extends Error {
      override name = 'ReplyError';
      command = { name: 'get', args: ['k'] };
    }
    expect(isReplyError(new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(true);
    expect(isReplyError(Object.assign(new Error('OOM command not allowed when used memory > maxmemory.'), { command: { name: 'set' } }))).toBe(true);
    expect(isReplyError(new Error('Command timed out'))).toBe(false);
    expect(isReplyError(new Error('Connection is closed.'))).toBe(false);
  });

  it("reads none of the host's environment: its REDIS_KEY_PREFIX, SSR_CACHE_ENABLED and SSR_CACHE_TTL change nothing", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { REDIS_KEY_PREFIX: 'wrong:', SSR_CACHE_ENABLED: 'false', SSR_CACHE_TTL: '1', LOG_LEVEL: 'trace' });
    try {
      const { app, prefix } = make('env');
      expect((await get(app, '/posts/env')).headers['x-cache']).toBe('MISS');
      await waitFor(async () => ((await inspector.exists(`${prefix}ssr:/posts/env`)) === 1 ? true : undefined), 2000, 5);
      expect(await inspector.pttl(`${prefix}ssr:/posts/env`)).toBeGreaterThan(60_000);
      expect(await inspector.exists('wrong:ssr:/posts/env')).toBe(0);
    } finally {
      process.env = saved;
    }
  });

  it("keeps each instance's tags apart: two caches in one process (as an ESM and a CommonJS copy would be) both invalidate by tag", async () => {
    const first = make('tags-a');
    const second = make('tags-b');
    for (const { app, prefix } of [first, second]) {
      await get(app, '/posts/hello');
      await waitFor(async () => ((await inspector.exists(`${prefix}ssr-tag:post:hello`)) === 1 ? true : undefined), 2000, 5);
    }
    const result = await second.cache.invalidate({ tags: ['post:hello'] });
    expect(result).toMatchObject({ ok: true, changed: 1, keys: ['ssr:/posts/hello'] });
    expect(await inspector.exists(`${second.prefix}ssr:/posts/hello`)).toBe(0);
    expect(await inspector.exists(`${first.prefix}ssr:/posts/hello`)).toBe(1);
  });

  it('answers hits before the app with front, replaying what the route sent', async () => {
    const { app, cache, prefix, seen } = make('front');
    const server: Server = createServer(cache.front(app));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address() as { port: number };
      const url = `http://127.0.0.1:${address.port}/posts/front`;
      const miss = await fetch(url, { headers: { 'user-agent': GOOGLEBOT } });
      expect([miss.headers.get('x-cache'), await miss.text()]).toEqual(['MISS', '<h1>front</h1>']);
      await waitFor(async () => ((await inspector.exists(`${prefix}ssr:/posts/front`)) === 1 ? true : undefined), 2000, 5);
      const reachedExpress = seen.requests;
      const hit = await fetch(url, { headers: { 'user-agent': GOOGLEBOT } });
      expect([hit.headers.get('x-cache'), await hit.text()]).toEqual(['HIT', '<h1>front</h1>']);
      // The hit was answered before Express built its request.
      expect(seen.requests).toBe(reachedExpress);
      expect((await cache.health()).hits).toBe(1);
      expect(await cache.registry.metrics()).toMatch(/ssr_cache_requests_total\{route="\/posts\/:slug",outcome="hit"\} 1/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says isRefresh(req) inside a background re-render, and only there', async () => {
    const { app, cache, prefix, refreshes: seen } = make('refresh');
    const front = cache.front(app);
    expect((await request(front).get('/posts/again').set('User-Agent', GOOGLEBOT)).headers['x-cache']).toBe('MISS');
    await waitFor(async () => ((await inspector.exists(`${prefix}ssr:/posts/again`)) === 1 ? true : undefined), 2000, 5);
    const result = await cache.invalidate({ paths: ['/posts/again'], mode: 'refresh' });
    expect(result.refreshing).toBe(1);
    await waitFor(async () => (seen.length === 2 ? true : undefined), 2000, 5);
    expect(seen).toEqual([false, true]);
  });

  it.each([
    [{ routes: { '/posts/:slug': { ttl: -1 } } }, /routes\.\/posts\/:slug\.ttl: must be at least 1/],
    [{ routes: { posts: { ttl: 60 } } }, /routes: "posts" must be a path pattern starting with "\/"/],
    [{ routes: { '/a/:': { ttl: 60 } } }, /routes: "\/a\/:" is not a valid path pattern/],
    [{ routes: {}, memoryTierBytes: 'lots' }, /memoryTierBytes: must be a number of bytes/],
    [{ routes: {}, redis: {} }, /redis: must be an ioredis client/],
  ])('refuses a wrong option at start, naming it and what it accepts (%#)', (options, message) => {
    expect(() => createPageCache({ redis, ...(options as object) } as Parameters<typeof createPageCache>[0])).toThrow(PageCacheOptionsError);
    expect(() => createPageCache({ redis, ...(options as object) } as Parameters<typeof createPageCache>[0])).toThrow(message);
  });
});
