// Checks one running blog (blog.mjs or blog.cjs, started twice by check-package.sh: instance A
// and, on the same key prefix, instance B) from outside, through HTTP and Redis only. Prints one
// line per check (`ok   - ...` or `FAIL - ...`) and exits 1 when any failed. It leaves instance A
// stopped (POST /admin/exit) and removes no keys: check-package.sh does, by its run's prefix.
import { Buffer } from 'node:buffer';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliDecompressSync } from 'node:zlib';
import Redis from 'ioredis';

const env = process.env;
const label = env.CHECK_LABEL;
const A = env.CHECK_BASE_A;
const B = env.CHECK_BASE_B;
const prefix = env.CHECK_PREFIX;
const wrongPrefix = env.CHECK_WRONG_PREFIX;
const token = env.CHECK_TOKEN;
const hostName = env.CHECK_CONN_NAME;
const pidA = Number(env.CHECK_PID_A);
const redisPort = Number(new URL(env.CHECK_REDIS_URL).port || 6379);
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const HUMAN = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
/** Allowed to differ between a MISS and its HIT: X-Cache, Age, Date, Server-Timing and hop-by-hop headers (RFC 9110 7.6.1), never end-to-end ones. */
const MAY_DIFFER = new Set(['x-cache', 'x-cache-reason', 'age', 'date', 'server-timing', 'connection', 'keep-alive', 'transfer-encoding']);

