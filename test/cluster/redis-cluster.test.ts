import { Cluster } from 'ioredis';
import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import type { ListingSource } from '../../server/listings/listing';
import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, waitFor, waitForStored } from '../helpers/app';
import { listen, rawRequest } from '../helpers/raw-http';
import { freezeFor, uniquePrefix } from '../helpers/redis';
import { startPrivateCluster, type PrivateCluster } from '../helpers/redis-cluster';

const COMMAND_TIMEOUT_MS = 200;
const botHeaders = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'identity' };

/** The integration suite's main paths, on a real three-master Redis Cluster (REDIS_CLUSTER_NODES). */
describe('on a Redis Cluster of three masters', () => {
  let cluster: PrivateCluster;
  let inspector: Cluster;
  const handles: AppHandle[] = [];
  const servers: { close(): Promise<void> }[] = [];
  let prefix: string;

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    inspector = new Cluster(
      cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
      { redisOptions: { disconnectTimeout: 100 } },
    );
    await waitFor(async () => (inspector.status === 'ready' ? true : undefined), 10_000);
  }, 60_000);
  afterAll(async () => {
    inspector.disconnect();
    await cluster.stop();
  });
  beforeEach(() => {
    prefix = uniquePrefix('cluster');
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(handles.splice(0).map((handle) => handle.close()));
  });

  async function start(env: Record<string, string> = {}, listings?: ListingSource): Promise<AppHandle> {
    const handle = testApp(
      {
        REDIS_CLUSTER_NODES: cluster.nodes,
        REDIS_KEY_PREFIX: prefix,
        REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
        SSR_CACHE_MEMORY_MB: '0',
        ...env,
      },
      listings ? { listings } : {},
    );
    handles.push(handle);
    await redisReady(handle, 10_000);
    return handle;
  }

  const bot = (handle: AppHandle, path: string) => request(handle.app).get(path).set('User-Agent', GOOGLEBOT);
  const invalidate = (handle: AppHandle, body: unknown) =>
    request(handle.app)
      .post('/api/cache/invalidate')
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .send(body as object);

  /** Keys under this test's prefix on each master, found with SCAN on every node. */
  async function keysPerMaster(pattern = 'ssr:*'): Promise<string[][]> {
    return Promise.all(
      inspector.nodes('master').map(async (node) => {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}${pattern}`, 'COUNT', 500);
          cursor = next;
          found.push(...keys);
        } while (cursor !== '0');
        return found;
      }),
    );
  }

  it('uses the Cluster client', async () => {
    const handle = await start();
    expect(handle.redis.isCluster).toBe(true);
  });

  it('answers MISS then HIT from Redis, with pages spread over the masters', async () => {
    const handle = await start();
    const first = await bot(handle, '/listings/7');
    expect(first.headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/listings/7');
    const second = await bot(handle, '/listings/7');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['server-timing']).toContain('HIT redis');
    expect(second.text).toBe(first.text);

    for (let id = 1; id <= 30; id += 1) await bot(handle, `/listings/${id}`);
    for (let id = 1; id <= 30; id += 1) await waitForStored(handle, `ssr:/listings/${id}`);
    const perMaster = await keysPerMaster();
    expect(perMaster.flat()).toHaveLength(30);
    expect(perMaster.filter((keys) => keys.length > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('invalidates by tag: exactly the pages that show the listing, though they live on different masters', async () => {
    const handle = await start();
    const catalog = createEmbeddedCatalog(200);
    const listing = (await catalog.listListings({ page: 1, pageSize: 1, sort: 'newest' })).items[0]!;
    const paths = [`/listings/${listing.id}`, '/listings', '/'];
    for (const path of paths) await bot(handle, path);
    for (const path of paths) await waitForStored(handle, `ssr:${path}`);

    const res = await invalidate(handle, { tags: [`listing:${listing.id}`] });
    expect(res.status).toBe(200);
    // The newest listing is on the first browse page, not necessarily among the featured on the homepage.
    const featured = (await catalog.listFeatured(12)).some((item) => item.id === listing.id);
    expect(res.body.deleted).toBe(featured ? 3 : 2);
    for (const key of ['ssr:/listings', `ssr:/listings/${listing.id}`]) expect(await handle.cache.ttlMs(key)).toBe(-2);
    const homeTtl = (await handle.cache.ttlMs('ssr:/')) as number;
    if (featured) expect(homeTtl).toBe(-2);
    else expect(homeTtl).toBeGreaterThan(0);
    expect((await bot(handle, `/listings/${listing.id}`)).headers['x-cache']).toBe('MISS');
  });

  it('soft-invalidates by tag: the page is served STALE once and re-rendered', async () => {
    const handle = await start();
    await bot(handle, '/listings/12');
    await waitForStored(handle, 'ssr:/listings/12');
    const res = await invalidate(handle, { tags: ['listing:12'], mode: 'soft' });
    expect(res.status).toBe(200);
    expect(res.body.markedStale).toBeGreaterThanOrEqual(1);
    expect((await bot(handle, '/listings/12')).headers['x-cache']).toBe('STALE');
    await waitFor(async () => ((await bot(handle, '/listings/12')).headers['x-cache'] === 'HIT' ? true : undefined), 5000, 50);
  });

  it('invalidates by pattern on every master (SCAN per master)', async () => {
    const handle = await start();
    const paths = Array.from({ length: 20 }, (_, index) => `/listings/${index + 100}`);
    for (const path of [...paths, '/']) await bot(handle, path);
    for (const path of [...paths, '/']) await waitForStored(handle, `ssr:${path}`);
    expect((await keysPerMaster('ssr:/listings/1*')).filter((keys) => keys.length > 0).length).toBeGreaterThanOrEqual(2);

    const res = await invalidate(handle, { patterns: ['/listings/1*'] });
    expect(res.status).toBe(200);
    expect(res.body.deleted).toBe(20);
    expect((await keysPerMaster()).flat().map((key) => key.slice(prefix.length))).toEqual(['ssr:/']);
  });

  it('renders a cold page once across two instances', async () => {
    const base = createEmbeddedCatalog(200);
    let renders = 0;
    const slow: ListingSource = {
      ...base,
      async getListing(id) {
        renders += 1;
        await new Promise((resolve) => setTimeout(resolve, 150));
        return base.getListing(id);
      },
    };
    const urls: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const server = await listen((await start({}, slow)).handler);
      servers.push(server);
      urls.push(server.url);
    }
    const responses = await Promise.all(Array.from({ length: 60 }, (_, index) => rawRequest(`${urls[index % 2]}/listings/88`, botHeaders)));
    expect(responses.every((res) => res.status === 200)).toBe(true);
    expect(new Set(responses.map((res) => res.body.toString())).size).toBe(1);
    expect(renders).toBe(1);
  });

  it("carries invalidations to the other instance's in-process tier over cluster pub/sub", async () => {
    const a = await start({ SSR_CACHE_MEMORY_MB: '16' });
    const b = await start({ SSR_CACHE_MEMORY_MB: '16' });
    await waitFor(async () => (b.tiers.memory !== undefined ? true : undefined), 1000);
    await bot(b, '/listings/21');
    await waitForStored(b, 'ssr:/listings/21');
    expect((await bot(b, '/listings/21')).headers['server-timing']).toContain('HIT memory');
    // The bus subscribes when its connection is ready: give it that moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await invalidate(a, { tags: ['listing:21'] })).status).toBe(200);
    await waitFor(async () => (b.tiers.memory?.size === 0 ? true : undefined), 3000, 20);
    expect((await bot(b, '/listings/21')).headers['x-cache']).toBe('MISS');
  });

  it('opens the breaker when the cluster freezes, serves every page meanwhile, and closes after it thaws', async () => {
    const handle = await start({ REDIS_BREAKER_THRESHOLD: '3', REDIS_BREAKER_COOLDOWN_MS: '500' });
    await bot(handle, '/listings/40');
    await waitForStored(handle, 'ssr:/listings/40');
    // Eight requests in a row take about 3 x (the command timeout + a render) + 5 renders: far
    // less than the 3 s freeze. One that waited for the cluster would be answered after the thaw.
    const freeze = freezeFor(cluster, 3000);
    try {
      for (let i = 0; i < 8; i += 1) {
        const res = await bot(handle, '/listings/40');
        expect(res.status).toBe(200);
        expect(res.text).toContain('</html>');
        expect(freeze.thawed).toBe(false);
      }
      expect(handle.cache.breakerState().state).not.toBe('closed');
      expect((await request(handle.app).get('/health')).body).toMatchObject({ status: 'degraded', redis: { breaker: { opens: 1 } } });
    } finally {
      freeze.end();
    }
    await waitFor(async () => (handle.cache.breakerState().state === 'closed' ? true : undefined), 10_000, 50);
    await waitFor(async () => ((await bot(handle, '/listings/40')).headers['x-cache'] === 'HIT' ? true : undefined), 10_000, 100);
  });
});
