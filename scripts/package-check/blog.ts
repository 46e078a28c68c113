// Type-checked against the shipped declarations (tsc, module nodenext): the contract's names and types.
import http from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { createPageCache, type InvalidateRequest, type PageCache, type PageCacheOptions, type RoutePolicy } from 'ssr-page-cache';

const post: RoutePolicy = { ttl: 3600, grace: 600 };
const options: PageCacheOptions = {
  redis: new Redis(),
  keyPrefix: 'blog:',
  routes: { '/': { ttl: 300 }, '/posts/:slug': post, '/tags/:tag': { ttl: 1800, query: ['page'] } },
};
const cache: PageCache = createPageCache(options);
const app = express();
app.use(cache.middleware);
app.get('/posts/:slug', (req, res) => {
  cache.tag(res, `post:${req.params.slug}`);
  if (cache.isRefresh(req)) res.set('X-Refresh', '1');
  res.send('<h1>post</h1>');
});
app.use(cache.invalidationRouter({ token: 'a-long-enough-secret-token' }));
const request: InvalidateRequest = { tags: ['post:hello'], mode: 'soft' };
export async function check(): Promise<number> {
  const result = await cache.invalidate(request);
  const health = await cache.health();
  const text: string = await cache.registry.metrics();
  http.createServer(cache.front(app));
  await cache.close();
  return result.changed + health.hits + health.misses + Number(health.redis.status === 'up') + text.length;
}
