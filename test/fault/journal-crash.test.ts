import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { GOOGLEBOT, TEST_TOKEN, waitFor } from '../helpers/app';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

/**
 * Twenty sends each webhook once: an invalidation answered 2xx while Redis cannot take it must
 * survive the process being killed. Three are accepted while Redis is frozen, the server is
 * SIGKILLed, Redis comes back, and the restarted server applies them before it serves any page
 * from Redis.
 */
describe('invalidations accepted while Redis is frozen, then a SIGKILL', () => {
  let redis: PrivateRedis;
  let server: ServerProcess | undefined;
  const journal = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ssr-journal-')), 'invalidations.journal');
  const env = () => ({
    REDIS_URL: redis.url,
    CACHE_INVALIDATION_TOKEN: TEST_TOKEN,
    TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET,
    SSR_CACHE_JOURNAL: journal,
    LISTING_CATALOG_SIZE: '50',
    LOG_LEVEL: 'warn',
  });
  const cacheOf = async (path: string) => (await fetch(`${server!.url}${path}`, { headers: { 'User-Agent': GOOGLEBOT } })).headers.get('x-cache');

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });

  afterAll(async () => {
    await server?.stop();
    redis?.thaw();
    await redis?.stop();
    fs.rmSync(path.dirname(journal), { recursive: true, force: true });
  });

  it('survive and apply after the restart: none of the three pages is served as a HIT', async () => {
    server = await startServerProcess(env(), { compiled: true });
    const pages = ['/listings/1', '/listings/2', '/listings/3'];
    for (const page of pages) await waitFor(async () => ((await cacheOf(page)) === 'HIT' ? true : undefined), 5000, 20);

    redis.freeze();
    const bearer = (body: unknown) =>
      fetch(`${server!.url}/api/cache/invalidate`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const hook = twentyEvent('updated', '3', { updatedFields: ['name'], record: { id: '3', name: 'Listing 3', city: 'Lisbon' } });
    const answers = [
      await bearer({ paths: ['/listings/1'] }),
      await bearer({ tags: ['listing:2'] }),
      await fetch(`${server.url}/api/cache/invalidate`, { method: 'POST', headers: twentyHeaders(hook), body: hook }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(202);
      expect(((await answer.json()) as { applied: string }).applied).toBe('queued');
    }
    expect(fs.statSync(journal).size).toBeGreaterThan(0);

    await server.stop(); // SIGKILL
    redis.thaw();
    server = await startServerProcess(env(), { compiled: true });
    const afterRestart = [];
    for (const page of pages) afterRestart.push(await cacheOf(page));
    if (afterRestart.includes('HIT')) console.log(afterRestart, server.output());
    expect(afterRestart).not.toContain('HIT');
    // Applied to Redis, then the journal is done with; the pages are cached again as usual.
    await waitFor(async () => (fs.statSync(journal).size === 0 ? true : undefined), 5000);
    // Redis has them: the shared record names the page, the tag and the webhook's tag.
    const client = new Redis(redis.url);
    try {
      const marks = Object.keys(await client.hgetall('ssr-inv'));
      expect(marks).toEqual(expect.arrayContaining(['k:ssr:/listings/1', 't:listing:2', 't:listing:3']));
    } finally {
      client.disconnect();
    }
    for (const page of pages) await waitFor(async () => ((await cacheOf(page)) === 'HIT' ? true : undefined), 5000, 20);
    expect(server.output()).toContain('invalidations a stopped process had accepted');
  }, 60_000);
});
