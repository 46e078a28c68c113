import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { TestAppHandle } from '../helpers/app';
import { redisReady, testApp } from '../helpers/app';
import { inspectionClient, startPrivateRedis, type PrivateRedis } from '../helpers/redis';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';
import type { Redis } from '../../server/utils/redis-client';

const ENDPOINT = '/api/cache/invalidate';
const PREFIX = 'eviction:';

/** Writes keys with a TTL (what Redis may evict under volatile-lru) until it has evicted `count` keys. */
async function fillUntilEvicted(redis: Redis, count: number): Promise<number> {
  const junk = randomBytes(8 * 1024);
  const evicted = async () => Number(/evicted_keys:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0);
  for (let batch = 0; (await evicted()) < count; batch += 1) {
    if (batch > 200) throw new Error('Redis did not evict: is maxmemory set?');
    const pipeline = redis.pipeline();
    for (let i = 0; i < 100; i += 1) pipeline.set(`junk:${batch}:${i}`, junk, 'PX', 600_000);
    await pipeline.exec();
  }
  return evicted();
}

describe('Twenty webhook replays while Redis evicts keys (private redis-server, maxmemory 2mb, volatile-lru)', () => {
  let redisServer: PrivateRedis;
  let redis: Redis;
  const apps: TestAppHandle[] = [];
  /** Another instance of the fleet: its in-process memory has not seen the delivery, only Redis has. */
  const instance = async () => {
    const handle = testApp({ REDIS_URL: redisServer.url, REDIS_KEY_PREFIX: PREFIX, TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET });
    apps.push(handle);
    await redisReady(handle);
    return handle;
  };

  beforeAll(async () => {
    redisServer = await startPrivateRedis(['--maxmemory', '2mb', '--maxmemory-policy', 'volatile-lru']);
    redis = inspectionClient(redisServer.url);
  });
  afterAll(async () => {
    for (const handle of apps) await handle.close();
    redis.disconnect();
    await redisServer.stop();
  });

  it('refuses a replay on another instance after Redis evicted thousands of keys', async () => {
    const [first, second] = [await instance(), await instance()];
    const body = twentyEvent('updated', '9', { updatedFields: ['description'] });
    const headers = twentyHeaders(body);
    expect((await request(first.app).post(ENDPOINT).set(headers).send(body)).status).toBe(200);

    expect(await fillUntilEvicted(redis, 2000)).toBeGreaterThanOrEqual(2000);

    const replay = await request(second.app)
      .post(ENDPOINT)
      .set({ ...headers, 'X-Twenty-Webhook-Nonce': 'another-nonce-0123456789' })
      .send(body);
    expect([replay.status, replay.body.error]).toEqual([401, 'this delivery (its signature) was already received: a replayed request']);
    // One set without a TTL, which volatile-* policies never evict, remembers the delivery until it may be forgotten.
    expect(await redis.pttl(`${PREFIX}ssr-webhook-deliveries`)).toBe(-1);
    const expiresAt = Number(await redis.zscore(`${PREFIX}ssr-webhook-deliveries`, headers['X-Twenty-Webhook-Signature']!));
    expect(expiresAt).toBeGreaterThan(Date.now() + 590_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  }, 20_000);
});
