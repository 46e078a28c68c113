import { createServer, type Server, type Socket } from 'node:net';
import Redis, { type RedisOptions } from 'ioredis';
import { createTwentyClient, type TwentyClient, type TwentyClientOptions } from '../../server/listings/twenty-client';
import { freePort, inspectionClient, listKeys, realRedisUrl, uniquePrefix } from '../helpers/redis';

/** Every call Twenty received, when (real clock), from which instance. */
interface Received {
  instance: string;
  path: string;
  at: number;
}

function recordingFetch(received: Received[], instance: string, answer: () => Response = () => Response.json({ data: {} })): typeof fetch {
  return (async (input: string | URL | Request) => {
    received.push({ instance, path: String(input).replace(/^.*\/rest\//, ''), at: Date.now() });
    return answer();
  }) as typeof fetch;
}

function settleAll<T>(promises: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(promises);
}

const prefix = uniquePrefix('twenty-client');
const inspector = inspectionClient();
const connections: Redis[] = [];
const clients: TwentyClient[] = [];

/** A connection of its own, as another instance of the server would have. */
function connection(options: RedisOptions = {}, url = realRedisUrl()): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, disconnectTimeout: 100, ...options });
  redis.on('error', () => undefined);
  connections.push(redis);
  return redis;
}

async function ready(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const late = setTimeout(() => reject(new Error(`Redis not ready within 3 s (${redis.status})`)), 3000);
    redis.once('ready', () => {
      clearTimeout(late);
      resolve();
    });
  });
}

/** Redis' bound for the tests that pace through it: a busy test machine must not send them to the local bucket (the bound is tested on its own). */
const generous = (redis: Redis, key: string) => ({ redis, key, timeoutMs: 2000 });

function client(options: Partial<TwentyClientOptions> & Pick<TwentyClientOptions, 'fetch'>): TwentyClient {
  const created = createTwentyClient({ apiUrl: 'http://twenty.test', apiKey: 'k', timeoutMs: 8000, ...options });
  clients.push(created);
  return created;
}

afterAll(async () => {
  for (const created of clients) created.close();
  const keys = await listKeys(inspector, prefix);
  if (keys.length > 0) await inspector.del(...keys);
  expect(await listKeys(inspector, prefix)).toEqual([]);
  for (const redis of connections) redis.disconnect();
  inspector.disconnect();
});

