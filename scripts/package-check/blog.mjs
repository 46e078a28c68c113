// A blog written only against the package's public API, as an ESM host.
import http from 'node:http';
import express from 'express';
import Redis from 'ioredis';
import { createPageCache } from 'ssr-page-cache';

const redis = new Redis(process.env.CHECK_REDIS_URL, { connectionName: process.env.CHECK_NAME });
const cache = createPageCache({ redis, keyPrefix: process.env.CHECK_PREFIX, routes: { '/posts/:slug': { ttl: 3600, grace: 600 } } });
const posts = new Map([
  ['hello', 'Hello'],
  ['wrongtype', 'Odd'],
  ['other', 'Other'],
]);

const app = express();
app.use(cache.middleware);
app.get('/posts/:slug', (req, res) => {
  const text = posts.get(req.params.slug);
  if (!text) return res.status(404).send('no such post');
  cache.tag(res, `post:${req.params.slug}`);
  res.set({ 'Cache-Control': 'public, max-age=60', 'Content-Language': 'en', 'X-Refresh': String(cache.isRefresh(req)) }).send(`<h1>${text}</h1>`);
});
app.post('/update/:slug', async (req, res) => {
  posts.set(req.params.slug, 'Updated');
  res.json(await cache.invalidate({ tags: [`post:${req.params.slug}`] }));
});
app.get('/health', async (_req, res) => res.json({ status: 'ok', cache: await cache.health() }));
app.get('/metrics', async (_req, res) => res.type(cache.registry.contentType).send(await cache.registry.metrics()));
app.use(cache.invalidationRouter({ token: process.env.CHECK_TOKEN }));
http.createServer(cache.front(app)).listen(Number(process.env.CHECK_PORT), '127.0.0.1', () => console.log('listening'));
