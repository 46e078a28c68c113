import { createApp, type AppDeps, type AppHandle } from '../../server/app';
import { internalsOf, type PageCacheInternals } from '../../packages/ssr-page-cache/src/internals';
import { loadConfig, type Config } from '../../server/config';
import { createLogger } from '../../server/utils/logger';
import type { Redis } from '../../server/utils/redis-client';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from './redis';

export const TEST_TOKEN = 'test-invalidation-token-0123456789';
export const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
export const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

/** Config from the given env only (never the developer's shell), with quiet logs. */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    LOG_LEVEL: 'silent',
    PUBLIC_URL: 'https://listings.example.com',
    LISTING_CATALOG_SIZE: '200',
    CACHE_INVALIDATION_TOKEN: TEST_TOKEN,
    // Apps of parallel suites would share the default file: a test that needs one names its own.
    SSR_CACHE_JOURNAL: 'off',
    ...env,
  });
}

/** The app, with the parts of its page cache that tests look at (the Redis tier as `cache`, the tiers, the counters). */
export type TestAppHandle = AppHandle & PageCacheInternals;

export function testApp(env: Record<string, string | undefined>, deps: Partial<AppDeps> = {}): TestAppHandle {
  const config = testConfig(env);
  const handle = createApp({ config, logger: createLogger(config.logLevel), ...deps });
  return Object.assign(handle, internalsOf(handle.pageCache));
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The store after a MISS runs beside the response; wait until the page is in Redis. */
export async function waitForStored(handle: TestAppHandle, key: string, timeoutMs = 2000): Promise<number> {
  return waitFor(
    async () => {
      const ttl = await handle.cache.ttlMs(key);
      return ttl !== undefined && ttl > 0 ? ttl : undefined;
    },
    timeoutMs,
    10,
  );
}

/** The app connects to Redis in the background; tests that expect caching wait for it. */
export async function redisReady(handle: TestAppHandle, timeoutMs = 5000): Promise<void> {
  await waitFor(async () => (handle.redis.status === 'ready' ? true : undefined), timeoutMs, 10);
}

export interface RealRedisAppContext {
  prefix: string;
  /** The app, created in beforeAll and connected to the real Redis. */
  handle: TestAppHandle;
  /** A separate client for looking at what the app stored. */
  redis: Redis;
}

/**
 * Registers the hooks of a suite that runs one app on the real Redis under its own key
 * prefix: create and connect before all, remove the prefix's keys after each, close after all.
 */
export function useAppOnRealRedis(label: string, env: Record<string, string | undefined> = {}, deps: Partial<AppDeps> = {}): RealRedisAppContext {
  const context = { prefix: uniquePrefix(label) } as RealRedisAppContext;
  beforeAll(async () => {
    context.redis = inspectionClient();
    context.handle = testApp({ REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: context.prefix, ...env }, deps);
    await redisReady(context.handle);
  });
  afterEach(async () => {
    // Keys removed behind the app's back: its in-process copies must go too.
    await removeKeys(context.redis, context.prefix);
    context.handle.tiers.memory?.clear();
  });
  afterAll(async () => {
    // The app first: a store still in flight must not land after the clean-up.
    await context.handle.close();
    await removeKeys(context.redis, context.prefix);
    context.redis.disconnect();
  });
  return context;
}