describe('TwentyClient with its bucket in Redis (two instances)', () => {
  it('two instances sharing one bucket of 10 a minute get 10 calls at once between them, then one every 6 s, not 20', async () => {
    const received: Received[] = [];
    const key = `${prefix}bucket:pair`;
    const [redisA, redisB] = [connection(), connection()];
    await Promise.all([ready(redisA), ready(redisB)]);
    const rateLimit = { perMinute: 10, perSecond: 10 };
    const a = client({ rateLimit, shared: generous(redisA, key), fetch: recordingFetch(received, 'A') });
    const b = client({ rateLimit, shared: generous(redisB, key), fetch: recordingFetch(received, 'B') });

    const start = Date.now();
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).get(`listings/${i}`, 'page'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received).toHaveLength(10);
    expect(received.every((call) => call.at - start < 500)).toBe(true);

    const results = await settleAll(calls);
    const elapsed = Date.now() - start;
    // 10 at once, one more when the next token came (6 s later), to one of the two; every other call gave up as rate limited.
    expect(received).toHaveLength(11);
    const eleventh = (received[10] as Received).at - (received[0] as Received).at;
    expect(eleventh).toBeGreaterThanOrEqual(5900);
    expect(eleventh).toBeLessThan(6800);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(11);
    const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected').map((result) => result.reason);
    expect(rejected).toHaveLength(9);
    for (const reason of rejected) {
      expect(reason).toMatchObject({ name: 'ListingSourceError', failure: 'rate-limited' });
      expect(reason.retryAfterSeconds).toBeGreaterThanOrEqual(6);
    }
    expect(elapsed).toBeLessThan(8000);
    expect([a.stats().mode, b.stats().mode]).toEqual(['redis', 'redis']);
    expect(a.stats().redisFallbacks + b.stats().redisFallbacks).toBe(0);

    // The bucket is a hash that disappears when idle.
    const ttl = await inspector.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(180_000);
    expect(Object.keys(await inspector.hgetall(key)).sort()).toEqual(['m', 's']);
  }, 15_000);

  it("a 429 met by one instance empties the shared bucket: the other one's next call waits for the next token", async () => {
    const received: Received[] = [];
    const key = `${prefix}bucket:429`;
    const [redisA, redisB] = [connection(), connection()];
    await Promise.all([ready(redisA), ready(redisB)]);
    // 600 a minute: a token every 100 ms.
    const rateLimit = { perMinute: 600, perSecond: 600 };
    let answered429 = false;
    const twenty429 = () => {
      if (answered429) return Response.json({ data: {} });
      answered429 = true;
      return Response.json({ statusCode: 429, error: 'HttpException', messages: ['Limit reached (600 tokens per 60000 ms)'] }, { status: 429 });
    };
    const a = client({ rateLimit, shared: generous(redisA, key), fetch: recordingFetch(received, 'A', twenty429) });
    const b = client({ rateLimit, shared: generous(redisB, key), fetch: recordingFetch(received, 'B') });

    const retried = a.get('listings/a', 'page');
    while (!answered429) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const other = b.get('listings/b', 'page');
    await Promise.all([retried, other]);
    const first = (received[0] as Received).at;
    const after = received.slice(1).map((call) => ({ instance: call.instance, after: call.at - first }));
    expect(after).toHaveLength(2);
    // One token every 100 ms after the 429: the retry and B's call each waited for one, at about 100 and 200 ms.
    const times = after.map((call) => call.after).sort((x, y) => x - y);
    expect(times[0]).toBeGreaterThanOrEqual(90);
    expect(times[1]).toBeGreaterThanOrEqual(190);
    expect(times[1]).toBeLessThan(600);
    expect(a.stats().twenty429s).toBe(1);
    expect(b.stats().twenty429s).toBe(0);
  });

  it("the pages' reserve holds across instances: with 2 of 10 tokens left, the other instance's background call gets none (rate-limited, 6 s), its page call gets one at once", async () => {
    const received: Received[] = [];
    const key = `${prefix}bucket:reserve`;
    const [redisA, redisB] = [connection(), connection()];
    await Promise.all([ready(redisA), ready(redisB)]);
    const rateLimit = { perMinute: 10, perSecond: 10 }; // reserve: 20% of 10 = 2
    const a = client({ rateLimit, shared: generous(redisA, key), fetch: recordingFetch(received, 'A') });
    const b = client({ rateLimit, backgroundWaitMs: 2000, shared: generous(redisB, key), fetch: recordingFetch(received, 'B') });
    await Promise.all(Array.from({ length: 8 }, (_, i) => a.get(`listings/${i}`, 'page')));
    // B has not seen the bucket yet: Redis tells it there are 2 left, the reserve, and the next token is 6 s away.
    await expect(b.get('sitemap', 'background')).rejects.toMatchObject({ failure: 'rate-limited', retryAfterSeconds: 6 });
    expect((await b.get('listings/page', 'page')).status).toBe(200);
    expect(received.map((call) => call.instance + ':' + call.path).slice(8)).toEqual(['B:listings/page']);
    expect(b.stats()).toMatchObject({ mode: 'redis', rateLimited: { background: 1, page: 0 }, limits: { backgroundReserve: 2 } });
    expect(b.stats().tokens.perMinute).toBeGreaterThanOrEqual(1);
    expect(b.stats().tokens.perMinute).toBeLessThan(1.2);
  });
});

