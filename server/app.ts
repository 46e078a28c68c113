import type { RequestListener } from 'node:http';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { pageCacheRoutes, type Config } from './config';
import { createHash } from 'node:crypto';
import { createListingSource, type TwentyParts } from './listings';
import { createCityMemory, withCityMemory } from './listings/city-memory';
import { createTwentyClient } from './listings/twenty-client';
import { twentyPriority } from './listings/twenty-priority';
import { ListingSourceError, type ListingSource } from './listings/listing';
import { forgetListings } from './listings/listing-changes';
import { describeMapping, learnListingObject, TwentyObjectName } from './listings/twenty-object';
import { createCacheMiddleware, type PageCache } from './middleware/cache-middleware';
import { createInvalidationRouter } from './routes/cache-invalidation';
import { createHealthRouter } from './routes/health';
import { createPageRouter, sendPage } from './routes/pages';
import { createFaviconRouter } from './routes/favicon';
import { createImageRouter } from './routes/images';
import { createSitemapRouter } from './routes/sitemap';
import { errorPage } from './ssr/error-page';
import { createLogger, type Logger } from './utils/logger';
import { lockJournal } from './utils/journal-lock';
import { createRedisClient, type RedisClient } from './utils/redis-client';

export interface AppDeps {
  config: Config;
  /** An embedding server's own ioredis client, used as is (and left open by close). */
  redis?: RedisClient;
  listings?: ListingSource;
  logger?: Logger;
}

export interface AppHandle {
  /** The Express app: the cache is a middleware in front of the page routes. */
  app: Express;
  /** The app behind the cache front, which answers hits before Express: give this to http.createServer. */
  handler: RequestListener;
  /** The page cache (the package's public API). */
  pageCache: PageCache;
  redis: RedisClient;
  logger: Logger;
  /** Closes what the app opened (the cache and its Redis connection); an embedding server's client stays open. */
  close(): Promise<void>;
}

function pageErrors(publicUrl: string, retryAfterSeconds: number, logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const status =
      error instanceof ListingSourceError
        ? error.httpStatus
        : typeof error?.status === 'number' && error.status >= 400 && error.status < 500
          ? error.status
          : 500;
    if (status >= 500) logger.error({ err: error, url: req.originalUrl }, 'page failed');
    if (res.headersSent) return res.end();
    // The data source is away: "come back later", which crawlers honour; a 502/504 would slow their crawl.
    if (error instanceof ListingSourceError) res.set('Retry-After', String(Math.ceil(error.retryAfterSeconds ?? retryAfterSeconds)));
    const message = status === 400 ? 'The address of this page is not valid.' : 'Please try again in a moment.';
    sendPage(res, errorPage(publicUrl, status, status === 404 ? 'This page does not exist.' : message));
  };
}

