import express from 'express';
import type Redis from 'ioredis';
import { Counter, Registry } from 'prom-client';
import request from 'supertest';
import { createPageCache, type PageCache } from '../../src/create-page-cache';
import { internalsOf } from '../../src/internals';
import { PageCacheOptionsError } from '../../src/options';
import { createMockRedis } from '../helpers';

const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const routes = { '/posts/:slug': { ttl: 60 } };

/** How many times the registry's /metrics text declares a metric. */
async function declarations(registry: Registry, name: string): Promise<number> {
  return (await registry.metrics()).split('\n').filter((line) => line === `# TYPE ${name} counter`).length;
}

async function getPost(cache: PageCache): Promise<string | undefined> {
  const app = express();
  app.use(cache.middleware);
  app.get('/posts/:slug', (req, res) => {
    res.send(`<h1>${req.params.slug}</h1>`);
  });
  return (await request(app).get('/posts/hello').set('User-Agent', GOOGLEBOT)).headers['x-cache'];
}

describe('the ssr_cache_* metrics in a registry shared with the host', () => {
  const open: PageCache[] = [];
  const clients: Redis[] = [];
  const make = (registry: Registry) => {
    const redis = createMockRedis();
    clients.push(redis);
    const cache = createPageCache({ redis, routes, registry });
    open.push(cache);
    return cache;
  };

  afterEach(async () => {
    await Promise.all(open.splice(0).map((cache) => cache.close()));
    for (const redis of clients.splice(0)) redis.disconnect();
  });

  it('leave the registry with unregister(), and only they: the host keeps its own', async () => {
    const registry = new Registry();
    new Counter({ name: 'ssr_cache_webhooks_total', help: "The host's own.", registers: [registry] });
    const cache = make(registry);
    expect(await declarations(registry, 'ssr_cache_requests_total')).toBe(1);
    internalsOf(cache).metrics.unregister();
    expect((await registry.getMetricsAsJSON()).map((metric) => metric.name)).toEqual(['ssr_cache_webhooks_total']);
  });

  it('can be registered again by a cache created after close(): it works and each metric is there once', async () => {
    const registry = new Registry();
    const first = make(registry);
    expect(await getPost(first)).toBe('MISS');
    await first.close();
    const second = make(registry);
    expect(await getPost(second)).toBe('MISS');
    expect(await declarations(registry, 'ssr_cache_requests_total')).toBe(1);
    expect(await declarations(registry, 'ssr_cache_store_skips_total')).toBe(1);
    // The new cache's counts, not the closed one's.
    expect(await registry.metrics()).toMatch(/^ssr_cache_requests_total\{route="\/posts\/:slug",outcome="miss"\} 1$/m);
  });

  it('refuses a second live cache on the registry, naming the way out, before it opens a connection', async () => {
    const registry = new Registry();
    const live = make(registry);
    const redis = createMockRedis();
    clients.push(redis);
    const duplicate = jest.spyOn(redis, 'duplicate');
    const second = () => createPageCache({ redis, routes, registry });
    expect(second).toThrow(PageCacheOptionsError);
    expect(second).toThrow(
      'createPageCache: registry: already holds the ssr_cache_* metrics of another live cache; close() that cache first, or give each cache a registry of its own',
    );
    expect(duplicate).not.toHaveBeenCalled();
    // The live cache's metrics are untouched.
    expect(await getPost(live)).toBe('MISS');
    expect(await registry.metrics()).toMatch(/^ssr_cache_requests_total\{route="\/posts\/:slug",outcome="miss"\} 1$/m);
  });

  it("takes a registry that holds only the host's metrics, ssr_cache_* names included", () => {
    const registry = new Registry();
    new Counter({ name: 'ssr_cache_webhooks_total', help: "The host's own.", registers: [registry] });
    expect(() => make(registry)).not.toThrow();
  });
});
