import type { RequestListener } from 'node:http';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { pageCachePolicies, type Config } from './config';
import { createListingSource } from './listings';
import { ListingSourceError, type ListingSource } from './listings/listing';
import { botDetection } from './middleware/bot-detection';
import { cacheLogFields, createPageCache, withCacheFront } from './middleware/cache-middleware';
import { createInvalidationRouter } from './routes/cache-invalidation';
import { createHealthRouter } from './routes/health';
import { createPageRouter, sendPage } from './routes/pages';
import { createSitemapRouter } from './routes/sitemap';
import { errorPage } from './ssr/error-page';
import { createCacheManager, type CacheManager } from './utils/cache-manager';
import { InvalidationBus } from './utils/invalidation-bus';
import { RenderLock } from './utils/render-lock';
import { SingleFlight } from './utils/single-flight';
import { MemoryTier } from './utils/memory-tier';
import { TierStack } from './utils/tier-stack';
import { WriteBudget } from './utils/write-budget';
import { createPolicyTable, type CachePolicy } from './utils/cache-policy';
import { createCacheStats, type CacheStats } from './utils/cache-stats';
import { CacheMetrics } from './utils/cache-metrics';
import { createLogger, type Logger } from './utils/logger';
import { adoptRedisClient, createRedisClient, describeRedisTarget, type RedisClient } from './utils/redis-client';

export interface AppDeps {
  config: Config;
  /** An embedding server's own ioredis client; used as is when it fails fast, else duplicated. */
  redis?: RedisClient;
  listings?: ListingSource;
  logger?: Logger;
  /** Replaces the default per-route table (pageCachePolicies) for an embedding server's routes. */
  cachePolicies?: CachePolicy[];
}

export interface AppHandle {
  /** The Express app: the cache is a middleware in front of the page routes. */
  app: Express;
  /** The app behind the cache front, which answers hits before Express: give this to http.createServer. */
  handler: RequestListener;
  /** The Redis tier. */
  cache: CacheManager;
  /** Every tier, in lookup order. */
  tiers: TierStack;
  budget: WriteBudget;
  stats: CacheStats;
  /** Prometheus metrics (GET /metrics) and /health's rolling window. */
  metrics: CacheMetrics;
  redis: RedisClient;
  logger: Logger;
  /** Closes what the app opened (its Redis connection); an embedding server's client stays open. */
  close(): Promise<void>;
}

function pageErrors(publicUrl: string, logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const status =
      error instanceof ListingSourceError
        ? error.httpStatus
        : typeof error?.status === 'number' && error.status >= 400 && error.status < 500
          ? error.status
          : 500;
    if (status >= 500) logger.error({ err: error, url: req.originalUrl }, 'page failed');
    if (res.headersSent) return res.end();
    const message = status === 400 ? 'The address of this page is not valid.' : 'Please try again in a moment.';
    sendPage(res, errorPage(publicUrl, status, status === 404 ? 'This page does not exist.' : message));
  };
}

