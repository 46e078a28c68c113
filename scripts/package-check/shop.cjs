// A shop as people write one, run by check-package.sh outside the repo against the packed
// tarball: compression, a request-id middleware, cookie-parser, express.json(), helmet with a
// per-request script nonce, cors on one route, then the cache and the invalidation router (after
// express.json, as most apps mount it). It checks itself over HTTP and Redis and prints one line
// per check ("ok   - ..." or "FAIL - ..."). Env: REDIS_URL, KEY_PREFIX, TOKEN, LABEL.
const crypto = require('node:crypto');
const http = require('node:http');
const express = require('express');
const compression = require('compression');
const cookieParser = require('cookie-parser');
const cors = require('cors');
const helmet = require('helmet');
const { Redis } = require('ioredis');
const { Registry } = require('prom-client');
const { createPageCache } = require('ssr-page-cache');

const BOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const { REDIS_URL = 'redis://127.0.0.1:6379', KEY_PREFIX, TOKEN, LABEL = 'shop' } = process.env;
let failures = 0;
const report = (ok, name, detail) => {
  if (!ok) failures += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} - ${LABEL}: ${name}${!ok && detail !== undefined ? ` (${detail})` : ''}`);
};

function shop(redis, options) {
  const registry = new Registry();
  const cache = createPageCache({
    redis,
    keyPrefix: options.prefix,
    registry,
    allAgents: options.allAgents ?? false,
    routes: { '/products/:id': { ttl: 300 }, '/list': { ttl: 300, query: ['page'] }, '/stores': { ttl: 300 }, '/visitor': { ttl: 300 } },
  });
  const app = express();
  let ids = 0;
  app.use(compression());
  app.use((req, res, next) => {
    res.setHeader('X-Request-Id', String((ids += 1)));
    next();
  });
  app.use(cookieParser());
  app.use(express.json());
  app.use((req, res, next) => {
    res.locals.nonce = crypto.randomBytes(12).toString('base64');
    next();
  });
  app.use(helmet({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", (_req, res) => `'nonce-${res.locals.nonce}'`] } } }));
  app.use(cache.middleware);
  app.use(cache.invalidationRouter({ token: TOKEN }));
  app.get('/products/:id', (req, res) => {
    cache.tag(res, `product:${req.params.id}`);
    res
      .type('html')
      .send(`<!DOCTYPE html><title>Product ${req.params.id}</title><script nonce="${res.locals.nonce}">var ok=1</script><p>${'x'.repeat(800)}</p>`);
  });
  app.get('/list', (req, res) => {
    if (typeof req.query.page !== 'string' && req.query.page !== undefined) return res.status(400).send('one page, please');
    res.type('html').send(`<!DOCTYPE html><title>Page ${req.query.page ?? '1'}</title>`);
  });
  app.get('/stores', cors({ origin: ['https://a.example', 'https://b.example'] }), (_req, res) => res.type('html').send('<p>stores</p>'));
  app.get('/visitor', (_req, res) => res.cookie('visitor', crypto.randomUUID()).type('html').send('<p>hello</p>'));
  return { app, cache, registry };
}

async function listen(app) {
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

const get = (url, headers = {}, method = 'GET') => fetch(url, { method, headers: { 'User-Agent': BOT, ...headers } });

async function main() {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await redis.ping();
  const bots = shop(redis, { prefix: `${KEY_PREFIX}bots:` });
  const { server, url } = await listen(bots.app);
  const people = shop(redis, { prefix: `${KEY_PREFIX}people:`, allAgents: true });
  const peopleServer = await listen(people.app);
  try {
    // express.json() first: the router still reads the invalidation.
    await get(`${url}/products/1`);
    const hit = await get(`${url}/products/1`);
    const invalidated = await fetch(`${url}/api/cache/invalidate`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ tags: ['product:1'] }),
    });
    const after = await get(`${url}/products/1`);
    report(
      hit.headers.get('x-cache') === 'HIT' && invalidated.status === 200 && after.headers.get('x-cache') === 'MISS',
      'invalidation with express.json() mounted first',
      `${hit.headers.get('x-cache')} ${invalidated.status} ${after.headers.get('x-cache')}`,
    );
    report((await get(`${url}/api/cache/invalidate`)).status === 405, 'a GET on the invalidation path is 405');

    // Per-request headers: three bot requests, three request ids (the page is a HIT from the second on).
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await get(`${url}/products/2`)).headers.get('x-request-id'));
    report(new Set(ids).size === 3, 'three bot requests get three different X-Request-Ids', ids.join(','));
    // Shared with people: three nonces, or a page not stored with the reason.
    const nonces = [];
    const reasons = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${peopleServer.url}/products/3`);
      nonces.push(/'nonce-([^']+)'/.exec(res.headers.get('content-security-policy') ?? '')?.[1]);
      reasons.push(res.headers.get('x-cache-reason'));
    }
    report(
      new Set(nonces).size === 3 || reasons.includes('csp-nonce'),
      'with allAgents, three CSP nonces or an unstored page with its reason',
      `${nonces.join(',')} / ${reasons.join(',')}`,
    );

    // What is not stored says why, and the metric counts it by reason.
    const vary = await get(`${url}/stores`, { Origin: 'https://a.example' });
    const cookie = await get(`${url}/visitor`);
    const metrics = await bots.registry.metrics();
    report(
      vary.headers.get('x-cache-reason') === 'vary' && /ssr_cache_store_skips_total\{[^}]*reason="vary"[^}]*\} [1-9]/.test(metrics),
      'Vary: Origin answers X-Cache-Reason: vary, counted by reason',
      vary.headers.get('x-cache-reason'),
    );
    report(
      cookie.headers.get('x-cache-reason') === 'set-cookie' && /reason="set-cookie"[^}]*\} [1-9]/.test(metrics),
      'Set-Cookie answers X-Cache-Reason: set-cookie, counted by reason',
      cookie.headers.get('x-cache-reason'),
    );

    // A cold HEAD stores the page and carries the GET's validators.
    const head = await get(`${url}/products/4`, {}, 'HEAD');
    const afterHead = await get(`${url}/products/4`);
    report(
      head.status === 200 &&
        afterHead.headers.get('x-cache') === 'HIT' &&
        head.headers.get('etag') === afterHead.headers.get('etag') &&
        head.headers.get('last-modified') === afterHead.headers.get('last-modified') &&
        head.headers.get('content-length') === afterHead.headers.get('content-length'),
      'a cold HEAD stores the page (the GET after it is a HIT) with the GET validators',
      `${head.status} ${afterHead.headers.get('x-cache')} ${head.headers.get('etag')} ${afterHead.headers.get('etag')}`,
    );

    // A repeated parameter: the same answer cold and warm.
    const cold = await get(`${url}/list?page=2&page=3`);
    const coldText = await cold.text();
    const warm = await get(`${url}/list?page=2&page=3`);
    report(
      cold.status === warm.status && coldText === (await warm.text()) && warm.headers.get('x-cache') === 'HIT',
      '?page=2&page=3 gets the same answer cold and warm',
      `${cold.status} ${warm.status}`,
    );

    // Validators per representation: the gzip ETag does not validate the identity one.
    const gz = await get(`${url}/products/5`, { 'Accept-Encoding': 'gzip' });
    const gzTag = gz.headers.get('etag');
    const identity = await get(`${url}/products/5`, { 'Accept-Encoding': 'identity', 'If-None-Match': gzTag });
    const own = await get(`${url}/products/5`, { 'Accept-Encoding': 'gzip', 'If-None-Match': gzTag });
    report(
      identity.status === 200 && own.status === 304,
      'a gzip ETag does not validate the identity representation',
      `${gzTag}: ${identity.status}, ${own.status}`,
    );

    // A re-render of unchanged content keeps its Last-Modified.
    const first = await get(`${url}/list`);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await bots.cache.invalidate({ tags: [], keys: ['ssr:/list'], mode: 'soft' });
    let again;
    for (let i = 0; i < 20; i += 1) {
      again = await get(`${url}/list`);
      if (again.headers.get('x-cache') === 'HIT') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    report(
      again.headers.get('x-cache') === 'HIT' && again.headers.get('last-modified') === first.headers.get('last-modified'),
      'a re-render of unchanged content keeps its Last-Modified',
      `${first.headers.get('last-modified')} / ${again.headers.get('last-modified')}`,
    );

    // Options and the registry.
    const registry = new Registry();
    const one = createPageCache({ redis, registry, keyPrefix: `${KEY_PREFIX}r:`, routes: { '/': { ttl: 60 } } });
    await one.close();
    let recreated = true;
    try {
      await createPageCache({ redis, registry, keyPrefix: `${KEY_PREFIX}r:`, routes: { '/': { ttl: 60 } } }).close();
    } catch (error) {
      recreated = String(error);
    }
    report(recreated === true, 'a cache can be closed and created again on one registry', recreated);
    let refusal = '';
    try {
      createPageCache({ redis, keyprefix: 'x:', routes: { '/': { ttl: 60 } } });
    } catch (error) {
      refusal = String(error.message);
    }
    report(/keyprefix: unknown option; did you mean keyPrefix\?/.test(refusal), '`keyprefix` is refused with a suggestion', refusal);
  } finally {
    server.closeAllConnections?.();
    peopleServer.server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => peopleServer.server.close(resolve));
    await bots.cache.close();
    await people.cache.close();
    await redis.quit();
  }
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((error) => {
  console.log(`FAIL - ${LABEL}: the shop did not run (${error && error.stack ? error.stack.split('\n').slice(0, 3).join(' | ') : error})`);
  process.exitCode = 1;
});
