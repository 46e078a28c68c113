import express, { type Express } from 'express';
import request from 'supertest';
import { createCacheMiddleware } from '../../server/middleware/cache-middleware';
import { botDetection } from '../../server/middleware/bot-detection';
import { createCacheManager, type CacheManager } from '../../server/utils/cache-manager';
import { TierStack } from '../../server/utils/tier-stack';
import { createPolicyTable } from '../../server/utils/cache-policy';
import { createCacheStats } from '../../server/utils/cache-stats';
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
function embeddingApp(cache: CacheManager): { app: Express; renders: Map<string, number> } {
  const renders = new Map<string, number>();
  const count = (name: string) => renders.set(name, (renders.get(name) ?? 0) + 1);
  const routes = ['send', 'write-end', 'end-buffer', 'json', 'cookie', 'private', 'no-store', 'vary-cookie', 'too-large', 'error', 'redirect'];
  const policies = createPolicyTable(routes.map((route) => ({ route, path: `/${route}`, ttlSeconds: 60, graceSeconds: 0, query: {} })));
  const app = express();
  app.use(botDetection);
  app.use(createCacheMiddleware({ tiers: new TierStack({ redis: cache }), policies, stats: createCacheStats(), logger: createLogger('silent'), allAgents: false, maxEntryBytes: MAX_ENTRY_BYTES }));
  app.get('/send', (_req, res) => { count('send'); res.send('<p>sent</p>'); });
  app.get('/write-end', (_req, res) => {
    count('write-end');
    res.type('html');
    res.write('<p>first ');
    res.write(Buffer.from('second '));
    res.end('third</p>', 'utf8');
  });
  app.get('/end-buffer', (_req, res) => { count('end-buffer'); res.setHeader('Content-Type', 'text/plain'); res.end(Buffer.from([0xe2, 0x82, 0xac])); });
  app.get('/json', (_req, res) => { count('json'); res.status(200).json({ ok: true }); });
  app.get('/cookie', (_req, res) => { count('cookie'); res.cookie('session', 'secret-of-one-user').send('<p>yours</p>'); });
  app.get('/private', (_req, res) => { count('private'); res.set('Cache-Control', 'private, max-age=60').send('<p>private</p>'); });
  app.get('/no-store', (_req, res) => { count('no-store'); res.set('Cache-Control', 'no-store').send('<p>no-store</p>'); });
  app.get('/vary-cookie', (_req, res) => { count('vary-cookie'); res.set('Vary', 'Accept-Encoding, Cookie').send('<p>per cookie</p>'); });
  app.get('/too-large', (_req, res) => { count('too-large'); res.send('x'.repeat(MAX_ENTRY_BYTES + 1)); });
  app.get('/error', (_req, res) => { count('error'); res.status(500).send('<p>broken</p>'); });
  app.get('/redirect', (_req, res) => { count('redirect'); res.redirect(301, '/send'); });
  return { app, renders };
}

describe('capturing what a route sends', () => {
  const prefix = uniquePrefix('capture');
  let inspector: Redis;
  let redis: RedisClient;
  let cache: CacheManager;

  beforeAll(async () => {
    inspector = inspectionClient();
    const config = loadConfig({ REDIS_URL: realRedisUrl() });
    redis = createRedisClient(config.redis, createLogger('silent'));
    cache = createCacheManager({ redis, logger: createLogger('silent'), keyPrefix: prefix });
    await waitFor(async () => (redis.status === 'ready' ? true : undefined), 5000);
  });
  afterAll(async () => {
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
    const { app, renders } = embeddingApp(cache);
    const { first, second } = await twice(app, path, true);
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
      const { app, renders } = embeddingApp(cache);
      const { first, second } = await twice(app, path);
      expect(second.headers['x-cache']).toBe('MISS');
      expect(second.status).toBe(first.status);
      expect(second.text).toBe(first.text);
      expect(renders.get(path.slice(1))).toBe(2);
      expect(await inspector.exists(`${prefix}ssr:${path}`)).toBe(0);
    },
  );

  it('never replays one user\'s cookie to another', async () => {
    const { app } = embeddingApp(cache);
    const { second } = await twice(app, '/cookie');
    expect(second.headers['set-cookie']?.[0]).toContain('session=secret-of-one-user');
    expect(second.headers['x-cache']).toBe('MISS');
  });

  it('serves a page over the size bound in full, uncut', async () => {
    const { app } = embeddingApp(cache);
    const { first } = await twice(app, '/too-large');
    expect(first.text).toHaveLength(MAX_ENTRY_BYTES + 1);
  });
});