/** Wiring only: config -> Redis -> the page cache -> middleware and routes. Used by index.ts and every test. */
export function createApp(deps: AppDeps): AppHandle {
  const { config } = deps;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const redis = deps.redis ?? createRedisClient(config.redis, logger);
  const owned = deps.redis === undefined;
  const unlockJournal = config.cache.journalPath ? lockJournal(config.cache.journalPath) : undefined;
  const cache = createCacheMiddleware(config, redis, logger);
  const twenty = config.listings.kind === 'twenty' ? config.listings : undefined;
  const listingObject = new TwentyObjectName(config.cache.twentyWebhookObject.plural, config.cache.twentyWebhookObject.singular, {
    cityField: twenty?.cityField,
    priceField: twenty?.priceField,
  });
  let twentyParts: TwentyParts | undefined;
  if (twenty) {
    // One bucket per workspace (its URL and key), shared by every instance on this Redis.
    const workspace = createHash('sha256').update(`${twenty.apiUrl}\n${twenty.apiKey}`).digest('hex').slice(0, 16);
    const client = createTwentyClient({
      apiUrl: twenty.apiUrl,
      apiKey: twenty.apiKey,
      timeoutMs: twenty.timeoutMs,
      rateLimit: twenty.rateLimit,
      shared: { redis, key: `${config.redis.keyPrefix}twenty-bucket:${workspace}` },
      logger,
    });
    twentyParts = { object: listingObject, client };
  }
  // Where listings were shown, so a webhook tells a move from a street change.
  // Entries reads made are trusted once the memory is older than any stored page.
  const longestPage = Math.max(...Object.values(pageCacheRoutes(config.cache)).map((route) => (route.ttl ?? 0) + (route.grace ?? 0)));
  const cities = config.cache.twentyWebhookSecret
    ? createCityMemory({
        redis,
        key: `${config.redis.keyPrefix}twenty-cities`,
        longestPageMs: (longestPage + config.cache.staleIfErrorSeconds) * 1000,
        onError: (error) => logger.debug({ err: error }, 'city memory: Redis refused'),
      })
    : undefined;
  const source = deps.listings ?? createListingSource(config.listings, twentyParts);
  const listings = cities ? withCityMemory(source, cities) : source;
  // A field renamed or added in Twenty: what was read with the old fields goes.
  const learning = twentyParts
    ? learnListingObject(listingObject, (path, priority) => twentyParts.client.get(path, priority), logger, { onChange: () => listings.forget?.() })
    : undefined;

  const app = express();
  app.disable('x-powered-by');
  // pino-http builds a child logger per request even when it would not log: skip it then.
  if (logger.isLevelEnabled('info')) {
    app.use(pinoHttp({ logger, customAttributeKeys: { responseTime: 'durationMs' }, customProps: (req) => ({ ...cache.logFields(req) }) }));
  }
  app.use(cache.middleware);
  // A stale page's background refresh and a warm-up request leave the CRM's last tokens to pages people wait for.
  if (twentyParts)
    app.use((req, _res, next) => twentyPriority.run(cache.isRefresh(req) || req.headers['x-cache-warm'] !== undefined ? 'background' : 'page', next));
  // Every invalidation, made here or on another instance, drops the listing data renders read
  // here before any page is re-rendered from it.
  const forget = listings.forget?.bind(listings);
  if (forget) cache.on((event) => event.type === 'invalidate' && forgetListings(event, forget));
  const invalidation = createInvalidationRouter({
    cache,
    redis,
    keyPrefix: config.redis.keyPrefix,
    logger,
    token: config.cache.invalidationToken,
    twenty: {
      secret: config.cache.twentyWebhookSecret,
      toleranceMs: config.cache.twentyWebhookToleranceMs,
      mode: config.cache.twentyWebhookMode,
      listingObject,
      maxBodyBytes: config.cache.twentyWebhookMaxBodyBytes,
      cities,
      onMetadataChange: learning?.refresh,
    },
  });
  app.use(
    createHealthRouter({
      cache,
      webhooks: invalidation.webhooks,
      metricsToken: config.monitoring.metricsToken,
      twenty: twentyParts ? () => ({ ...describeMapping(listingObject), rateLimit: twentyParts.client.stats() }) : undefined,
    }),
  );
  app.use(invalidation.router);
  const tag = cache.tag;
  app.use(
    createPageRouter({
      listings,
      publicUrl: config.publicUrl,
      tag,
      ttl: cache.ttl,
      degradedTtlSeconds: config.degradedTtlSeconds,
      onDegraded: (part, error, url) => logger.warn({ part, failure: error.failure, err: error, url }, 'page rendered without a part the CRM did not give'),
    }),
  );
  app.use(createImageRouter());
  app.use(createFaviconRouter());
  app.use(createSitemapRouter({ listings, publicUrl: config.publicUrl, maxUrls: config.sitemapMaxUrls, tag }));
  app.use((_req, res) => sendPage(res, errorPage(config.publicUrl, 404, 'This page does not exist.')));
  app.use(pageErrors(config.publicUrl, config.retryAfterSeconds, logger));

  return {
    app,
    handler: cache.front(app),
    pageCache: cache,
    redis,
    logger,
    async close() {
      await cache.close();
      learning?.stop();
      twentyParts?.client.close();
      unlockJournal?.();
      if (!owned) return;
      // QUIT lets replies in flight arrive; while reconnecting it would not stop the retry loop.
      if (redis.status === 'ready') await redis.quit().catch(() => undefined);
      redis.disconnect();
    },
  };
}
