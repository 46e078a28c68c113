import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { TestAppHandle as AppHandle } from '../helpers/app';
import { GOOGLEBOT, redisReady, testApp, waitForStored } from '../helpers/app';
import { freePort, killProcess, redisBinary, startPrivateRedis, uniquePrefix, waitForPing, type PrivateRedis } from '../helpers/redis';

/** REDIS_SENTINELS: the client asks a real Sentinel where the master is. */
describe('through Redis Sentinel', () => {
  let master: PrivateRedis;
  let sentinel: ChildProcess;
  let sentinelPort: number;
  let dir: string;
  let handle: AppHandle;

  beforeAll(async () => {
    master = await startPrivateRedis();
    dir = mkdtempSync(join(tmpdir(), 'ssr-cache-sentinel-'));
    sentinelPort = await freePort();
    const config = join(dir, 'sentinel.conf');
    writeFileSync(config, `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor listings-cache 127.0.0.1 ${master.port} 1\n`);
    sentinel = spawn(redisBinary('redis-server'), [config, '--sentinel'], { stdio: 'ignore' });
    await waitForPing(`redis://127.0.0.1:${sentinelPort}`, 5000);
    handle = testApp({
      REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
      REDIS_SENTINEL_NAME: 'listings-cache',
      REDIS_KEY_PREFIX: uniquePrefix('sentinel'),
      SSR_CACHE_MEMORY_MB: '0',
    });
    await redisReady(handle, 10_000);
  }, 30_000);
  afterAll(async () => {
    await handle.close();
    await killProcess(sentinel);
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the master and caches there: MISS, then HIT from Redis', async () => {
    const miss = await request(handle.app).get('/listings/9').set('User-Agent', GOOGLEBOT);
    expect(miss.headers['x-cache']).toBe('MISS');
    await waitForStored(handle, 'ssr:/listings/9');
    const hit = await request(handle.app).get('/listings/9').set('User-Agent', GOOGLEBOT);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['server-timing']).toContain('HIT redis');
    expect(handle.redis.options).toMatchObject({ name: 'listings-cache' });
  });
});
