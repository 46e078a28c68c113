import express, { type Express } from 'express';
import request from 'supertest';
import { createPageCache, type PageCache } from 'ssr-page-cache';
import { createLogger } from '../../server/utils/logger';
import { createRedisClient, type Redis, type RedisClient } from '../../server/utils/redis-client';
import { loadConfig } from '../../server/config';
import { GOOGLEBOT, waitFor } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';

const MAX_ENTRY_BYTES = 4096;

/**
 * An embedding server's own routes behind the middleware: every way a handler can write a
 * response, and every reason a response must not be shared.
 */
function embeddingApp(redis: RedisClient, keyPrefix: string): { app: Express; renders: Map<string, number>; pageCache: PageCache } {
  const renders = new Map<string, number>();
  const count = (name: string) => renders.set(name, (renders.get(name) ?? 0) + 1);
  const routes = ['send', 'headers', 'write-end', 'end-buffer', 'json', 'cookie', 'private', 'no-store', 'vary-cookie', 'too-large', 'error', 'redirect'];
  const pageCache = createPageCache({
    redis,
    keyPrefix,
    routes: Object.fromEntries(routes.map((route) => [`/${route}`, { ttl: 60, grace: 0, name: route }])),
    memoryTierBytes: 0,
    maxEntryBytes: MAX_ENTRY_BYTES,
  });
  const app = express();
  // An earlier middleware's headers (security headers, say) are part of the page too.
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(pageCache.middleware);
  app.get('/send', (_req, res) => {
    count('send');
    res.send('<p>sent</p>');
  });
  app.get('/headers', (_req, res) => {
    count('headers');
    res.set({ 'Cache-Control': 'public, max-age=60', 'Content-Language': 'en', 'X-Robots-Tag': 'noarchive' });
    res.append('Link', ['</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script']);
    res.send('<p>with headers</p>');
  });
  app.get('/write-end', (_req, res) => {
    count('write-end');
    res.type('html');
    res.write('<p>first ');
    res.write(Buffer.from('second '));
    res.end('third</p>', 'utf8');
  });
  app.get('/end-buffer', (_req, res) => {
    count('end-buffer');
    res.setHeader('Content-Type', 'text/plain');
    res.end(Buffer.from([0xe2, 0x82, 0xac]));
  });
  app.get('/json', (_req, res) => {
    count('json');
    res.status(200).json({ ok: true });
  });
  app.get('/cookie', (_req, res) => {
    count('cookie');
    res.cookie('session', 'secret-of-one-user').send('<p>yours</p>');
  });
  app.get('/private', (_req, res) => {
    count('private');
    res.set('Cache-Control', 'private, max-age=60').send('<p>private</p>');
  });
  app.get('/no-store', (_req, res) => {
    count('no-store');
    res.set('Cache-Control', 'no-store').send('<p>no-store</p>');
  });
  app.get('/vary-cookie', (_req, res) => {
    count('vary-cookie');
    res.set('Vary', 'Accept-Encoding, Cookie').send('<p>per cookie</p>');
  });
  app.get('/too-large', (_req, res) => {
    count('too-large');
    res.send('x'.repeat(MAX_ENTRY_BYTES + 1));
  });
  app.get('/error', (_req, res) => {
    count('error');
    res.status(500).send('<p>broken</p>');
  });
  app.get('/redirect', (_req, res) => {
    count('redirect');
    res.redirect(302, '/send'); // temporary: never stored (a 301 is, see negative-cache.test.ts)
  });
  return { app, renders, pageCache };
}

describe('capturing what a route sends', () => {
  const prefix = uniquePrefix('capture');
  let inspector: Redis;
  let redis: RedisClient;
  const caches: PageCache[] = [];
  const app = (...args: Parameters<typeof embeddingApp>) => {
    const built = embeddingApp(...args);
    caches.push(built.pageCache);
    return built;
  };

  beforeAll(async () => {
    inspector = inspectionClient();
    const config = loadConfig({ REDIS_URL: realRedisUrl() });
    redis = createRedisClient(config.redis, createLogger('silent'));
    await waitFor(async () => (redis.status === 'ready' ? true : undefined), 5000);
  });
  afterAll(async () => {
    await Promise.all(caches.map((pageCache) => pageCache.close()));
    await redis.quit();
    await removeKeys(inspector, prefix);
    inspector.disconnect();
  });

  /** Two bot requests; between them, the first one's store (if any) has had time to land. */
  async function twice(app: Express, path: string, expectStored = false) {
    const first = await request(app).get(path).set('User-Agent', GOOGLEBOT);
    if (expectStored) await waitFor(async () => ((await inspector.exists(`${prefix}ssr:${path}`)) === 1 ? true : undefined), 2000, 5);
    else await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await request(app).get(path).set('User-Agent', GOOGLEBOT);
    return { first, second };
  }

  it.each([
    ['/send', 'text/html; charset=utf-8', '<p>sent</p>'],
    ['/write-end', 'text/html; charset=utf-8', '<p>first second third</p>'],
    ['/end-buffer', 'text/plain', '€'],
    ['/json', 'application/json; charset=utf-8', '{"ok":true}'],
  ])('stores %s however it was written and replays status, type and body', async (path, type, body) => {
    const { app: server, renders } = app(redis, prefix);
    const { first, second } = await twice(server, path, true);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.status).toBe(200);
    expect(second.headers['content-type']).toBe(type);
    expect(second.text).toBe(body);
    expect(first.text).toBe(body);
    expect(renders.get(path.slice(1))).toBe(1);
  });

  it.each(['/cookie', '/private', '/no-store', '/vary-cookie', '/too-large', '/error', '/redirect'])(
    'never stores %s: the next request renders again',
    async (path) => {
      const { app: server, renders } = app(redis, prefix);
      const { first, second } = await twice(server, path);
      expect(second.headers['x-cache']).toBe('MISS');
      expect(second.status).toBe(first.status);
      expect(second.text).toBe(first.text);
      expect(renders.get(path.slice(1))).toBe(2);
      expect(await inspector.exists(`${prefix}ssr:${path}`)).toBe(0);
    },
  );

  it('replays on a HIT the end-to-end headers the route and earlier middleware set on the MISS', async () => {
    const { app: server, pageCache } = app(redis, prefix);
    const { first, second } = await twice(server, '/headers', true);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(second.headers['x-cache']).toBe('HIT');
    for (const name of ['cache-control', 'content-language', 'x-robots-tag', 'link', 'x-content-type-options', 'content-type']) {
      expect([name, second.headers[name]]).toEqual([name, first.headers[name]]);
    }
    expect(second.headers.link).toContain('</b.js>; rel=preload; as=script');
    // The same from the front, where no Express middleware runs for a hit.
    const front = await request(pageCache.front(server)).get('/headers').set('User-Agent', GOOGLEBOT);
    expect(front.headers['x-cache']).toBe('HIT');
    for (const name of ['cache-control', 'content-language', 'x-robots-tag', 'link', 'x-content-type-options']) {
      expect([name, front.headers[name]]).toEqual([name, first.headers[name]]);
    }
  });

  it("never replays one user's cookie to another", async () => {
    const { app: server } = app(redis, prefix);
    const { second } = await twice(server, '/cookie');
    expect(second.headers['set-cookie']?.[0]).toContain('session=secret-of-one-user');
    expect(second.headers['x-cache']).toBe('MISS');
  });

  it('serves a page over the size bound in full, uncut', async () => {
    const { app: server } = app(redis, prefix);
    const { first } = await twice(server, '/too-large');
    expect(first.text).toHaveLength(MAX_ENTRY_BYTES + 1);
  });
});
