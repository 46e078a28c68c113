import request from 'supertest';
import { GOOGLEBOT, TEST_TOKEN, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import { scrape } from '../helpers/metrics';

/**
 * A value of the wrong type at any key the cache owns (another program's data, a hand-typed
 * command) is garbage: removed, counted and logged, never a lasting error of the pages or
 * invalidations that name it.
 */
describe('keys the cache owns heal from values of the wrong type (real Redis)', () => {
  const context = useAppOnRealRedis('heal', { SSR_CACHE_LOCK_WAIT_MS: '3000' });
  const get = (path: string) => request(context.handle.handler).get(path).set('User-Agent', GOOGLEBOT);
  const invalidate = (body: object) =>
    request(context.handle.app).post('/api/cache/invalidate').set('Authorization', `Bearer ${TEST_TOKEN}`).set('Content-Type', 'application/json').send(body);
  const key = (name: string) => `${context.prefix}${name}`;
  const garbage = async (kind: string) => (await scrape(context.handle.app)).value('ssr_cache_garbage_keys_total', { kind });

  it('a string at a tag index: the invalidation naming the tag succeeds, and the next store rebuilds the index with a TTL', async () => {
    const { redis } = context;
    const before = await garbage('tag-index');
    await redis.set(key('ssr-tag:listing:5'), 'not a set');
    const first = await invalidate({ tags: ['listing:5'], mode: 'soft' });
    expect([first.status, first.body.queued]).toEqual([200, false]);
    expect(await redis.exists(key('ssr-tag:listing:5'))).toBe(0);

    await redis.set(key('ssr-tag:listing:5'), 'not a set again');
    await get('/listings/5');
    await waitForStored(context.handle, 'ssr:/listings/5');
    expect(await redis.type(key('ssr-tag:listing:5'))).toBe('set');
    expect(await redis.smembers(key('ssr-tag:listing:5'))).toContain('ssr:/listings/5');
    expect(await redis.pttl(key('ssr-tag:listing:5'))).toBeGreaterThan(0);
    // And the tag reaches the page again.
    const second = await invalidate({ tags: ['listing:5'], mode: 'hard' });
    expect([second.status, second.body.deleted]).toEqual([200, 1]);
    expect(await garbage('tag-index')).toBe(before + 2);
    expect((await request(context.handle.app).get('/health')).body.cache.garbageKeys).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['a hash', (name: string) => context.redis.hset(name, 'a', 'b')],
    ['a string without a TTL (no lock of ours has none)', (name: string) => context.redis.set(name, 'left behind')],
  ])('%s at a render lock: the page renders at once instead of waiting for the lock, and the lock works again', async (_name, plant) => {
    const before = await garbage('lock');
    await plant(key('ssr-lock:ssr:/listings/6'));
    const started = Date.now();
    const res = await get('/listings/6');
    expect([res.status, res.headers['x-cache']]).toEqual([200, 'MISS']);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(context.handle.stats.lockWaitTimeouts).toBe(0);
    await waitForStored(context.handle, 'ssr:/listings/6');
    // Released by its owner once the page was stored: nothing is left at the lock.
    await waitFor(async () => ((await context.redis.exists(key('ssr-lock:ssr:/listings/6'))) === 0 ? true : undefined), 2000);
    expect(await garbage('lock')).toBe(before + 1);
  });

  it('a string at the negative index: the 404 is stored and the index rebuilt', async () => {
    const before = await garbage('negative-index');
    await context.redis.set(key('ssr-negative'), 'junk');
    expect((await get('/listings/no-such-home')).status).toBe(404);
    await waitForStored(context.handle, 'ssr:/listings/no-such-home');
    await waitFor(async () => ((await context.redis.type(key('ssr-negative'))) === 'zset' ? true : undefined), 2000);
    expect(await context.redis.zcard(key('ssr-negative'))).toBe(1);
    expect(await garbage('negative-index')).toBe(before + 1);
  });

  it('a list at a page key: a MISS, the list removed, the page stored; a soft invalidation of such a key succeeds too', async () => {
    const before = await garbage('page');
    await context.redis.rpush(key('ssr:/listings/8'), 'a', 'b');
    expect((await get('/listings/8')).headers['x-cache']).toBe('MISS');
    await waitForStored(context.handle, 'ssr:/listings/8');
    expect(await context.redis.type(key('ssr:/listings/8'))).toBe('string');
    expect((await get('/listings/8')).headers['x-cache']).toBe('HIT');
    expect(await garbage('page')).toBe(before + 1);

    await context.redis.rpush(key('ssr:/listings/9'), 'a');
    const soft = await invalidate({ keys: ['ssr:/listings/9'], mode: 'soft' });
    expect([soft.status, soft.body.queued]).toEqual([200, false]);
    expect(await context.redis.exists(key('ssr:/listings/9'))).toBe(0);
  });
});