describe('TwentyClient when Redis does not answer: its own bucket', () => {
  // 5 a second: 5 calls at once, then one every 200 ms.
  // A token every 200 ms (the per-second bucket; the minute's every 100 ms).
  const rateLimit = { perMinute: 600, perSecond: 5 };

  it('with Redis refusing connections (a closed port) it still paces, locally, and says so once', async () => {
    const port = await freePort();
    const redis = connection({ lazyConnect: true, retryStrategy: () => null }, `redis://127.0.0.1:${port}`);
    const warnings: string[] = [];
    const received: Received[] = [];
    const local = client({
      rateLimit,
      shared: { redis, key: `${prefix}bucket:down` },
      logger: { warn: (_fields, msg) => warnings.push(msg) },
      fetch: recordingFetch(received, 'A'),
    });
    const start = Date.now();
    await Promise.all(Array.from({ length: 8 }, (_, i) => local.get(`listings/${i}`, 'page')));
    const times = received.map((call) => call.at - start);
    // Redis never answered: the other instances may be spending the shared bucket, so this one's own
    // starts empty and gives a token every 200 ms (never a full bucket on top of theirs).
    for (const [k, at] of times.entries()) expect(at).toBeGreaterThanOrEqual((k + 1) * 200 - 15);
    expect(times[7]).toBeLessThan(2500);
    expect(local.stats()).toMatchObject({ mode: 'local (redis unavailable)', waits: { page: 8 } });
    expect(local.stats().redisFallbacks).toBeGreaterThanOrEqual(8);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/Redis does not answer/);
  });

  it('with a Redis that accepts but never answers, each Redis call is bounded (100 ms) and then skipped for a second', async () => {
    const sockets: Socket[] = [];
    let heard = '';
    const silent: Server = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', (chunk) => (heard += chunk.toString('latin1')));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      // No ready check, no CLIENT SETINFO: the connection is 'ready' once connected, and commands get no answer.
      const redis = connection({ enableReadyCheck: false, disableClientInfo: true, retryStrategy: () => null }, `redis://127.0.0.1:${port}`);
      await ready(redis);
      const received: Received[] = [];
      const local = client({ rateLimit, shared: { redis, key: `${prefix}bucket:silent` }, fetch: recordingFetch(received, 'A') });
      const start = Date.now();
      await Promise.all(Array.from({ length: 8 }, (_, i) => local.get(`listings/${i}`, 'page')));
      const times = received.map((call) => call.at - start);
      // The first call waited for Redis' bound, then all were paced locally from an empty bucket: a
      // second without Redis calls (no 100 ms wait each), a token every 200 ms.
      expect(times[0]).toBeGreaterThanOrEqual(95);
      expect((times[7] as number) - (times[0] as number)).toBeGreaterThanOrEqual(7 * 200 - 250);
      expect(times[7]).toBeLessThan(2500);
      expect(local.stats().mode).toBe('local (redis unavailable)');
      // Redis was asked once, then left alone for a second (asked again at most once more in the ~1.6 s), not once a call.
      const asked = (heard.match(/evalsha|\r\neval\r\n/gi) ?? []).length;
      expect(asked).toBeGreaterThanOrEqual(1);
      expect(asked).toBeLessThanOrEqual(2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('goes back to the shared bucket when Redis answers again', async () => {
    const key = `${prefix}bucket:back`;
    const redis = connection({ lazyConnect: true });
    const warnings: string[] = [];
    const received: Received[] = [];
    const local = client({
      rateLimit,
      shared: generous(redis, key),
      logger: { warn: (_fields, msg) => warnings.push(msg) },
      fetch: recordingFetch(received, 'A'),
    });
    // Not connected yet, and no offline queue: the first ask fails (and starts the connection); the
    // call waits for a token of its own empty bucket, by when Redis answers.
    await local.get('listings/1', 'page');
    expect(local.stats().redisFallbacks).toBeGreaterThanOrEqual(1);
    await ready(redis);
    await local.get('listings/2', 'page');
    expect(local.stats().mode).toBe('redis');
    expect(await inspector.exists(key)).toBe(1);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/Redis answers again/);
  });
});
