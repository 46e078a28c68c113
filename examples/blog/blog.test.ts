import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import request from 'supertest';
import { createBlogApp, type BlogApp } from './app';

/**
 * The example blog against a real Redis: what a host embedding the page cache relies on.
 * Every test gets its own blog and key prefix; every key of the run is removed at the end.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const HUMAN = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const TOKEN = `blog-test-${randomBytes(12).toString('hex')}`;
/** What the routes set (or res.send sets) and a HIT must repeat. */
const ROUTE_HEADERS = ['content-type', 'cache-control', 'content-language', 'x-robots-tag', 'link'] as const;
const RUN_PREFIX = `test:example-blog:${process.pid}:${randomBytes(4).toString('hex')}:`;

/** The host's client, handed to every blog (the cache must leave it open). */
let redis: Redis;
/** A client of the test's own, for assertions and clean-up. */
let inspector: Redis;
let blog: BlogApp;
let prefix: string;
let blogs = 0;
const extraBlogs: BlogApp[] = [];

function newBlog({ token }: { token?: string } = { token: TOKEN }): { blog: BlogApp; prefix: string } {
  blogs += 1;
  const keyPrefix = `${RUN_PREFIX}${blogs}:`;
  return { blog: createBlogApp({ redis, keyPrefix, token }), prefix: keyPrefix };
}

