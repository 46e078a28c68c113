import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createTwentyClient,
  emptyUntil,
  takeToken,
  tokenBucketWaitMs,
  tokensAt,
  type TokenBucketState,
  type TwentyClient,
  type TwentyClientOptions,
} from '../../server/listings/twenty-client';
import { ListingSourceError } from '../../server/listings/listing';
import { freePort } from '../helpers/redis';

const TWENTY_429 = { statusCode: 429, error: 'HttpException', messages: ['Limit reached (100 tokens per 60000 ms)'] };

interface Call {
  url: string;
  at: number;
  headers: Record<string, string>;
}

/**
 * Twenty's REST API as far as its rate limit goes: two token buckets per workspace (per second and
 * per minute), refilled continuously, counted with the fake clock (Date.now), each call over them a
 * bare 429. `next` answers the next calls as given instead (after taking their tokens, as Twenty does).
 */
function fakeTwenty(limits = { perSecond: 100, perMinute: 100 }) {
  const buckets = [
    { capacity: limits.perSecond, windowMs: 1000, tokens: limits.perSecond, at: Date.now() },
    { capacity: limits.perMinute, windowMs: 60_000, tokens: limits.perMinute, at: Date.now() },
  ];
  const calls: Call[] = [];
  const next: (() => Response)[] = [];
  let answered429 = 0;
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const at = Date.now();
    calls.push({ url: String(input), at, headers: Object.fromEntries(new Headers(init?.headers).entries()) });
    for (const bucket of buckets) {
      bucket.tokens = Math.min(bucket.capacity, bucket.tokens + ((at - bucket.at) * bucket.capacity) / bucket.windowMs);
      bucket.at = at;
    }
    if (buckets.some((bucket) => bucket.tokens < 1 - 1e-9)) {
      answered429 += 1;
      return Response.json(TWENTY_429, { status: 429 });
    }
    for (const bucket of buckets) bucket.tokens -= 1;
    const scripted = next.shift();
    if (scripted) {
      const response = scripted();
      if (response.status === 429) answered429 += 1;
      return response;
    }
    return Response.json({ data: { listing: { id: 'x' } } });
  };
  return {
    fetch: fetchFn as typeof fetch,
    calls,
    next,
    /** Another integration (or instance) takes `count` tokens of the workspace. */
    useTokens(count: number) {
      for (const bucket of buckets) bucket.tokens -= count;
    },
    get answered429() {
      return answered429;
    },
  };
}

type Twenty = ReturnType<typeof fakeTwenty>;

function clientFor(twenty: Twenty, options: Partial<TwentyClientOptions> = {}): TwentyClient {
  return createTwentyClient({ apiUrl: 'http://twenty.test', apiKey: 'key-1', timeoutMs: 60_000, fetch: twenty.fetch, ...options });
}

/** Settles a call's promise into a value the test can look at later (no unhandled rejection meanwhile). */
function settle<T>(promise: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const result: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(result, { value, done: true }),
    (error: unknown) => Object.assign(result, { error, done: true }),
  );
  return result;
}

async function drain(client: TwentyClient, count: number, priority: 'page' | 'background' = 'page'): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => client.get(`drain/${i}`, priority)));
}

describe('the token bucket (pure functions)', () => {
  const limits = { perMinute: 100, perSecond: 100 };
  const full: TokenBucketState = { perSecond: 0, perMinute: 0 };

  it('gives 100 tokens at once, then one every 600 ms (the per-minute bucket binds at the defaults)', () => {
    let state = full;
    for (let i = 0; i < 100; i += 1) {
      expect(tokenBucketWaitMs(state, 1000, limits)).toBe(0);
      state = takeToken(state, 1000, limits);
    }
    expect(tokensAt(state, 1000, limits).perMinute).toBeCloseTo(0);
    expect(tokenBucketWaitMs(state, 1000, limits)).toBe(600);
    expect(tokenBucketWaitMs(state, 1400, limits)).toBe(200);
    expect(tokenBucketWaitMs(state, 1600, limits)).toBe(0);
    expect(tokenBucketWaitMs(state, 1000, limits, 0, 3)).toBe(1800);
  });

  it('a background call leaves the reserve: with 20 tokens left and a reserve of 20 it waits one interval', () => {
    let state = full;
    for (let i = 0; i < 80; i += 1) state = takeToken(state, 0, limits);
    expect(tokensAt(state, 0, limits).perMinute).toBeCloseTo(20);
    expect(tokenBucketWaitMs(state, 0, limits)).toBe(0);
    expect(tokenBucketWaitMs(state, 0, limits, 20)).toBe(600);
    expect(tokenBucketWaitMs(state, 0, limits, 19)).toBe(0);
  });

  it('the per-second bucket binds when it is the smaller: 5 a second is a token every 200 ms', () => {
    const small = { perMinute: 60, perSecond: 5 };
    let state = full;
    for (let i = 0; i < 5; i += 1) state = takeToken(state, 0, small);
    expect(tokenBucketWaitMs(state, 0, small)).toBe(200);
  });

  it('emptyUntil leaves no token before the given moment, one at it', () => {
    const state = emptyUntil(full, 600, limits);
    expect(tokenBucketWaitMs(state, 0, limits)).toBe(600);
    expect(tokensAt(state, 600, limits).perMinute).toBeCloseTo(1);
    expect(tokensAt(state, 0, limits).perSecond).toBe(0);
  });
});

