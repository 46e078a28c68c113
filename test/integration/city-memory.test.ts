import Redis from 'ioredis';
import { createCityMemory } from '../../server/listings/city-memory';
import type { Listing } from '../../server/listings/listing';
import { realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';

const listing = (id: string, city: string) => ({ id, city }) as Listing;

/** The cities a webhook learns a listing was shown under, on a real Redis shared by two instances. */
describe('the city memory (where listings were shown, for telling a move)', () => {
  const prefix = uniquePrefix('cities');
  const key = `${prefix}twenty-cities`;
  let redis: Redis;
  let other: Redis;
  const memory = (client: Redis, longestPageMs = 3_600_000) => createCityMemory({ redis: client, key, longestPageMs });
  const settled = () => new Promise((resolve) => setTimeout(resolve, 50));

  beforeAll(async () => {
    redis = new Redis(realRedisUrl());
    other = new Redis(realRedisUrl());
    await Promise.all([redis.ping(), other.ping()]);
  });
  afterEach(async () => {
    await removeKeys(redis, prefix);
  });
  afterAll(async () => {
    redis.disconnect();
    other.disconnect();
  });

  it('does not trust what reads alone recorded in a young memory (an older page may show another city): unknown', async () => {
    const a = memory(redis);
    a.saw([listing('L1', 'Porto')]);
    await settled();
    expect(await a.recall('L1')).toBeUndefined();
  });

  it('knows every city after a webhook reset it, on every instance, and adds the cities reads bring', async () => {
    const [a, b] = [memory(redis), memory(other)];
    await a.reset('L1', 'Porto');
    b.saw([listing('L1', 'Porto'), listing('L1', 'Braga')]);
    await settled();
    expect((await a.recall('L1'))?.sort()).toEqual(['Braga', 'Porto']);
    // Deleted: nothing known any more.
    await b.reset('L1', undefined);
    expect(await a.recall('L1')).toBeUndefined();
  });

  it('trusts reads once the memory is older than any stored page, and not after the hash was lost', async () => {
    const a = memory(redis, 1000);
    a.saw([listing('L2', 'Faro')]);
    await settled();
    // Older than the longest page (1 s) and the 10 minutes an instance trusts its own writes.
    await redis.hset(key, '~since', Date.now() - 1000 - 10 * 60_000 - 5000);
    expect(await a.recall('L2')).toEqual(['Faro']);
    // Evicted (allkeys-lru) or lost in a restart: a new hash is young again, its entries made by reads untrusted.
    await redis.unlink(key);
    a.forget();
    a.saw([listing('L2', 'Faro')]);
    await settled();
    expect(await redis.hget(key, 'L2')).toBe('?Faro');
    expect(await a.recall('L2')).toBeUndefined();
  });

  it('writes again after an instance forgets (another instance reset the listing), so no city shown goes unrecorded', async () => {
    const [a, b] = [memory(redis), memory(other)];
    await a.reset('L3', 'Porto');
    b.saw([listing('L3', 'Porto')]);
    await settled();
    await a.reset('L3', 'Braga');
    // b hears the invalidation (forget), then shows it under Porto again from an older read.
    b.forget('L3');
    b.saw([listing('L3', 'Porto')]);
    await settled();
    expect((await a.recall('L3'))?.sort()).toEqual(['Braga', 'Porto']);
  });

  it('keeps the reads Redis could not take and writes them once it answers, unknown meanwhile', async () => {
    const late = new Redis(realRedisUrl(), { lazyConnect: true });
    try {
      const [a, b] = [memory(late), memory(other)];
      a.saw([listing('L5', 'Porto')]);
      await b.reset('L5', 'Braga');
      // Its read of Porto is not in Redis yet: what Redis holds cannot vouch.
      await late.connect();
      expect(await a.recall('L5')).toBeUndefined();
      a.saw([]);
      await settled();
      expect((await b.recall('L5'))?.sort()).toEqual(['Braga', 'Porto']);
    } finally {
      late.disconnect();
    }
  });

  it('is unknown, never narrower, while Redis does not answer', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    try {
      const a = memory(down as unknown as Redis);
      a.saw([listing('L4', 'Porto')]);
      expect(await a.recall('L4')).toBeUndefined();
      await a.reset('L4', 'Porto');
      expect(await a.recall('L4')).toBeUndefined();
    } finally {
      down.disconnect();
    }
  });
});
