import { randomBytes } from 'node:crypto';
import cookieParser from 'cookie-parser';
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import Redis from 'ioredis';
import { createPageCache, type PageCache, type PageCacheOptions } from 'ssr-page-cache';
import { waitFor } from './app';
import { capturingLogger } from './log-capture';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from './redis';

export interface ShopOptions {
  /** Options of the shop's cache beyond redis, keyPrefix, logger and routes. */
  cache?: Partial<Omit<PageCacheOptions, 'redis' | 'keyPrefix' | 'logger' | 'routes'>>;
  /** Parses `req.query` before the cache, into a property, as Express 4's query middleware does before any of the app's. */
  express4Query?: boolean;
}

export interface Shop {
  app: express.Express;
  cache: PageCache;
  prefix: string;
  /** Renders by path. */
  renders: Map<string, number>;
  /** What the /cookies route saw: the Cookie header and cookie-parser's req.cookies. */
  cookiesSeen: { header: string | undefined; parsed: Record<string, string> }[];
  /** The cache's log lines (info and up). */
  lines: Record<string, unknown>[];
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A shop as the issue found it, built from the package's README and the usual stack: a request-id
 * middleware, cookie-parser, express.json, helmet (with a per-request script nonce on the product
 * pages), cors on one route, then the cache and the routes.
 */
function createShop(redis: Redis, prefix: string, options: ShopOptions): Shop {
  const { logger, lines } = capturingLogger();
  const cache = createPageCache({
    redis,
    keyPrefix: prefix,
    logger,
    routes: {
      '/products/:id': { ttl: 60 },
      '/list': { ttl: 60, query: ['page'] },
      '/cors-page': { ttl: 60 },
      '/visitor': { ttl: 60 },
      '/promo': { ttl: 60 },
      '/partial': { ttl: 60 },
      '/session': { ttl: 60 },
      '/private': { ttl: 60 },
      '/big': { ttl: 60 },
      '/broken': { ttl: 60 },
      '/cookies': { ttl: 60 },
    },
    ...options.cache,
  });
  const renders = new Map<string, number>();
  const cookiesSeen: Shop['cookiesSeen'] = [];
  const rendered = (req: express.Request) => renders.set(req.path, (renders.get(req.path) ?? 0) + 1);

  const app = express();
  if (options.express4Query) {
    const parse = app.get('query parser fn') as (search: string) => unknown;
    app.use((req, _res, next) => {
      const search = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
      Object.defineProperty(req, 'query', { value: parse(search), writable: true, configurable: true, enumerable: true });
      next();
    });
  }
  let requestIds = 0;
  app.use((req, res, next) => {
    requestIds += 1;
    res.setHeader('X-Request-Id', String(requestIds));
    res.setHeader('traceparent', `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`);
    next();
  });
  app.use(cookieParser());
  app.use(express.json());
  // The product pages run an inline script: theirs is the CSP with a nonce.
  app.use('/products', (_req, res, next) => {
    res.locals.cspNonce = randomBytes(16).toString('base64');
    next();
  });
  const nonceOf = (res: express.Response) => res.locals.cspNonce as string | undefined;
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: { scriptSrc: ["'self'", (_req, res) => (nonceOf(res as express.Response) ? `'nonce-${nonceOf(res as express.Response)}'` : "'self'")] },
      },
    }),
  );
  app.use(cache.middleware);

  app.get('/products/:id', async (req, res) => {
    rendered(req);
    await sleep(30);
    res.send(`<h1>Product ${req.params.id}</h1><script nonce="${res.locals.cspNonce as string}">track()</script>`);
  });
  app.post('/products/:id', (_req, res) => {
    res.send('added to the cart');
  });
  app.get('/list', (req, res) => {
    rendered(req);
    const page = req.query.page;
    if (page !== undefined && typeof page !== 'string') {
      res.status(400).send('one page at a time');
      return;
    }
    res.send(`<link rel="canonical" href="https://shop.example${req.originalUrl}"><h1>Page ${page ?? '1'}</h1>`);
  });
  app.get('/cors-page', cors({ origin: ['https://a.example', 'https://b.example'] }), (req, res) => {
    rendered(req);
    res.send('<h1>Shared with two origins</h1>');
  });
  app.get('/visitor', (req, res) => {
    rendered(req);
    if (!cache.willStore(req)) res.cookie('visitor', randomBytes(4).toString('hex'));
    res.send('<h1>Welcome</h1>');
  });
  app.get('/promo', (req, res) => {
    rendered(req);
    cache.noStore(res, 'promo');
    res.send(`<h1>Today only</h1><p>${cache.willStore(req) ? 'stored' : 'not stored'}</p>`);
  });
  // A page whose secondary part its source refused: sent, but kept fresh only briefly.
  app.get('/partial', (req, res) => {
    rendered(req);
    cache.ttl(res, 1);
    cache.ttl(res, 3600);
    res.send('<h1>Product</h1><p>Related items are not available right now.</p>');
  });
  app.get('/session', (req, res) => {
    rendered(req);
    res.cookie('sid', randomBytes(4).toString('hex'));
    res.send('<h1>Hello</h1>');
  });
  app.get('/private', (req, res) => {
    rendered(req);
    res.set('Cache-Control', 'private');
    res.send('<h1>Yours</h1>');
  });
  app.get('/big', (req, res) => {
    rendered(req);
    res.send(`<p>${'x'.repeat(1200 * 1024)}</p>`);
  });
  app.get('/broken', (req, res) => {
    rendered(req);
    res.status(500).send('<h1>Oops</h1>');
  });
  app.get('/cookies', (req, res) => {
    rendered(req);
    cookiesSeen.push({ header: req.headers.cookie, parsed: { ...(req.cookies as Record<string, string>) } });
    res.send('<h1>Same page for everyone</h1>');
  });
  return { app, cache, prefix, renders, cookiesSeen, lines };
}

export interface Shops {
  /** A shop with a key prefix of its own, closed after the suite. */
  make(label: string, options?: ShopOptions): Shop;
  /** A client for looking at what the shops stored. */
  inspector(): Redis;
  /** Resolves once the shop's page is in Redis. */
  stored(shop: Shop, key: string): Promise<void>;
}

/** Registers the hooks of a suite of shops on the real Redis (one host client, as an embedding server has). */
export function useShops(): Shops {
  let redis: Redis;
  let inspector: Redis;
  const made: Shop[] = [];
  beforeAll(async () => {
    redis = new Redis(realRedisUrl());
    inspector = inspectionClient();
    await redis.ping();
  });
  afterAll(async () => {
    await Promise.all(made.map((shop) => shop.cache.close()));
    for (const shop of made) await removeKeys(inspector, shop.prefix);
    redis.disconnect();
    inspector.disconnect();
  });
  return {
    make(label, options = {}) {
      const shop = createShop(redis, uniquePrefix(label), options);
      made.push(shop);
      return shop;
    },
    inspector: () => inspector,
    async stored(shop, key) {
      await waitFor(async () => ((await inspector.exists(`${shop.prefix}${key}`)) === 1 ? true : undefined), 2000, 5);
    },
  };
}