/** Wiring only: config -> Redis -> cache -> middleware and routes. Used by index.ts and every test. */
export function createApp(deps: AppDeps): AppHandle {
  const { config } = deps;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const { client: redis, owned } = deps.redis
    ? adoptRedisClient(deps.redis, config.redis, logger)
    : { client: createRedisClient(config.redis, logger), owned: true };
  const cache = createCacheManager({
    redis,
    logger,
    keyPrefix: config.redis.keyPrefix,
    defaultTtlSeconds: config.cache.defaultTtlSeconds,
    breaker: { failureThreshold: config.redis.breakerThreshold, cooldownMs: config.redis.breakerCooldownMs },
    commandTimeoutMs: config.redis.commandTimeoutMs,
    target: describeRedisTarget(config.redis),
  });
  const stats = createCacheStats();
  const policies = createPolicyTable(deps.cachePolicies ?? pageCachePolicies(config.cache));
  const listings = deps.listings ?? createListingSource(config.listings);

  const memory = config.cache.enabled && config.cache.memoryTierBytes > 0 ? new MemoryTier(config.cache.memoryTierBytes) : undefined;
  const bus = memory
    ? new InvalidationBus({
        publisher: redis,
        guard: (publish) => cache.call('publish', undefined, undefined, publish),
        subscriber: redis.duplicate(),
        channel: `${config.redis.keyPrefix}ssr:invalidations`,
        logger,
        onMessage: (message) => tiers.dropFromMemory(message),
        onGap: () => memory.clear(),
      })
    : undefined;
  const budget = new WriteBudget({
    redis,
    isUsable: () => cache.isUsable(),
    logger,
    maxFraction: config.cache.redisMemoryFraction,
    intervalMs: config.cache.redisMemoryCheckMs,
  });
  const tiers: TierStack = new TierStack({ redis: cache, memory, bus, budget });
  const metrics = new CacheMetrics({ stats, cache, tiers, budget, windowMs: config.monitoring.windowSeconds * 1000 });
  const singleFlight = new SingleFlight({
    lock: new RenderLock({ redis, cache, keyPrefix: config.redis.keyPrefix, ttlMs: config.cache.lockTtlMs }),
    waitMs: config.cache.lockWaitMs,
    flightTtlMs: config.cache.lockTtlMs,
    readEntry: (key) => cache.get(key),
    canPoll: () => cache.isHealthy(),
    onWaitTimeout: () => {
      stats.lockWaitTimeouts += 1;
    },
  });

  const app = express();
  app.disable('x-powered-by');
  // pino-http builds a child logger per request even when it would not log: skip it then.
  if (logger.isLevelEnabled('info')) {
    app.use(
      pinoHttp({
        logger,
        customAttributeKeys: { responseTime: 'durationMs' },
        customProps: (_req, res) => ({ ...cacheLogFields(res as express.Response) }),
      }),
    );
  }
  app.use(botDetection);
  const pageCache = config.cache.enabled
    ? createPageCache({
        tiers,
        policies,
        stats,
        metrics,
        logger,
        singleFlight,
        render: (req, res) => app(req, res),
        renderTimeoutMs: config.cache.renderTimeoutMs,
        allAgents: config.cache.allAgents,
        maxEntryBytes: config.cache.maxEntryBytes,
      })
    : undefined;
  if (pageCache) app.use(pageCache.middleware);
  app.use(createHealthRouter({ cache, tiers, budget, stats, metrics, cacheConfigured: config.cache.enabled, metricsToken: config.monitoring.metricsToken }));
  app.use(
    createInvalidationRouter({
      tiers,
      cache,
      policies,
      stats,
      metrics,
      logger,
      token: config.cache.invalidationToken,
      twenty: {
        secret: config.cache.twentyWebhookSecret,
        toleranceMs: config.cache.twentyWebhookToleranceMs,
        mode: config.cache.twentyWebhookMode,
        listingObject: config.cache.twentyWebhookObject,
      },
      refresh: pageCache ? (page) => pageCache.refresh(page) : undefined,
    }),
  );
  app.use(createPageRouter({ listings, publicUrl: config.publicUrl }));
  app.use(createSitemapRouter({ listings, publicUrl: config.publicUrl, maxUrls: config.sitemapMaxUrls }));
  app.use((_req, res) => sendPage(res, errorPage(config.publicUrl, 404, 'This page does not exist.')));
  app.use(pageErrors(config.publicUrl, logger));

  return {
    app,
    handler: pageCache ? withCacheFront(pageCache, app) : app,
    cache,
    tiers,
    budget,
    stats,
    metrics,
    redis,
    logger,
    async close() {
      budget.stop();
      cache.stop();
      await bus?.close();
      if (!owned) return;
      // QUIT lets replies in flight arrive; while reconnecting it would not stop the retry loop.
      if (redis.status === 'ready') await redis.quit().catch(() => undefined);
      redis.disconnect();
    },
  };
}
