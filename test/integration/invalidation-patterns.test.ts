import request from 'supertest';
import { GOOGLEBOT, TEST_TOKEN, redisReady, testApp, waitForStored, type TestAppHandle } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import type { Redis } from '../../server/utils/redis-client';

const ENDPOINT = '/api/cache/invalidate';

describe('invalidation patterns that cannot hurt', () => {
  // One app for the suite, and no clean-up between tests (that would also remove the invalidation
  // record and make the app drop its pages): each test caches a listing page of its own.
  const prefix = uniquePrefix('invalidation-patterns');
  let handle: TestAppHandle;
  let redis: Redis;
  beforeAll(async () => {
    redis = inspectionClient();
    handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix });
    await redisReady(handle);
  });
  afterAll(async () => {
    await handle.close();
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  const invalidate = (body: unknown) =>
    request(handle.app).post(ENDPOINT).set('Authorization', `Bearer ${TEST_TOKEN}`).set('Content-Type', 'application/json').send(JSON.stringify(body));

  /** Renders `/listings/{id}` as a bot so it is stored; returns its key. */
  async function cachePage(id: number): Promise<string> {
    await request(handle.app).get(`/listings/${id}`).set('User-Agent', GOOGLEBOT).expect(200);
    const key = `ssr:/listings/${id}`;
    await waitForStored(handle, key);
    return key;
  }

  /** The page is still in Redis and in this instance's memory, and served from memory. */
  async function expectUntouched(key: string): Promise<void> {
    expect(await redis.exists(prefix + key)).toBe(1);
    expect(handle.tiers.memory?.get(key)).toBeDefined();
    const again = await request(handle.app).get(key.slice('ssr:'.length)).set('User-Agent', GOOGLEBOT);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.headers['server-timing']).toContain('HIT memory');
  }

  it('answers 400 naming a reversed range, and deletes nothing in Redis or in memory', async () => {
    const key = await cachePage(1);
    const res = await invalidate({ patterns: ['/listings/[9-1]*'] });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.error).toBe('patterns.0: range "9-1" in "[9-1]" is reversed (write [1-9])');
    await expectUntouched(key);
  });

  it('refuses the whole request when one of its patterns is invalid, valid ones included', async () => {
    const key = await cachePage(2);
    const res = await invalidate({ patterns: ['/listings/*', '/listings/[a-Z]*'], keys: [key] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('patterns.1: range "a-Z" in "[a-Z]" is reversed (write [a-zA-Z])');
    await expectUntouched(key);
  });

  it.each([
    ['an unclosed class', '/listings/[12', /patterns\.0: "\[" at offset 10 is never closed/],
    ['a trailing lone backslash', '/listings/\\', /patterns\.0: ends in a lone "\\"/],
    ['an empty class', '/listings/[]*', /patterns\.0: "\[\]" at offset 10 is an empty class/],
    ['17 wildcards', `/${'*3'.repeat(17)}`, /patterns\.0: has 17 "\*" wildcards; at most 16 are allowed/],
  ])('answers 400 for %s, and deletes nothing', async (_name, pattern, message) => {
    const key = await cachePage(3);
    const res = await invalidate({ patterns: [pattern] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
    await expectUntouched(key);
  });

  it('refuses an invalid pattern given to cache.invalidate() with a TypeError, before changing anything', async () => {
    const key = await cachePage(4);
    await expect(handle.pageCache.invalidate({ patterns: ['/listings/[9-1]*'] })).rejects.toThrow(
      new TypeError('invalidate: patterns.0: range "9-1" in "[9-1]" is reversed (write [1-9])'),
    );
    await expectUntouched(key);
  });

  it('takes at most 100 patterns in one request', async () => {
    const key = await cachePage(5);
    const patterns = (count: number) => Array.from({ length: count }, (_, index) => `/nothing/${index}/*`);
    const tooMany = await invalidate({ patterns: [...patterns(100), '/listings/*'] });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toBe('patterns: must hold at most 100 items');
    await expectUntouched(key);
    const hundred = await invalidate({ patterns: patterns(100) });
    expect(hundred.status).toBe(200);
    expect(hundred.body.deleted).toBe(0);
    await expectUntouched(key);
  });

  it('matches a pattern with 16 wildcards as Redis does, in Redis and in memory', async () => {
    const key = await cachePage(7);
    const missing = await invalidate({ patterns: [`/${'*i'.repeat(15)}*7`] });
    expect(missing.status).toBe(200);
    expect(missing.body.deleted).toBe(0);
    await expectUntouched(key);
    // `/*l*i*s*t*i*n*g*s*/*7******`: only this test's page has a 7.
    const matching = await invalidate({ patterns: [`/${[...'listings/7'].map((char) => `*${char}`).join('')}${'*'.repeat(6)}`] });
    expect(matching.status).toBe(200);
    expect(matching.body.deleted).toBe(1);
    expect(handle.tiers.memory?.get(key)).toBeUndefined();
    expect(await redis.exists(prefix + key)).toBe(0);
  });
});
