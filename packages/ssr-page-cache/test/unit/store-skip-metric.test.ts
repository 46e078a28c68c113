import express from 'express';
import request from 'supertest';
import { createPageCache } from '../../src/create-page-cache';
import { createMockRedis } from '../helpers';

const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

describe('ssr_cache_store_skips_total', () => {
  const redis = createMockRedis();
  const cache = createPageCache({
    redis,
    maxEntryBytes: 1024,
    routes: { '/visitor': { ttl: 60, name: 'visitor' }, '/shop/:id': { ttl: 60 }, '/big': { ttl: 60 } },
  });
  const app = express();
  app.use(cache.middleware);
  app.get('/visitor', (_req, res) => {
    res.cookie('session', 'abc').send('<p>every visitor gets a cookie</p>');
  });
  app.get('/shop/:id', (_req, res) => {
    res.vary('Origin').send('<p>varies on Origin, as cors adds</p>');
  });
  app.get('/big', (_req, res) => {
    res.send(`<p>${'x'.repeat(4096)}</p>`);
  });
  const get = (path: string) => request(app).get(path).set('User-Agent', GOOGLEBOT);

  afterAll(async () => {
    await cache.close();
    redis.disconnect();
  });

  it('counts each page not stored by its route and reason, and /health keeps the total', async () => {
    for (const path of ['/visitor', '/visitor', '/shop/1', '/shop/2', '/shop/3', '/big']) expect((await get(path)).status).toBe(200);
    const text = await cache.registry.metrics();
    const skips = text.split('\n').filter((line) => line.startsWith('ssr_cache_store_skips_total{'));
    expect(skips.sort()).toEqual([
      'ssr_cache_store_skips_total{route="/big",reason="too-large"} 1',
      'ssr_cache_store_skips_total{route="/shop/:id",reason="vary"} 3',
      'ssr_cache_store_skips_total{route="visitor",reason="set-cookie"} 2',
    ]);
    const health = await cache.health();
    expect([health.storeSkips, health.oversized, health.stores]).toEqual([5, 1, 0]);
    expect(text).toMatch(/^ssr_cache_oversized_total 1$/m);
  });
});