describe('TwentyClient pacing (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('150 page calls at the defaults: the first 100 at once, the rest 600 ms apart, and no 429 from a Twenty with the same buckets', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty);
    const start = Date.now();
    const calls = Array.from({ length: 150 }, (_, i) => settle(client.get(`listings/${i}`, 'page')));
    await jest.advanceTimersByTimeAsync(0);
    expect(twenty.calls).toHaveLength(100);
    expect(twenty.calls.every((call) => call.at === start)).toBe(true);
    await jest.advanceTimersByTimeAsync(50 * 600);
    expect(calls.every((call) => call.done && call.value?.status === 200)).toBe(true);
    const later = twenty.calls.slice(100).map((call) => call.at - start);
    expect(later).toEqual(Array.from({ length: 50 }, (_, i) => (i + 1) * 600));
    // FIFO: the calls went out in the order they were asked for.
    expect(twenty.calls.map((call) => call.url)).toEqual(Array.from({ length: 150 }, (_, i) => `http://twenty.test/rest/listings/${i}`));
    expect(twenty.answered429).toBe(0);
    const stats = client.stats();
    expect(stats).toMatchObject({ mode: 'local', calls: { page: 150, background: 0 }, waits: { page: 50, background: 0 }, twenty429s: 0 });
    expect(stats.limits).toEqual({ perMinute: 100, perSecond: 100, backgroundReserve: 20 });
    client.close();
  });

  it('sends the bearer key and Accept json to /rest/<path>, and resolves with any status but 429', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty);
    twenty.next.push(() => Response.json({ messages: ['Record not found'] }, { status: 404 }));
    twenty.next.push(() => new Response('boom', { status: 500 }));
    expect((await client.get('listings/1', 'page')).status).toBe(404);
    expect((await client.get('listings?limit=5', 'background')).status).toBe(500);
    expect(twenty.calls[0]).toMatchObject({
      url: 'http://twenty.test/rest/listings/1',
      headers: { authorization: 'Bearer key-1', accept: 'application/json' },
    });
    expect(twenty.calls[1]?.url).toBe('http://twenty.test/rest/listings?limit=5');
    client.close();
  });

  it("a 429 without Retry-After (Twenty's) empties the bucket: the call is retried 600 ms later and succeeds, the next call after it", async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { timeoutMs: 2000 });
    const start = Date.now();
    twenty.next.push(() => Response.json(TWENTY_429, { status: 429 }));
    const first = settle(client.get('listings/1', 'page'));
    await jest.advanceTimersByTimeAsync(0);
    expect(twenty.calls).toHaveLength(1);
    const second = settle(client.get('listings/2', 'page'));
    await jest.advanceTimersByTimeAsync(599);
    expect(twenty.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(first.value?.status).toBe(200);
    expect(twenty.calls.map((call) => [call.url.split('/').pop(), call.at - start])).toEqual([
      ['1', 0],
      ['1', 600],
    ]);
    await jest.advanceTimersByTimeAsync(600);
    expect(second.value?.status).toBe(200);
    expect(twenty.calls[2]?.at).toBe(start + 1200);
    expect(client.stats().twenty429s).toBe(1);
    client.close();
  });

  it("a 429 with a proxy's Retry-After waits that long when within the bound, and fails at once (rate-limited, its seconds) when not", async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { timeoutMs: 5000 });
    const start = Date.now();
    twenty.next.push(() => new Response('slow down', { status: 429, headers: { 'Retry-After': '2' } }));
    const call = settle(client.get('listings/1', 'page'));
    await jest.advanceTimersByTimeAsync(1999);
    expect(twenty.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(call.value?.status).toBe(200);
    expect(twenty.calls[1]?.at).toBe(start + 2000);

    twenty.next.push(() => new Response('slow down', { status: 429, headers: { 'Retry-After': '30' } }));
    const tooLong = settle(client.get('listings/2', 'page'));
    // The bucket was emptied until the Retry-After and refills from there: the next token 600 ms later.
    await jest.advanceTimersByTimeAsync(599);
    expect(twenty.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(twenty.calls).toHaveLength(3);
    expect(tooLong.error).toBeInstanceOf(ListingSourceError);
    expect(tooLong.error).toMatchObject({ failure: 'rate-limited', retryAfterSeconds: 30 });
    expect(client.stats()).toMatchObject({ twenty429s: 2, rateLimited: { page: 1 } });
    client.close();
  });

  it('calls in flight when another integration emptied the workspace meet one 429 at most, then are paced: no second 429', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { timeoutMs: 5000 });
    const start = Date.now();
    twenty.useTokens(100);
    const calls = Array.from({ length: 5 }, (_, i) => settle(client.get(`listings/${i}`, 'page')));
    await jest.advanceTimersByTimeAsync(0);
    // Those sent before the first 429 came back meet one each; the bucket is empty from then on.
    const first = twenty.answered429;
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThanOrEqual(5);
    await jest.advanceTimersByTimeAsync(5 * 600);
    expect(calls.every((call) => call.value?.status === 200)).toBe(true);
    const succeeded = twenty.calls.filter((call) => call.at > start).map((call) => [call.url.split('/').pop(), call.at - start]);
    expect(succeeded).toEqual([
      ['0', 600],
      ['1', 1200],
      ['2', 1800],
      ['3', 2400],
      ['4', 3000],
    ]);
    expect(twenty.answered429).toBe(first);
    expect(client.stats().twenty429s).toBe(first);
    client.close();
  });

  it('a page call that would wait longer than timeoutMs fails at once with rate-limited and the seconds until its token', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { timeoutMs: 1000 });
    await drain(client, 100);
    const canWait = settle(client.get('listings/101', 'page')); // its token in 600 ms
    const cannot = settle(client.get('listings/102', 'page')); // its token in 1200 ms
    await jest.advanceTimersByTimeAsync(0);
    expect(canWait.done).toBe(false);
    expect(cannot.error).toBeInstanceOf(ListingSourceError);
    expect(cannot.error).toMatchObject({ failure: 'rate-limited', retryAfterSeconds: 2 });
    await jest.advanceTimersByTimeAsync(600);
    expect(canWait.value?.status).toBe(200);
    expect(twenty.calls).toHaveLength(101);
    expect(client.stats()).toMatchObject({ rateLimited: { page: 1 }, waits: { page: 1 }, waitedMs: { page: 600 } });
    client.close();
  });

  it('background calls leave the reserve to pages: with the bucket at its reserve a page call gets a token at once, a background one waits', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty);
    await drain(client, 80); // 20 tokens left: the default reserve (20% of 100)
    expect(client.stats().tokens.perMinute).toBe(20);
    const background = settle(client.get('sitemap', 'background'));
    await jest.advanceTimersByTimeAsync(0);
    expect(twenty.calls).toHaveLength(80);
    const page = settle(client.get('listings/1', 'page'));
    await jest.advanceTimersByTimeAsync(0);
    expect(page.value?.status).toBe(200);
    expect(twenty.calls.at(-1)?.url).toMatch(/listings\/1$/);
    // 19 left: the background call waits for 21, two intervals.
    await jest.advanceTimersByTimeAsync(1199);
    expect(background.done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(background.value?.status).toBe(200);
    expect(client.stats()).toMatchObject({ waits: { page: 0, background: 1 }, waitedMs: { background: 1200 } });
    client.close();
  });

  it('waiting page calls go before waiting background calls, FIFO within each', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { backgroundReserve: 0 });
    await drain(client, 100);
    const start = Date.now();
    const order = ['bg1', 'bg2', 'page1', 'page2', 'bg3', 'page3'];
    const calls = order.map((name) => settle(client.get(name, name.startsWith('bg') ? 'background' : 'page')));
    expect(client.stats().waiting).toEqual({ page: 3, background: 3 });
    await jest.advanceTimersByTimeAsync(6 * 600);
    expect(calls.every((call) => call.value?.status === 200)).toBe(true);
    expect(twenty.calls.slice(100).map((call) => [call.url.split('/').pop(), call.at - start])).toEqual([
      ['page1', 600],
      ['page2', 1200],
      ['page3', 1800],
      ['bg1', 2400],
      ['bg2', 3000],
      ['bg3', 3600],
    ]);
    client.close();
  });

  it('a background call waits up to backgroundWaitMs, and gives up when pages keep taking the tokens', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { backgroundReserve: 0, backgroundWaitMs: 1000 });
    await drain(client, 100);
    const waits = settle(client.get('bg1', 'background')); // 600 ms: within its bound
    const tooLong = settle(client.get('bg2', 'background')); // 1200 ms: fails at once
    await jest.advanceTimersByTimeAsync(0);
    expect(tooLong.error).toMatchObject({ failure: 'rate-limited', retryAfterSeconds: 2 });
    expect(waits.done).toBe(false);
    // Two pages come first: bg1's token moves to 1800 ms, past its bound. It is told when that is known, at 600 ms.
    const pages = [settle(client.get('page1', 'page')), settle(client.get('page2', 'page'))];
    await jest.advanceTimersByTimeAsync(600);
    expect(pages[0]?.value?.status).toBe(200);
    expect(waits.error).toMatchObject({ failure: 'rate-limited' });
    await jest.advanceTimersByTimeAsync(600);
    expect(pages[1]?.value?.status).toBe(200);
    expect(client.stats().rateLimited).toEqual({ page: 0, background: 2 });
    client.close();
  });

  it('close() fails the waiting calls (unavailable), and later ones, and leaves no timer', async () => {
    const twenty = fakeTwenty();
    const client = clientFor(twenty);
    await drain(client, 100);
    const waiting = [settle(client.get('a', 'page')), settle(client.get('b', 'background'))];
    await jest.advanceTimersByTimeAsync(0);
    expect(jest.getTimerCount()).toBe(1);
    client.close();
    await jest.advanceTimersByTimeAsync(0);
    for (const call of waiting) expect(call.error).toMatchObject({ failure: 'unavailable' });
    await expect(client.get('c', 'page')).rejects.toMatchObject({ failure: 'unavailable' });
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('TwentyClient with a slow shared bucket (a stand-in Redis, fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** Answers the bucket script after `delayMs` with Twenty's bucket untouched (a token granted, buckets nearly full). */
  function slowRedis(delayMs: () => number) {
    const calls: number[] = [];
    const redis = {
      status: 'ready',
      defineCommand(name: string) {
        (redis as unknown as Record<string, unknown>)[name] = () => {
          calls.push(Date.now());
          return new Promise((resolve) => setTimeout(() => resolve([0, 10, 600]), delayMs()));
        };
      },
    };
    return { redis: redis as unknown as import('ioredis').Redis, calls };
  }

  it('a Redis slower than its bound: the call is paced by a local bucket empty since Redis stopped answering (never tokens others may have spent), and Redis is asked again', async () => {
    let delay = 1;
    const { redis, calls } = slowRedis(() => delay);
    const warnings: string[] = [];
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { shared: { redis, key: 'bucket' }, logger: { warn: (_fields, msg) => warnings.push(msg) } });
    const warm = settle(client.get('listings/0', 'page'));
    await jest.advanceTimersByTimeAsync(1);
    expect(warm.value?.status).toBe(200);
    delay = 150;
    const first = settle(client.get('listings/1', 'page'));
    await jest.advanceTimersByTimeAsync(100);
    expect(client.stats().mode).toBe('local (redis unavailable)');
    // Not at once: the local bucket is empty from the moment Redis stopped answering (a token every 600 ms).
    expect(first.value).toBeUndefined();
    expect(calls).toHaveLength(2);
    delay = 1;
    await jest.advanceTimersByTimeAsync(700);
    expect(first.value?.status).toBe(200);
    // Its late answer ended the quiet spell: the next take asked Redis, which answered.
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(client.stats().mode).toBe('redis');
    expect(warnings).toEqual([expect.stringMatching(/Redis does not answer/), expect.stringMatching(/Redis answers again/)]);
    client.close();
  });

  it('a client Redis never answered (an instance starting while Redis is slow) paces from an empty bucket of its own, never a full one on top of what the other instances spend', async () => {
    const { redis } = slowRedis(() => 10_000);
    const twenty = fakeTwenty();
    const client = clientFor(twenty, { shared: { redis, key: 'bucket' } });
    const first = settle(client.get('listings/1', 'page'));
    await jest.advanceTimersByTimeAsync(300);
    expect(first.value).toBeUndefined();
    // The bucket is empty at creation: the first token comes 600 ms later (100 a minute).
    await jest.advanceTimersByTimeAsync(400);
    expect(first.value?.status).toBe(200);
    client.close();
  });
});

describe('TwentyClient network failures (real timers, a local server)', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Never answers: the call times out.
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a call Twenty does not answer within timeoutMs fails with timeout', async () => {
    const client = createTwentyClient({ apiUrl: url, apiKey: 'k', timeoutMs: 200 });
    const started = Date.now();
    await expect(client.get('listings/1', 'page')).rejects.toMatchObject({ name: 'ListingSourceError', failure: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    client.close();
  });

  it('a call that cannot connect fails with unavailable', async () => {
    const client = createTwentyClient({ apiUrl: `http://127.0.0.1:${await freePort()}`, apiKey: 'k', timeoutMs: 2000 });
    await expect(client.get('listings/1', 'page')).rejects.toMatchObject({ name: 'ListingSourceError', failure: 'unavailable' });
    client.close();
  });
});
