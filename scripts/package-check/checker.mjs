// Runs one blog (blog.mjs or blog.cjs) as its own process with misleading env vars, and checks it
// from outside: MISS then HIT with the same bytes and headers, tags and invalidation, health,
// metrics, connections, a WRONGTYPE key. Exits 1 with the first failure.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import Redis from 'ioredis';

const blog = process.argv[2];
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const prefix = `check-package:${randomBytes(4).toString('hex')}:`;
const name = `check-${randomBytes(4).toString('hex')}`;
const token = 'check-package-token-0123456789';
const port = await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = server.address();
    server.close(() => resolve(free));
  });
});
const base = `http://127.0.0.1:${port}`;
const redis = new Redis(redisUrl);

function assert(condition, message) {
  if (!condition) throw new Error(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(probe, what) {
  for (let i = 0; i < 200; i += 1) {
    if (await probe()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}
const get = (path) => fetch(base + path, { headers: { 'user-agent': GOOGLEBOT, 'accept-encoding': 'br' } });
const IGNORED = new Set(['x-cache', 'age', 'date', 'server-timing', 'etag', 'content-length', 'content-encoding', 'vary', 'connection', 'keep-alive']);
const routeHeaders = (res) => Object.fromEntries([...res.headers].filter(([key]) => !IGNORED.has(key)));

const child = spawn(process.execPath, [blog], {
  env: {
    PATH: process.env.PATH,
    // The host's own variables, which the cache must not read.
    PORT: '1',
    LOG_LEVEL: 'trace',
    REDIS_URL: 'redis://127.0.0.1:1',
    REDIS_KEY_PREFIX: 'wrong:',
    SSR_CACHE_ENABLED: 'false',
    SSR_CACHE_TTL: '1',
    CHECK_REDIS_URL: redisUrl,
    CHECK_PORT: String(port),
    CHECK_PREFIX: prefix,
    CHECK_NAME: name,
    CHECK_TOKEN: token,
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => String(chunk).includes('listening') && resolve());
    child.on('exit', (code) => reject(new Error(`${blog} exited with ${code}`)));
  });
  await until(async () => (await (await fetch(`${base}/health`)).json()).cache.redis.status === 'up', 'Redis up in health()');

  const miss = await get('/posts/hello');
  const missBody = await miss.text();
  assert(miss.headers.get('x-cache') === 'MISS', `first request: X-Cache ${miss.headers.get('x-cache')}, expected MISS`);
  await until(async () => (await redis.exists(`${prefix}ssr:/posts/hello`)) === 1, 'the page under the given keyPrefix');
  const hit = await get('/posts/hello');
  assert(hit.headers.get('x-cache') === 'HIT', `second request: X-Cache ${hit.headers.get('x-cache')}, expected HIT`);
  assert(hit.status === miss.status && (await hit.text()) === missBody, 'HIT differs from the MISS in status or body');
  assert(
    JSON.stringify(routeHeaders(hit)) === JSON.stringify(routeHeaders(miss)),
    `HIT headers ${JSON.stringify(routeHeaders(hit))} differ from MISS ${JSON.stringify(routeHeaders(miss))}`,
  );
  assert(miss.headers.get('x-refresh') === 'false', 'isRefresh(req) is not false for a normal request');
  assert((await redis.exists(`${prefix}ssr-tag:post:hello`)) === 1, 'no tag index for post:hello');
  assert((await redis.exists('wrong:ssr:/posts/hello')) === 0, 'the cache read REDIS_KEY_PREFIX from the environment');
  assert((await redis.pttl(`${prefix}ssr:/posts/hello`)) > 60_000, 'the cache read SSR_CACHE_TTL from the environment');

  const updated = await (await fetch(`${base}/update/hello`, { method: 'POST' })).json();
  assert(updated.ok === true && updated.changed === 1, `cache.invalidate by tag: ${JSON.stringify(updated)}`);
  const fresh = await get('/posts/hello');
  assert(fresh.headers.get('x-cache') === 'MISS' && (await fresh.text()).includes('Updated'), 'after invalidate the page is not fresh');

  const refused = await fetch(`${base}/api/cache/invalidate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"tags":["post:hello"]}',
  });
  assert(refused.status === 401, `router without a token: ${refused.status}, expected 401`);
  await until(async () => (await redis.exists(`${prefix}ssr:/posts/hello`)) === 1, 'the fresh page stored');
  const routed = await fetch(`${base}/api/cache/invalidate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: '{"tags":["post:hello"]}',
  });
  assert(routed.status === 200 && (await routed.json()).deleted === 1, `router with the token: ${routed.status}`);
  assert((await get('/posts/hello')).headers.get('x-cache') === 'MISS', 'after the router the page is not a MISS');

  await redis.sadd(`${prefix}ssr:/posts/wrongtype`, 'not a page');
  for (let i = 0; i < 3; i += 1) assert((await get('/posts/wrongtype')).status === 200, 'a WRONGTYPE key broke its page');
  assert((await get('/posts/other')).headers.get('x-cache') === 'MISS', 'other page not a MISS');
  await until(async () => (await redis.exists(`${prefix}ssr:/posts/other`)) === 1, 'other page stored after the WRONGTYPE key');
  assert((await get('/posts/other')).headers.get('x-cache') === 'HIT', 'caching stopped after a WRONGTYPE key');

  const health = (await (await fetch(`${base}/health`)).json()).cache;
  assert(health.enabled === true && health.hits >= 2 && health.misses >= 3 && typeof health.hitRate === 'string', `health(): ${JSON.stringify(health)}`);
  assert(health.redis.breaker.state === 'closed', `breaker ${health.redis.breaker.state} after a WRONGTYPE key`);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert(/ssr_cache_requests_total\{route="\/posts\/:slug",outcome="hit"\} [1-9]/.test(metrics), 'registry has no ssr_cache_requests_total hits');
  const connections = String(await redis.call('CLIENT', 'LIST'))
    .split('\n')
    .filter((line) => line.includes(` name=${name} `)).length;
  assert(connections <= 2, `${connections} Redis connections: the host's one and at most one subscriber expected`);
  console.log(`ok ${blog}: MISS->HIT with the same headers, tags, invalidate, router, health, metrics, ${connections} connections, WRONGTYPE`);
} finally {
  child.kill();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
