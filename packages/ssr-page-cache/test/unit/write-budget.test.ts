import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { parseInfoMemory, WriteBudget } from '../../src/redis/write-budget';
import type { RedisClient } from '../../src/redis/connection';
import { silentLogger } from '../../src/logger';
import { inspectionClient, startPrivateRedis, type PrivateRedis } from '../helpers';

const MAX_MEMORY = 2 * 1024 * 1024;

describe('parseInfoMemory', () => {
  it('reads used_memory, maxmemory and maxmemory_policy from INFO memory', () => {
    const info = '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:2097152\r\nmaxmemory_policy:allkeys-lru\r\n';
    expect(parseInfoMemory(info)).toEqual({ usedBytes: 1_048_576, maxBytes: 2_097_152, policy: 'allkeys-lru' });
  });

  it('returns undefined when the fields are missing', () => {
    expect(parseInfoMemory('# Memory\r\n')).toBeUndefined();
  });
});

async function usedMemory(client: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)\r?$/m.exec(await client.info('memory'))![1]);
}

/** Writes 8 KiB values (with a TTL, so every policy may evict them) until Redis sits at its maxmemory or refuses. */
async function fillToLimit(client: Redis): Promise<void> {
  const value = 'x'.repeat(8 * 1024);
  for (let index = 0; index < 2000; index += 1) {
    try {
      await client.set(`fill:${index}`, value, 'EX', 3600);
    } catch (error) {
      if (/OOM/.test((error as Error).message)) return;
      throw error;
    }
  }
}

describe('the write budget on a private redis-server with maxmemory 2mb, filled to the limit', () => {
  let redisServer: PrivateRedis | undefined;
  let client: Redis | undefined;
  let budget: WriteBudget | undefined;

  afterEach(async () => {
    budget?.stop();
    client?.disconnect();
    await redisServer?.stop();
    budget = client = redisServer = undefined;
  });

  async function fullRedis(policy: string): Promise<Redis> {
    redisServer = await startPrivateRedis(['--maxmemory', String(MAX_MEMORY), '--maxmemory-policy', policy]);
    client = inspectionClient(redisServer.url);
    await fillToLimit(client);
    expect(await usedMemory(client)).toBeGreaterThanOrEqual(MAX_MEMORY * 0.9);
    return client;
  }

  async function readBudget(redis: Redis): Promise<WriteBudget> {
    budget = new WriteBudget({ redis, logger: silentLogger, maxFraction: 0.9, intervalMs: 600_000 });
    await budget.refresh();
    return budget;
  }

  it.each(['allkeys-lru', 'allkeys-lfu', 'volatile-lru'])('keeps writing under %s: Redis evicts to make room', async (policy) => {
    const redis = await fullRedis(policy);
    const reading = await readBudget(redis);
    expect(reading.lastMemory).toMatchObject({ maxBytes: MAX_MEMORY, policy });
    expect(reading.isOverBudget).toBe(false);
    expect(reading.allowsWrite()).toBe(true);
    // What the budget let through, Redis takes.
    await expect(redis.set('page', 'y'.repeat(8 * 1024), 'EX', 60)).resolves.toBe('OK');
  });

  it('pauses writes under noeviction, where Redis would refuse them', async () => {
    const redis = await fullRedis('noeviction');
    await expect(redis.set('page', 'y'.repeat(8 * 1024), 'EX', 60)).rejects.toThrow(/OOM/);
    const reading = await readBudget(redis);
    expect(reading.lastMemory).toMatchObject({ maxBytes: MAX_MEMORY, policy: 'noeviction' });
    expect(reading.isOverBudget).toBe(true);
    expect(reading.allowsWrite()).toBe(false);
  });

  it('resumes writes when the policy changes to one that evicts', async () => {
    const redis = await fullRedis('noeviction');
    const reading = await readBudget(redis);
    expect(reading.allowsWrite()).toBe(false);
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await reading.refresh();
    expect(reading.lastMemory?.policy).toBe('allkeys-lru');
    expect(reading.allowsWrite()).toBe(true);
  });
});

/** A stand-in for a Cluster client: its masters answer INFO memory with the given readings. */
function fakeCluster(readings: { used: number; max: number; policy: string }[]): RedisClient {
  const nodes = readings.map(({ used, max, policy }) => ({
    info: async () => `# Memory\r\nused_memory:${used}\r\nmaxmemory:${max}\r\nmaxmemory_policy:${policy}\r\n`,
  }));
  return Object.assign(new EventEmitter(), { isCluster: true, status: 'ready', nodes: () => nodes }) as unknown as RedisClient;
}

describe('the write budget on a cluster', () => {
  async function budgetOn(redis: RedisClient): Promise<WriteBudget> {
    const budget = new WriteBudget({ redis, logger: silentLogger, maxFraction: 0.9, intervalMs: 600_000 });
    await budget.refresh();
    budget.stop();
    return budget;
  }

  it('pauses when the fullest noeviction master is over the budget, though a fuller one evicts', async () => {
    const budget = await budgetOn(
      fakeCluster([
        { used: 99, max: 100, policy: 'allkeys-lru' },
        { used: 95, max: 100, policy: 'noeviction' },
        { used: 10, max: 100, policy: 'noeviction' },
      ]),
    );
    expect(budget.lastMemory).toEqual({ usedBytes: 99, maxBytes: 100, policy: 'allkeys-lru' });
    expect(budget.allowsWrite()).toBe(false);
  });

  it('keeps writing when only masters that evict are full', async () => {
    const budget = await budgetOn(
      fakeCluster([
        { used: 99, max: 100, policy: 'allkeys-lru' },
        { used: 50, max: 100, policy: 'noeviction' },
      ]),
    );
    expect(budget.allowsWrite()).toBe(true);
  });
});