const redis = new Redis(env.CHECK_REDIS_URL, { connectionName: 'pkgcheck-inspector', maxRetriesPerRequest: 1 });
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    const note = await fn();
    console.log(`ok   - ${label}: ${name}${note ? ` (${note})` : ''}`);
    passed += 1;
  } catch (error) {
    console.log(`FAIL - ${label}: ${name}: ${error instanceof Error ? error.message : String(error)}`);
    failed += 1;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function until(probe, what, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** A request with fetch; the headers as fetch joins them (repeated ones with ", "). */
async function send(base, path, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(base + path, { method, headers, body });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

/** Googlebot accepting no compression: MISS and HIT are byte-for-byte comparable. */
const bot = (base, path) => send(base, path, { headers: { 'user-agent': GOOGLEBOT, 'accept-encoding': 'identity' } });

/** node:http, for exact control of Accept-Encoding (none at all, or br) and the raw bytes. */
function raw(base, path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function invalidate(base, body, auth) {
  const headers = { 'content-type': 'application/json' };
  if (auth !== undefined) headers.authorization = auth;
  return send(base, '/api/cache/invalidate', { method: 'POST', headers, body: JSON.stringify(body) });
}

const keyOf = (path) => `${prefix}ssr:${path}`;
const waitForKey = (path) => until(async () => (await redis.exists(keyOf(path))) === 1, `${keyOf(path)} in Redis`);

async function scanCount(pattern) {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

/** MISS, stored, HIT: the page is cached when this returns. */
async function cachePage(base, path) {
  const miss = await bot(base, path);
  assert(miss.headers['x-cache'] === 'MISS', `${path}: X-Cache ${miss.headers['x-cache']} on the first request, expected MISS`);
  await waitForKey(path);
  const hit = await bot(base, path);
  assert(hit.headers['x-cache'] === 'HIT', `${path}: X-Cache ${hit.headers['x-cache']} once stored, expected HIT`);
  return { miss, hit };
}

function headerDiff(miss, hit) {
  const names = new Set([...Object.keys(miss.headers), ...Object.keys(hit.headers)]);
  return [...names]
    .filter((name) => !MAY_DIFFER.has(name) && miss.headers[name] !== hit.headers[name])
    .map((name) => `${name}: MISS ${JSON.stringify(miss.headers[name])}, HIT ${JSON.stringify(hit.headers[name])}`);
}

/** Connections named as the host's client (its subscriber, a duplicate, has the same name). */
async function namedConnections() {
  const list = String(await redis.call('CLIENT', 'LIST'));
  return list.split('\n').filter((line) => line.split(' ').includes(`name=${hostName}`)).length;
}

/** TCP connections from the blog's process to Redis's port, from /proc (undefined where there is none). */
function redisSocketsOf(pid) {
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const inodes = new Set();
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  let count = 0;
  for (const table of ['tcp', 'tcp6']) {
    let text;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const remotePort = parseInt(cols[2].split(':')[1], 16);
      if (cols[3] === '01' && remotePort === redisPort && inodes.has(cols[9])) count += 1;
    }
  }
  return count;
}

function exited(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? false;
  } catch {
    return true;
  }
}

async function health(base) {
  const res = await send(base, '/health');
  assert(res.status === 200, `/health answered ${res.status}`);
  return JSON.parse(res.body);
}

// ---------------------------------------------------------------------------------------------

let h0;
await check('health(): enabled, hits, misses, hitRate, redis up (SSR_CACHE_ENABLED=false, REDIS_URL ignored)', async () => {
  const body = await until(async () => {
    const current = await health(A);
    return current.cache?.redis?.status === 'up' ? current : undefined;
  }, "health().redis.status 'up'");
  assert(body.status === 'ok', `host /health status ${body.status}`);
  const cache = body.cache;
  assert(cache.enabled === true, `enabled ${cache.enabled}`);
  assert(typeof cache.hits === 'number' && typeof cache.misses === 'number', `hits ${cache.hits}, misses ${cache.misses}`);
  assert('hitRate' in cache, 'no hitRate');
  h0 = cache;
  return `hits ${cache.hits}, misses ${cache.misses}, hitRate ${JSON.stringify(cache.hitRate)}`;
});

// Stored now, stale in a second: checked at the end, when the background re-render has had time.
const refreshyMiss = await bot(A, '/refreshy').catch((error) => ({ status: 0, headers: {}, body: String(error) }));
const refreshyAt = Date.now();

let miss;
await check('a MISS for /posts/hello as Googlebot', async () => {
  miss = await bot(A, '/posts/hello');
  assert(miss.status === 200, `status ${miss.status}`);
  assert(miss.headers['x-cache'] === 'MISS', `X-Cache ${miss.headers['x-cache']}`);
  assert(miss.body.includes('The first post.'), 'not the post');
  assert(miss.headers['cache-control'] === 'public, max-age=60' && miss.headers.link?.includes('rel=preload'), 'the route headers are not on the MISS');
});

await check('stored at keyPrefix + ssr:/posts/hello, nothing at REDIS_KEY_PREFIX, TTL not SSR_CACHE_TTL', async () => {
  await waitForKey('/posts/hello');
  const ttl = await redis.pttl(keyOf('/posts/hello'));
  assert(ttl > 60_000, `PTTL ${ttl} ms`);
  const wrong = await scanCount(`${wrongPrefix}*`);
  assert(wrong === 0, `${wrong} keys under ${wrongPrefix}`);
  return `PTTL ${Math.round(ttl / 1000)} s`;
});

let hit;
await check('then a HIT with the same status, body and headers (apart from X-Cache, Age, Date, Server-Timing)', async () => {
  hit = await bot(A, '/posts/hello');
  assert(hit.headers['x-cache'] === 'HIT', `X-Cache ${hit.headers['x-cache']}`);
  assert(hit.status === miss.status, `status ${hit.status}, the MISS had ${miss.status}`);
  assert(hit.body === miss.body, 'the body differs from the MISS');
  const diff = headerDiff(miss, hit);
  assert(diff.length === 0, `headers differ: ${diff.join('; ')}`);
  assert(/^\d+$/.test(hit.headers.age ?? ''), `Age ${JSON.stringify(hit.headers.age)}`);
});

await check('a HIT without Accept-Encoding is the identity body; with br it decodes to the same body', async () => {
  const plain = await raw(A, '/posts/hello', { 'user-agent': GOOGLEBOT });
  assert(plain.headers['x-cache'] === 'HIT', `X-Cache ${plain.headers['x-cache']}`);
  assert(plain.headers['content-encoding'] === undefined, `Content-Encoding ${plain.headers['content-encoding']} to a client that accepts none`);
  assert(plain.bytes.toString('utf8') === miss.body, 'identity body differs from the MISS');
  const br = await raw(A, '/posts/hello', { 'user-agent': GOOGLEBOT, 'accept-encoding': 'br' });
  const coding = br.headers['content-encoding'];
  const decoded = coding === 'br' ? brotliDecompressSync(br.bytes) : br.bytes;
  assert(coding === undefined || coding === 'br', `Content-Encoding ${coding} to a br-only client`);
  assert(decoded.toString('utf8') === miss.body, `the ${coding ?? 'identity'} body differs from the MISS`);
  return `br client got ${coding ?? 'identity'}`;
});

await check('a person (browser User-Agent) gets BYPASS', async () => {
  for (let i = 0; i < 2; i += 1) {
    const res = await send(A, '/posts/hello', { headers: { 'user-agent': HUMAN, 'accept-encoding': 'identity' } });
    assert(res.status === 200 && res.headers['x-cache'] === 'BYPASS', `status ${res.status}, X-Cache ${res.headers['x-cache']}`);
  }
});

await check('route query: ?page kept in the key, other parameters dropped', async () => {
  const first = await bot(A, '/tags/news?page=1&utm_source=mail');
  assert(first.status === 200 && first.headers['x-cache'] === 'MISS', `first: ${first.status} ${first.headers['x-cache']}`);
  await until(async () => (await bot(A, '/tags/news?page=1&utm_source=mail')).headers['x-cache'] === 'HIT', 'the tag page to be a HIT');
  const other = await bot(A, '/tags/news?utm_source=feed&page=1');
  assert(other.headers['x-cache'] === 'HIT' && other.body === first.body, `utm_source changed the key: X-Cache ${other.headers['x-cache']}`);
  const second = await bot(A, '/tags/news?page=2');
  assert(second.headers['x-cache'] === 'MISS' && second.body !== first.body, `page=2 answered X-Cache ${second.headers['x-cache']}`);
});

for (const [path, what] of [
  ['/cookie', 'Set-Cookie'],
  ['/private', 'Cache-Control: private'],
]) {
  await check(`a response with ${what} is not stored`, async () => {
    const first = await bot(A, path);
    assert(first.status === 200 && first.headers['x-cache'] === 'MISS', `first: ${first.status} ${first.headers['x-cache']}`);
    await sleep(300);
    const second = await bot(A, path);
    assert(second.headers['x-cache'] !== 'HIT' && second.body !== first.body, `second: X-Cache ${second.headers['x-cache']}`);
    assert((await redis.exists(keyOf(path))) === 0, `${keyOf(path)} exists`);
  });
}

await check('isRefresh is a function, false for a client request', async () => {
  const res = JSON.parse((await send(A, '/debug/is-refresh')).body);
  assert(res.type === 'function' && res.value === false, JSON.stringify(res));
});

await check('router: 401 without a token and with a wrong one (and nothing invalidated)', async () => {
  const none = await invalidate(A, { tags: ['post:hello'] });
  assert(none.status === 401, `without a token: ${none.status}`);
  const wrong = await invalidate(A, { tags: ['post:hello'] }, `Bearer ${token}x`);
  assert(wrong.status === 401, `with a wrong token: ${wrong.status}`);
  const still = await bot(A, '/posts/hello');
  assert(still.headers['x-cache'] === 'HIT', `after the refused calls X-Cache ${still.headers['x-cache']}`);
});

await check('router: 403 when the router has no token configured', async () => {
  const res = await send(A, '/notoken/api/cache/invalidate', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: '{"tags":["post:hello"]}',
  });
  assert(res.status === 403, `status ${res.status}`);
});

await check('router with the token, by tag: 200 JSON, then a MISS', async () => {
  const res = await invalidate(A, { tags: ['post:hello'] }, `Bearer ${token}`);
  assert(res.status === 200 && /^application\/json/.test(res.headers['content-type'] ?? ''), `status ${res.status}, ${res.headers['content-type']}`);
  JSON.parse(res.body);
  const after = await bot(A, '/posts/hello');
  assert(after.headers['x-cache'] === 'MISS', `X-Cache ${after.headers['x-cache']}`);
  return res.body.length > 120 ? `${res.body.slice(0, 120)}...` : res.body;
});

await check('router with the token, by path: 200, then a MISS', async () => {
  await waitForKey('/posts/hello');
  assert((await bot(A, '/posts/hello')).headers['x-cache'] === 'HIT', 'not cached before the call');
  const res = await invalidate(A, { paths: ['/posts/hello'] }, `Bearer ${token}`);
  assert(res.status === 200, `status ${res.status}: ${res.body}`);
  const after = await bot(A, '/posts/hello');
  assert(after.headers['x-cache'] === 'MISS', `X-Cache ${after.headers['x-cache']}`);
});

await check('host endpoint calling cache.invalidate({ tags }): the post and the home page are MISSes with the new text', async () => {
  await cachePage(A, '/');
  await waitForKey('/posts/hello');
  assert((await bot(A, '/posts/hello')).headers['x-cache'] === 'HIT', 'not cached before the change');
  const text = `Rewritten ${Date.now()}`;
  const res = await send(A, '/admin/posts/hello', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
  assert(res.status === 200, `host endpoint ${res.status}: ${res.body}`);
  const post = await bot(A, '/posts/hello');
  assert(post.headers['x-cache'] === 'MISS' && post.body.includes(text), `post: X-Cache ${post.headers['x-cache']}, new text ${post.body.includes(text)}`);
  const home = await bot(A, '/');
  assert(home.headers['x-cache'] === 'MISS' && home.body.includes(text), `home: X-Cache ${home.headers['x-cache']}, new text ${home.body.includes(text)}`);
});

await check("an invalidation on A reaches B's in-process copy (pub/sub)", async () => {
  await cachePage(A, '/posts/shared');
  const first = await bot(B, '/posts/shared');
  assert(first.headers['x-cache'] === 'HIT', `B: X-Cache ${first.headers['x-cache']}, expected a HIT from Redis`);
  assert((await bot(B, '/posts/shared')).headers['x-cache'] === 'HIT', 'B: second request not a HIT');
  const res = await invalidate(A, { tags: ['post:shared'] }, `Bearer ${token}`);
  assert(res.status === 200, `router ${res.status}`);
  const started = Date.now();
  await until(async () => (await bot(B, '/posts/shared')).headers['x-cache'] === 'MISS', 'B to answer a MISS (it kept serving its copy)', 2000);
  return `B missed after ${Date.now() - started} ms`;
});

await check('a Redis set at a page key (WRONGTYPE): the page still answers 200, six times', async () => {
  for (let i = 0; i < 6; i += 1) {
    await redis.multi().unlink(keyOf('/posts/wrongtype')).sadd(keyOf('/posts/wrongtype'), 'not a page').exec();
    const res = await bot(A, '/posts/wrongtype');
    assert(res.status === 200 && res.body.includes('Wrong type'), `request ${i + 1}: status ${res.status}`);
  }
});

await check('after the WRONGTYPE replies caching goes on: another page MISS then HIT, Redis up', async () => {
  await cachePage(A, '/posts/world');
  const current = (await health(A)).cache;
  assert(current.redis?.status === 'up', `health().redis.status ${current.redis?.status}`);
  const breaker = current.redis?.breaker?.state;
  return breaker === undefined ? 'no breaker state in health()' : `breaker ${breaker}`;
});

await check('health() merged into /health: hits and misses moved', async () => {
  const current = (await health(A)).cache;
  assert(current.hits > h0.hits && current.misses > h0.misses, `hits ${h0.hits} -> ${current.hits}, misses ${h0.misses} -> ${current.misses}`);
  assert(current.hitRate !== undefined && current.hitRate !== h0.hitRate, `hitRate ${JSON.stringify(h0.hitRate)} -> ${JSON.stringify(current.hitRate)}`);
  return `hits ${current.hits}, misses ${current.misses}, hitRate ${JSON.stringify(current.hitRate)}`;
});

await check('registry: /metrics text has ssr_cache_requests_total with hit and miss samples', async () => {
  const res = await send(A, '/metrics');
  assert(res.status === 200 && /^text\/plain/.test(res.headers['content-type'] ?? ''), `status ${res.status}, ${res.headers['content-type']}`);
  assert(res.body.includes('ssr_cache_requests_total'), 'no ssr_cache_requests_total');
  for (const outcome of ['hit', 'miss']) {
    const sample = new RegExp(`^ssr_cache_requests_total\\{[^}]*outcome="${outcome}"[^}]*\\} [1-9]`, 'mi');
    assert(sample.test(res.body), `no ssr_cache_requests_total sample with outcome="${outcome}" above 0`);
  }
});

await check('STALE past ttl within grace; isRefresh true in the background re-render, then a HIT of it', async () => {
  assert(refreshyMiss.headers['x-cache'] === 'MISS', `first /refreshy: ${refreshyMiss.status} X-Cache ${refreshyMiss.headers['x-cache']}`);
  await sleep(Math.max(0, refreshyAt + 1000 - Date.now()));
  // Fresh for a second after it was stored: HITs until then, then STALE (never a MISS within grace).
  const stale = await until(async () => {
    const res = await bot(A, '/refreshy');
    assert(['HIT', 'STALE'].includes(res.headers['x-cache']), `within grace: X-Cache ${res.headers['x-cache']}`);
    return res.headers['x-cache'] === 'STALE' ? res : undefined;
  }, 'X-Cache: STALE past the 1 s ttl');
  assert(stale.body === refreshyMiss.body, 'the STALE body is not the stored page');
  const log = await until(async () => {
    const entries = JSON.parse((await send(A, '/debug/refresh-log')).body);
    return entries.length >= 2 ? entries : undefined;
  }, 'the background re-render');
  assert(log[0] === false && log[1] === true, `isRefresh per render: ${JSON.stringify(log)} (the client's MISS, then the re-render)`);
  await until(async () => {
    const res = await bot(A, '/refreshy');
    return res.headers['x-cache'] === 'HIT' && res.body.includes('render 2');
  }, 'a HIT of the re-rendered page');
});

await check("Redis connections: the host's client and at most one more", async () => {
  const named = await namedConnections();
  assert(named >= 1 && named <= 2, `${named} connections named ${hostName}`);
  const sockets = redisSocketsOf(pidA);
  assert(sockets === undefined || sockets <= 2, `the process has ${sockets} TCP connections to Redis`);
  return `${named} named ${hostName}, ${sockets ?? 'unknown (no /proc)'} sockets to Redis`;
});

await check("close(): the host's client stays open, the cache's own connection goes", async () => {
  const res = await send(A, '/admin/close-cache', { method: 'POST' });
  assert(res.status === 200, `close-cache: ${res.status} ${res.body}`);
  const body = JSON.parse(res.body);
  assert(body.pong === 'PONG' && body.status === 'ready', `after close(): host client ${body.status}, PING ${body.pong}`);
  await until(async () => (await namedConnections()) === 1 && (redisSocketsOf(pidA) ?? 1) === 1, 'one connection left (the host client)', 2000);
});

await check('the process exits by itself once the host closes its server and client (nothing leaked)', async () => {
  await send(A, '/admin/exit', { method: 'POST' });
  await until(async () => exited(pidA), 'the blog process to exit', 5000);
});

redis.disconnect();
console.log(`checker: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
