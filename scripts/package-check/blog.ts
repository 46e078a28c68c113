// A TypeScript host, type-checked (never run) against the package's shipped declarations by
// check-package.sh: `tsc --noEmit --strict --module nodenext --moduleResolution nodenext`, as
// blog.ts (CommonJS, the "require" types) and as a copy blog.mts (ESM, the "import" types).
// check-package.sh writes the package's name in place of @@PKG@@. The @ts-expect-error lines
// fail the check if the declarations are loose (any) where the contract is precise.
import http from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { createPageCache, type InvalidateRequest, type PageCache, type PageCacheOptions, type RoutePolicy } from '@@PKG@@';
import { createEntry, RedisTier, type CacheEntry } from '@@PKG@@/redis-tier';

const post: RoutePolicy = { ttl: 3600, grace: 600 };
const tags: RoutePolicy = { ttl: 1800, query: ['page'] };
const redis = new Redis('redis://127.0.0.1:6379', { connectionName: 'check-host', lazyConnect: true });
const options: PageCacheOptions = {
  redis,
  keyPrefix: 'blog:',
  allAgents: false,
  routes: { '/': { ttl: 300 }, '/posts/:slug': post, '/tags/:tag': tags },
};
const cache: PageCache = createPageCache(options);

const app = express();
app.use(cache.middleware);
app.get('/posts/:slug', (req, res) => {
  cache.tag(res, `post:${req.params.slug}`);
  const refreshing: boolean = cache.isRefresh(req);
  res.set('X-Refresh', String(refreshing)).send('<h1>post</h1>');
});
app.get('/health', async (_req, res) => {
  res.json({ status: 'ok', cache: await cache.health() });
});
app.get('/metrics', async (_req, res) => {
  res.type(cache.registry.contentType).send(await cache.registry.metrics());
});
app.use(cache.invalidationRouter({ token: 'a-long-enough-secret-token-for-the-check' }));
app.use('/off', cache.invalidationRouter({}));

export const server: http.Server = http.createServer(cache.front(app));

export async function updatePost(slug: string): Promise<void> {
  const byTag: InvalidateRequest = { tags: [`post:${slug}`] };
  await cache.invalidate(byTag);
  await cache.invalidate({ paths: ['/'], mode: 'hard' });
  await cache.invalidate({ keys: ['ssr:/posts/hello'], mode: 'soft' });
  await cache.invalidate({ patterns: ['/tags/*'], mode: 'refresh' });
}

export async function report(): Promise<{ hits: number; misses: number; enabled: boolean; redis: 'up' | 'down'; metrics: string }> {
  const health = await cache.health();
  const hitRate: unknown = health.hitRate;
  void hitRate;
  const metrics: string = await cache.registry.metrics();
  return { hits: health.hits, misses: health.misses, enabled: health.enabled, redis: health.redis.status, metrics };
}

export async function stop(): Promise<void> {
  const closed: Promise<void> = cache.close();
  await closed;
  await redis.quit();
}

export const looseTypesWouldPass = [
  // @ts-expect-error: ttl is a number of seconds
  ((): RoutePolicy => ({ ttl: '300' }))(),
  // @ts-expect-error: mode is 'hard' | 'soft' | 'refresh'
  ((): InvalidateRequest => ({ tags: ['post:hello'], mode: 'sometimes' }))(),
  // @ts-expect-error: redis is required
  () => createPageCache({ routes: { '/': { ttl: 300 } } }),
  // @ts-expect-error: health() is asynchronous
  (): number => cache.health().hits,
  // @ts-expect-error: tags are strings
  (res: http.ServerResponse) => cache.tag(res, 42),
];

// The Redis tier on its own, from its subpath: typed, never any.
const tier = new RedisTier({ redis, logger: console, keyPrefix: 'blog:' });
const stored: CacheEntry = createEntry({ status: 200, contentType: 'text/html', freshTtl: 60, body: Buffer.from('<p>hi</p>') });
void tier.set('ssr:/posts/hello', stored).then((ok: boolean) => ok);
// @ts-expect-error: an entry needs a body
createEntry({ status: 200, contentType: 'text/html', freshTtl: 60 });