async function scanKeys(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await inspector.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The cache stores after the response is sent: wait until the page's key is in Redis. */
async function waitForKey(key: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await inspector.exists(key)) === 0) {
    if (Date.now() > deadline) throw new Error(`${key} was not stored within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** A crawler that accepts no compression, through Express (the cache middleware). */
function bot(path: string) {
  return request(blog.app).get(path).set('User-Agent', GOOGLEBOT).set('Accept-Encoding', 'identity');
}

function routeHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(ROUTE_HEADERS.map((name) => [name, headers[name]]));
}

/** MISS, stored, then HIT: the page is in the cache when this returns. */
async function cachePage(path: string): Promise<void> {
  expect((await bot(path)).headers['x-cache']).toBe('MISS');
  await waitForKey(`${prefix}ssr:${path}`);
  expect((await bot(path)).headers['x-cache']).toBe('HIT');
}

/** A HIT is the MISS again: status, body and route headers, plus X-Cache and Age (identity: the test client asks for no coding). */
function expectHitRepeatsMiss(
  hit: { status: number; text: string; headers: Record<string, unknown> },
  miss: { status: number; text: string; headers: Record<string, unknown> },
) {
  expect(hit.headers['x-cache']).toBe('HIT');
  expect(hit.status).toBe(miss.status);
  expect(hit.text).toBe(miss.text);
  expect(routeHeaders(hit.headers)).toEqual(routeHeaders(miss.headers));
  expect(hit.headers['content-encoding']).toBeUndefined();
  expect(hit.headers.age).toMatch(/^\d+$/);
}

function invalidate(body: object, token?: string) {
  const req = request(blog.app).post('/api/cache/invalidate').set('Content-Type', 'application/json');
  if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
  return req.send(JSON.stringify(body));
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  inspector = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  // Pages are stored in Redis once the client is connected (before that, in process only).
  await redis.ping();
});

beforeEach(() => {
  ({ blog, prefix } = newBlog());
});

afterEach(async () => {
  await blog.cache.close();
  for (const extra of extraBlogs.splice(0)) await extra.cache.close();
});

afterAll(async () => {
  // Twice: a store still in flight when the last test ended lands after the first pass.
  for (const pass of [1, 2]) {
    if (pass === 2) await sleep(250);
    const keys = await scanKeys(`${RUN_PREFIX}*`);
    for (let i = 0; i < keys.length; i += 500) await inspector.unlink(...keys.slice(i, i + 500));
  }
  redis.disconnect();
  await inspector.quit();
});

describe('example blog with the page cache', () => {
  test('a bot gets a MISS, then a HIT with the same status, body and route headers', async () => {
    const miss = await bot('/posts/hello');
    expect(miss.status).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.text).toContain('Hello, world');
    // The headers the HIT must repeat are really there on the MISS.
    expect(routeHeaders(miss.headers)).toEqual({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'public, max-age=60',
      'content-language': 'en',
      'x-robots-tag': 'index, follow',
      link: '<https://blog.example/posts/hello>; rel="canonical"',
    });

    await waitForKey(`${prefix}ssr:/posts/hello`);
    const hit = await bot('/posts/hello');
    expectHitRepeatsMiss(hit, miss);
  });

  test('a person gets BYPASS and nothing is stored; an unknown post is a 404', async () => {
    for (let i = 0; i < 2; i += 1) {
      const res = await request(blog.app).get('/posts/hello').set('User-Agent', HUMAN);
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBe('BYPASS');
    }
    await sleep(200);
    expect(await inspector.exists(`${prefix}ssr:/posts/hello`)).toBe(0);
    expect((await bot('/posts/no-such-post')).status).toBe(404);
  });

  test('tag pages keep ?page in the key and drop other query parameters', async () => {
    const first = await bot('/tags/news?page=1&utm_source=mail');
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    let again = await bot('/tags/news?utm_source=feed&page=1');
    for (let tries = 0; again.headers['x-cache'] !== 'HIT' && tries < 50; tries += 1) {
      await sleep(50);
      again = await bot('/tags/news?utm_source=feed&page=1');
    }
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.text).toBe(first.text);
    const second = await bot('/tags/news?page=2');
    expect(second.headers['x-cache']).toBe('MISS');
    expect(second.text).not.toBe(first.text);
  });

  test('updatePost invalidates the post and every page showing it (tag post:<slug>)', async () => {
    await cachePage('/posts/hello');
    await cachePage('/');
    await cachePage('/posts/redis');

    expect(await blog.updatePost('hello', 'Rewritten after the cache stored it.')).toBe(true);

    const post = await bot('/posts/hello');
    expect(post.headers['x-cache']).toBe('MISS');
    expect(post.text).toContain('Rewritten after the cache stored it.');
    expect(post.text).not.toContain('The first post of this blog.');
    const home = await bot('/');
    expect(home.headers['x-cache']).toBe('MISS');
    expect(home.text).toContain('Rewritten after the cache stored it.');
    // A page that does not show the post stays cached.
    expect((await bot('/posts/redis')).headers['x-cache']).toBe('HIT');
  });

  test('the invalidation router: 401 without or with a wrong token, 200 with it, then a MISS', async () => {
    await cachePage('/posts/hello');

    expect((await invalidate({ tags: ['post:hello'] })).status).toBe(401);
    expect((await invalidate({ tags: ['post:hello'] }, 'not-the-token')).status).toBe(401);
    expect((await bot('/posts/hello')).headers['x-cache']).toBe('HIT');

    const ok = await invalidate({ tags: ['post:hello'] }, TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^application\/json/);
    expect(typeof ok.body).toBe('object');
    expect((await bot('/posts/hello')).headers['x-cache']).toBe('MISS');
  });

  test('the invalidation router answers 403 when the blog has no token', async () => {
    const tokenless = newBlog({});
    extraBlogs.push(tokenless.blog);
    const res = await request(tokenless.blog.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TOKEN}`)
      .send({ tags: ['post:hello'] });
    expect(res.status).toBe(403);
  });

  test('/health merges cache.health(): hits and misses move with traffic', async () => {
    const before = await request(blog.app).get('/health');
    expect(before.status).toBe(200);
    expect(before.body.status).toBe('ok');
    expect(before.body.cache.enabled).toBe(true);
    expect(before.body.cache.redis.status).toBe('up');
    expect(Object.keys(before.body.cache).sort()).toEqual(Object.keys(JSON.parse(JSON.stringify(await blog.cache.health()))).sort());

    await cachePage('/posts/hello');

    const after = await request(blog.app).get('/health');
    expect(after.body.cache.misses).toBe(before.body.cache.misses + 1);
    expect(after.body.cache.hits).toBe(before.body.cache.hits + 1);
    expect(after.body.cache.hitRate).toBeDefined();
    expect(after.body.cache.hitRate).not.toEqual(before.body.cache.hitRate);
  });

  test('/metrics serves cache.registry with ssr_cache_requests_total by outcome', async () => {
    await cachePage('/posts/hello');
    const res = await request(blog.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^ssr_cache_requests_total\{[^}]*outcome="miss"[^}]*\} [1-9]/m);
    expect(res.text).toMatch(/^ssr_cache_requests_total\{[^}]*outcome="hit"[^}]*\} [1-9]/m);
    expect(blog.cache.registry.getSingleMetric('ssr_cache_requests_total')).toBeDefined();
  });

  test('close() leaves the host client open', async () => {
    const own = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      expect(await own.ping()).toBe('PONG');
      const closing = createBlogApp({ redis: own, keyPrefix: `${RUN_PREFIX}close:` });
      await closing.cache.close();
      expect(own.status).toBe('ready');
      expect(await own.ping()).toBe('PONG');
    } finally {
      own.disconnect();
    }
  });

  describe('through handler (cache.front) on a real http server', () => {
    let server: http.Server;
    let port: number;

    beforeEach(async () => {
      server = http.createServer(blog.handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    /** node:http sends no Accept-Encoding: the identity body is what must come back. */
    function send(method: string, path: string, headers: Record<string, string>, body?: string) {
      return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
    }

    test('MISS then HIT with the same status, body and route headers, and the router', async () => {
      const miss = await send('GET', '/posts/hello', { 'user-agent': GOOGLEBOT });
      expect(miss.status).toBe(200);
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(miss.headers['cache-control']).toBe('public, max-age=60');
      await waitForKey(`${prefix}ssr:/posts/hello`);

      const hit = await send('GET', '/posts/hello', { 'user-agent': GOOGLEBOT });
      expectHitRepeatsMiss(hit, miss);

      const json = { 'content-type': 'application/json' };
      expect((await send('POST', '/api/cache/invalidate', json, JSON.stringify({ tags: ['post:hello'] }))).status).toBe(401);
      const ok = await send('POST', '/api/cache/invalidate', { ...json, authorization: `Bearer ${TOKEN}` }, JSON.stringify({ tags: ['post:hello'] }));
      expect(ok.status).toBe(200);
      const after = await send('GET', '/posts/hello', { 'user-agent': GOOGLEBOT });
      expect(after.headers['x-cache']).toBe('MISS');
      expect(after.text).toBe(miss.text);
      await waitForKey(`${prefix}ssr:/posts/hello`);
    });
  });
});
