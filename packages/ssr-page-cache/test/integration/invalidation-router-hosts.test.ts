import express, { type RequestHandler } from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { createPageCache, type PageCache } from '../../src/index';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers';

const TOKEN = 'router-hosts-token-0123456789';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

/** The store after a MISS runs beside the response. */
async function eventually(probe: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The router in apps as they are written: a body parser mounted before everything (express.json,
 * express.text, express.raw), or none, and clients that try other methods on its path.
 */
describe('the invalidation router in a host with its own body parsers (Express 5, real Redis)', () => {
  let redis: Redis;
  let inspector: Redis;
  const prefixes: string[] = [];
  const caches: PageCache[] = [];

  beforeAll(async () => {
    redis = new Redis(realRedisUrl());
    inspector = inspectionClient();
    await redis.ping();
  });
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(async () => {
    for (const prefix of prefixes) await removeKeys(inspector, prefix);
    redis.disconnect();
    inspector.disconnect();
  });

  /** A blog whose first middleware is `first` (a body parser), and the router after its routes. */
  function blog(first: RequestHandler[], routerOptions: { path?: string; maxBodyBytes?: number } = {}) {
    const prefix = uniquePrefix('router-hosts');
    prefixes.push(prefix);
    const cache = createPageCache({ redis, keyPrefix: prefix, routes: { '/posts/:slug': { ttl: 60 } }, memoryTierBytes: 0 });
    caches.push(cache);
    const app = express();
    for (const middleware of first) app.use(middleware);
    app.use(cache.middleware);
    app.get('/posts/:slug', (req, res) => {
      cache.tag(res, `post:${req.params.slug}`);
      res.send(`<h1>${req.params.slug}</h1>`);
    });
    app.use(cache.invalidationRouter({ token: TOKEN, ...routerOptions }));
    const stored = async (key: string) => (await inspector.exists(`${prefix}${key}`)) === 1;
    return { app, stored };
  }
  const bot = (app: express.Express, path: string) => request(app).get(path).set('User-Agent', GOOGLEBOT);
  const invalidate = (app: express.Express, body: string | Buffer, path = '/api/cache/invalidate') =>
    request(app).post(path).set('Authorization', `Bearer ${TOKEN}`).set('Content-Type', 'application/json').send(body);

  describe.each<[string, RequestHandler[]]>([
    ['express.json()', [express.json()]],
    ["express.text({ type: '*/*' })", [express.text({ type: '*/*' })]],
    ["express.raw({ type: '*/*' })", [express.raw({ type: '*/*' })]],
    ['no body parser', []],
  ])('with %s mounted before it', (_name, first) => {
    it('invalidates by tags: 200, and the page is a MISS again', async () => {
      const { app, stored } = blog(first);
      expect((await bot(app, '/posts/hello')).headers['x-cache']).toBe('MISS');
      await eventually(() => stored('ssr:/posts/hello'));
      expect((await bot(app, '/posts/hello')).headers['x-cache']).toBe('HIT');

      const res = await invalidate(app, JSON.stringify({ tags: ['post:hello'] }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ source: 'api', tags: ['post:hello'], deleted: 1 });
      expect(await stored('ssr:/posts/hello')).toBe(false);
      expect((await bot(app, '/posts/hello')).headers['x-cache']).toBe('MISS');
    });

    it('still answers 400 naming the problem for a body that is not an invalidation', async () => {
      const { app } = blog(first);
      const notObject = await invalidate(app, '["post:hello"]');
      expect([notObject.status, notObject.body.error]).toEqual([400, 'request body must be a JSON object']);
      const invalid = await invalidate(app, JSON.stringify({ tags: 'post:hello' }));
      expect(invalid.status).toBe(400);
      expect(invalid.body.error).toMatch(/^tags: /);
    });

    it('holds the body to maxBodyBytes: 413', async () => {
      const { app } = blog(first, { maxBodyBytes: 1024 });
      const res = await invalidate(app, JSON.stringify({ tags: ['post:hello'], padding: 'x'.repeat(2048) }));
      expect(res.status).toBe(413);
      expect(res.body.error).toBe('request body is larger than 1kb');
    });
  });

  it("reads the stream itself under Express 4's body-parser, which leaves {} on a request it skips without reading it", async () => {
    const skipped: RequestHandler = (req, _res, next) => {
      req.body = {};
      next();
    };
    const { app } = blog([skipped]);
    const res = await invalidate(app, JSON.stringify({ tags: ['post:hello'] }));
    expect(res.status).toBe(200);
    expect(res.body.tags).toEqual(['post:hello']);
  });

  it('answers 400 naming the fix when a middleware before it read the body and kept nothing', async () => {
    const drain: RequestHandler = (req, _res, next) => {
      req.resume();
      req.on('end', () => next());
    };
    const { app } = blog([drain]);
    const res = await invalidate(app, JSON.stringify({ tags: ['post:hello'] }));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('request body was read by a middleware mounted before this one and not kept: mount the invalidation router before it');
  });

  describe('any method but POST on its path', () => {
    it.each(['GET', 'PUT', 'DELETE', 'PATCH'])('answers %s with 405, Allow: POST and a JSON error, not the app’s 404', async (method) => {
      const { app } = blog([express.json()]);
      const res = await request(app)[method.toLowerCase() as 'get' | 'put' | 'delete' | 'patch']('/api/cache/invalidate?tags=post:hello');
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.error).toBe('/api/cache/invalidate takes POST only, with a JSON body such as {"tags":["post:hello"]}');
    });

    it('answers HEAD with 405 and Allow: POST, and no body', async () => {
      const { app } = blog([]);
      const res = await request(app).head('/api/cache/invalidate');
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.text).toBeUndefined();
    });

    it('does so on a custom path, and leaves the default path and every other one to the app', async () => {
      const { app } = blog([express.json()], { path: '/admin/purge' });
      const res = await request(app).get('/admin/purge');
      expect([res.status, res.headers.allow]).toEqual([405, 'POST']);
      expect(res.body.error).toMatch(/^\/admin\/purge takes POST only/);
      expect((await request(app).get('/api/cache/invalidate')).status).toBe(404);
      expect((await request(app).get('/posts/hello')).status).toBe(200);
      expect((await invalidate(app, JSON.stringify({ tags: ['post:hello'] }), '/admin/purge')).status).toBe(200);
    });
  });
});
