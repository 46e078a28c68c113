import express, { type Response } from 'express';
import type Redis from 'ioredis';
import { createPageCache } from 'ssr-page-cache';

/**
 * A small blog that embeds the page cache: bots get stored pages of `/`, `/posts/:slug` and
 * `/tags/:tag`, and changing a post drops every page that shows it (tag `post:<slug>`).
 */

export interface Post {
  slug: string;
  title: string;
  text: string;
  tags: string[];
}

export interface BlogOptions {
  /** The host's own client; the cache reuses it and opens at most one more (pub/sub). */
  redis: Redis;
  keyPrefix?: string;
  /** Bearer token of POST /api/cache/invalidate; without one that endpoint answers 403. */
  token?: string;
}

const SEED: readonly Post[] = [
  { slug: 'hello', title: 'Hello, world', text: 'The first post of this blog.', tags: ['news'] },
  { slug: 'crawlers', title: 'Pages for crawlers', text: 'Bots get stored pages, people get fresh ones.', tags: ['news', 'redis'] },
  { slug: 'redis', title: 'Notes on Redis', text: 'Keys, expiry and tags.', tags: ['redis'] },
  { slug: 'release', title: 'Version 1.0', text: 'The blog is out of beta.', tags: ['news'] },
];
const PAGE_SIZE = 2;
/** What the cache stores, for how long (seconds), and which query parameters make another page. */
const CACHED_ROUTES = { '/': { ttl: 300 }, '/posts/:slug': { ttl: 3600, grace: 600 }, '/tags/:tag': { ttl: 1800, query: ['page'] } };

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function sendPage(res: Response, title: string, body: string): void {
  res.set({ 'Cache-Control': 'public, max-age=60', 'Content-Language': 'en', 'X-Robots-Tag': 'index, follow' });
  res.type('html').send(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`);
}

const summary = (post: Post): string => `<li><a href="/posts/${post.slug}">${escapeHtml(post.title)}</a>: ${escapeHtml(post.text)}</li>`;

export function createBlogApp({ redis, keyPrefix, token }: BlogOptions) {
  const posts = new Map(SEED.map((post) => [post.slug, { ...post, tags: [...post.tags] }]));

  const cache = createPageCache({ redis, keyPrefix, routes: CACHED_ROUTES });
  const tagPosts = (res: Response, shown: Post[]): void => shown.forEach((post) => cache.tag(res, `post:${post.slug}`));

  const app = express();
  app.disable('x-powered-by');
  app.use(cache.middleware);

  app.get('/', (_req, res) => {
    const all = [...posts.values()];
    tagPosts(res, all);
    sendPage(res, 'A small blog', `<h1>A small blog</h1><ul>${all.map(summary).join('')}</ul>`);
  });

  app.get('/posts/:slug', (req, res) => {
    const post = posts.get(req.params.slug);
    if (!post) {
      res.status(404).type('html').send('<!DOCTYPE html><title>Not found</title><h1>No such post</h1>');
      return;
    }
    tagPosts(res, [post]);
    res.set('Link', `<https://blog.example/posts/${post.slug}>; rel="canonical"`);
    const tags = post.tags.map((tag) => `<a href="/tags/${tag}">#${tag}</a>`).join(' ');
    sendPage(res, post.title, `<article><h1>${escapeHtml(post.title)}</h1><p>${escapeHtml(post.text)}</p><p>${tags}</p></article>`);
  });

  app.get('/tags/:tag', (req, res) => {
    const tag = req.params.tag;
    const page = req.query.page === undefined ? 1 : Number(req.query.page);
    const tagged = [...posts.values()].filter((post) => post.tags.includes(tag));
    const shown = tagged.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    if (!Number.isInteger(page) || page < 1 || shown.length === 0) {
      res.status(404).type('html').send('<!DOCTYPE html><title>Not found</title><h1>No posts here</h1>');
      return;
    }
    tagPosts(res, shown);
    const next = tagged.length > page * PAGE_SIZE ? `<a href="/tags/${tag}?page=${page + 1}">older</a>` : '';
    sendPage(res, `#${tag}, page ${page}`, `<h1>#${escapeHtml(tag)}, page ${page}</h1><ul>${shown.map(summary).join('')}</ul>${next}`);
  });

  app.get('/health', async (_req, res) => {
    res.json({ status: 'ok', cache: await cache.health() });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(cache.registry.contentType).send(await cache.registry.metrics());
  });

  app.use(cache.invalidationRouter({ token }));

  /** Changes a post's text and drops every cached page that shows it. */
  async function updatePost(slug: string, text: string): Promise<boolean> {
    const post = posts.get(slug);
    if (!post) return false;
    post.text = text;
    await cache.invalidate({ tags: [`post:${slug}`] });
    return true;
  }

  // handler answers hits before Express builds its request: for http.createServer.
  return { app, cache, handler: cache.front(app), updatePost };
}

export type BlogApp = ReturnType<typeof createBlogApp>;
