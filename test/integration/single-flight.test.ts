import type { TestAppHandle as AppHandle } from '../helpers/app';
import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import type { ListingSource } from '../../server/listings/listing';
import { GOOGLEBOT, redisReady, testApp } from '../helpers/app';
import { listen, rawRequest, type RawResponse } from '../helpers/raw-http';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';

/** The embedded catalog, counting detail renders per id, each taking `delayMs`; `hang` ids never answer. */
function countingSource(delayMs: number, hang = new Set<string>()) {
  const base = createEmbeddedCatalog(200);
  const renders = new Map<string, number>();
  const source: ListingSource = {
    ...base,
    async getListing(id) {
      renders.set(id, (renders.get(id) ?? 0) + 1);
      if (hang.has(id)) {
        hang.delete(id);
        return new Promise(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return base.getListing(id);
    },
  };
  return { source, renders };
}

const botHeaders = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'identity' };

describe('one render per page', () => {
  const prefix = uniquePrefix('flight');
  const handles: AppHandle[] = [];
  const servers: { close(): Promise<void> }[] = [];

  async function start(env: Record<string, string>, source: ListingSource): Promise<string> {
    const handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix, ...env }, { listings: source });
    handles.push(handle);
    await redisReady(handle);
    const server = await listen(handle.handler);
    servers.push(server);
    return server.url;
  }

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(handles.splice(0).map((handle) => handle.close()));
    const redis = inspectionClient();
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  it('renders a cold page once for 200 concurrent requests, and gives all 200 the same page', async () => {
    const { source, renders } = countingSource(50);
    const url = await start({}, source);
    const responses = await Promise.all(Array.from({ length: 200 }, () => rawRequest(`${url}/listings/77`, botHeaders)));
    expect(renders.get('77')).toBe(1);
    expect(responses.every((res) => res.status === 200)).toBe(true);
    expect(new Set(responses.map((res) => res.body.toString())).size).toBe(1);
    expect(responses.filter((res) => res.headers['x-cache'] === 'MISS')).toHaveLength(1);
    const followers = responses.filter((res) => res.headers['x-cache'] === 'HIT');
    expect(followers).toHaveLength(199);
    expect(followers.filter((res) => res.headers['x-cache-coalesced'] === '1').length).toBeGreaterThan(0);
  });

  it('renders a cold page once across two instances sharing one Redis', async () => {
    const { source, renders } = countingSource(150);
    const first = await start({}, source);
    const second = await start({}, source);
    const responses = await Promise.all(Array.from({ length: 100 }, (_, index) => rawRequest(`${index % 2 === 0 ? first : second}/listings/78`, botHeaders)));
    expect(renders.get('78')).toBe(1);
    expect(responses.every((res) => res.status === 200)).toBe(true);
    expect(new Set(responses.map((res) => res.body.toString())).size).toBe(1);
    const health = await Promise.all(handles.map((handle) => handle.stats));
    expect(health.reduce((sum, stats) => sum + stats.renders, 0)).toBe(1);
  });

  it('lets followers render themselves when the leader never finishes, after the wait bound', async () => {
    const waitMs = 300;
    const { source, renders } = countingSource(20, new Set(['79']));
    const url = await start({ SSR_CACHE_LOCK_WAIT_MS: String(waitMs) }, source);
    const leader = rawRequest(`${url}/listings/79`, botHeaders).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const started = Date.now();
    const followers: RawResponse[] = await Promise.all(Array.from({ length: 5 }, () => rawRequest(`${url}/listings/79`, botHeaders)));
    const elapsed = Date.now() - started;
    expect(followers.every((res) => res.status === 200)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(waitMs - 20);
    // The wait bound plus one render (20 ms here), with room for a busy machine.
    expect(elapsed).toBeLessThan(waitMs + 1000);
    expect(renders.get('79')).toBeGreaterThan(1);
    expect(handles[0]!.stats.lockWaitTimeouts).toBeGreaterThanOrEqual(1);
    void leader;
  });
});
