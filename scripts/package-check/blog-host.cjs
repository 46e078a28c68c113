'use strict';
// The blog host both package-check blogs run (blog.mjs imports the package, blog.cjs requires
// it, each hands createPageCache here). Written only against the page cache's public contract.
// Everything it needs comes from CHECK_* variables; the PORT, REDIS_URL, LOG_LEVEL, SSR_CACHE_*
// and REDIS_KEY_PREFIX it is started with are traps the cache must not read. It prints one line,
// `READY <port>`, and nothing else unless something is wrong (the cache has no logger: silent).
const http = require('node:http');
const { setImmediate } = require('node:timers');
const express = require('express');
const Redis = require('ioredis');

function startBlog(createPageCache) {
  const env = process.env;
  // The host's own client, reused as is by the cache; its subscriber may be a duplicate (same name).
  const redis = new Redis(env.CHECK_REDIS_URL, { connectionName: env.CHECK_CONN_NAME });
  const cache = createPageCache({
    redis,
    keyPrefix: env.CHECK_PREFIX,
    routes: {
      '/': { ttl: 300 },
      '/posts/:slug': { ttl: 3600, grace: 600 },
      '/tags/:tag': { ttl: 1800, query: ['page'] },
      '/private': { ttl: 300 },
      '/cookie': { ttl: 300 },
      '/refreshy': { ttl: 1, grace: 60 },
    },
  });

  const posts = new Map([
    ['hello', { title: 'Hello', text: 'The first post.', tags: ['news'] }],
    ['world', { title: 'World', text: 'The second post.', tags: ['news'] }],
    ['shared', { title: 'Shared', text: 'Served by two instances.', tags: ['news'] }],
    ['wrongtype', { title: 'Wrong type', text: 'Its key holds a Redis set.', tags: [] }],
  ]);
  let renders = 0;
  const refreshLog = [];
  const PUBLIC = { 'Cache-Control': 'public, max-age=60', 'Content-Language': 'en', 'X-Robots-Tag': 'index, follow' };
  const wrap = (handler) => (req, res, next) => Promise.resolve(handler(req, res)).catch(next);
  const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><title>${title}</title></head><body>${body}</body></html>`;

  const app = express();
  // Express's own header, not a route's: left out so a HIT is compared on what the routes set.
  app.disable('x-powered-by');
  app.use(cache.middleware);

  app.get('/', (req, res) => {
    for (const slug of posts.keys()) cache.tag(res, `post:${slug}`);
    const items = [...posts].map(([slug, post]) => `<li><a href="/posts/${slug}">${post.title}</a>: ${post.text}</li>`);
    res.set(PUBLIC).send(page('Blog', `<ul>${items.join('')}</ul>`));
  });

  app.get('/posts/:slug', (req, res) => {
    const post = posts.get(req.params.slug);
    if (!post) return void res.status(404).send(page('Not found', 'No such post'));
    cache.tag(res, `post:${req.params.slug}`);
    // A repeated header: a HIT must send both values.
    res.set('Link', [`<https://blog.example/posts/${req.params.slug}>; rel="canonical"`, '</style.css>; rel=preload; as=style']);
    res.set(PUBLIC).send(page(post.title, `<h1>${post.title}</h1><p>${post.text}</p>`));
  });

  app.get('/tags/:tag', (req, res) => {
    const pageNumber = Number(req.query.page ?? 1);
    const tagged = [...posts].filter(([, post]) => post.tags.includes(req.params.tag));
    const shown = tagged.slice(pageNumber - 1, pageNumber);
    if (shown.length === 0) return void res.status(404).send(page('Not found', 'No posts'));
    for (const [slug] of shown) cache.tag(res, `post:${slug}`);
    res.set(PUBLIC).send(page(`#${req.params.tag} ${pageNumber}`, shown.map(([, post]) => post.title).join(', ')));
  });

  app.get('/private', (req, res) => {
    renders += 1;
    res.set('Cache-Control', 'private, max-age=60').send(page('Private', `render ${renders}`));
  });

  app.get('/cookie', (req, res) => {
    renders += 1;
    res
      .cookie('sid', String(renders))
      .set(PUBLIC)
      .send(page('Cookie', `render ${renders}`));
  });

  let refreshRenders = 0;
  app.get('/refreshy', (req, res) => {
    refreshRenders += 1;
    refreshLog.push(cache.isRefresh(req));
    res.set(PUBLIC).send(page('Refreshy', `render ${refreshRenders}`));
  });

  app.get('/debug/is-refresh', (req, res) => {
    res.json({ type: typeof cache.isRefresh, value: typeof cache.isRefresh === 'function' ? cache.isRefresh(req) : null });
  });
  app.get('/debug/refresh-log', (req, res) => res.json(refreshLog));

  app.get(
    '/health',
    wrap(async (req, res) => res.json({ status: 'ok', cache: await cache.health() })),
  );
  app.get(
    '/metrics',
    wrap(async (req, res) => res.type(cache.registry.contentType).send(await cache.registry.metrics())),
  );

  // The host changes a post and asks the cache for fresh pages itself.
  app.post(
    '/admin/posts/:slug',
    express.json(),
    wrap(async (req, res) => {
      const post = posts.get(req.params.slug);
      if (!post) return void res.status(404).json({ error: 'no such post' });
      post.text = String(req.body.text);
      await cache.invalidate({ tags: [`post:${req.params.slug}`] });
      res.json({ ok: true });
    }),
  );
  app.post(
    '/admin/close-cache',
    wrap(async (req, res) => {
      await cache.close();
      res.json({ status: redis.status, pong: await redis.ping() });
    }),
  );

  // After close-cache: the host lets go of what it owns; with nothing leaked the process exits.
  app.post('/admin/exit', (req, res) => {
    res.on('finish', () =>
      setImmediate(() => {
        server.close();
        server.closeAllConnections();
        redis.quit().catch(() => redis.disconnect());
      }),
    );
    res.json({ ok: true });
  });

  app.use(cache.invalidationRouter({ token: env.CHECK_TOKEN }));
  app.use('/notoken', cache.invalidationRouter({}));

  app.use((error, req, res, _next) => {
    console.error('host: request failed:', error);
    res.status(500).json({ error: String(error) });
  });

  const server = http.createServer(env.CHECK_FRONT === '1' ? cache.front(app) : app);
  server.listen(Number(env.CHECK_PORT), '127.0.0.1', () => console.log(`READY ${server.address().port}`));
}

module.exports = { startBlog };
