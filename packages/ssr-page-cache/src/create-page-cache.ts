import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { InvalidationBus } from './coordination/invalidation-bus';
import { ConcurrencyLimit, RenderBudget } from './coordination/render-budget';
import { RenderLock } from './coordination/render-lock';
import { SingleFlight } from './coordination/single-flight';
import { RequestContexts, type CacheLogFields } from './flow/context';
import { createPageFlow, type FrontOptions, type Middleware } from './flow/page-flow';
import { compileIgnoredCookies, createBotTest } from './flow/recv';
import { notStoredHeaders } from './flow/store';
import { describeValidationError, invalidateRequestSchema, pageForKey, planInvalidation, type InvalidateRequest, type InvalidateResult } from './invalidate';
import { createInvalidationRouter, type InvalidationRouterOptions } from './invalidation-router';
import { INTERNALS, type PageCacheInternals } from './internals';
import { silentLogger } from './logger';
import { CacheEvents, type CacheEventListener } from './observe/events';
import { readHealth, type CacheHealth } from './observe/health';
import { CacheMetrics } from './observe/metrics';
import { countEvent, createCacheStats } from './observe/stats';
import { PageCacheOptionsError, resolveOptions, type PageCacheOptions } from './options';
import { InvalidationJournal } from './coordination/invalidation-journal';
import { RedisTier } from './redis/redis-tier';
import { WriteBudget } from './redis/write-budget';
import { MemoryTier } from './tiers/memory-tier';
import { TierStack } from './tiers/tier-stack';

export interface PageCache {
  /** `app.use(cache.middleware)` before the routes: answers hits, lets misses render and stores them. */
  readonly middleware: Middleware;
  /** Names what a page shows (`post:hello`), so `invalidate({ tags })` reaches exactly the pages showing it. */
  tag(res: ServerResponse, ...tags: string[]): void;
  /** POST /api/cache/invalidate (or `path`) with a bearer token: `{"tags":[...]}`, keys, paths, patterns, mode. */
  invalidationRouter(options?: InvalidationRouterOptions): Middleware;
  /** Makes pages fresh: removes (hard) or marks stale (soft, refresh) them here, in Redis and on every instance. */
  invalidate(request: InvalidateRequest): Promise<InvalidateResult>;
  /** Counters, hit rates, Redis and breaker state, alerts: for the host's /health. */
  health(): Promise<CacheHealth>;
  /** The prom-client Registry holding the ssr_cache_* metrics. */
  readonly registry: Registry;
  /** True for the background re-render of a stale page (skip view counters and the like). */
  isRefresh(req: IncomingMessage): boolean;
  /**
   * In a route: true when the cache will try to store the response it renders (a miss rendered
   * for the cache, a background re-render), so everything it sends may be shared (skip a visitor
   * cookie, say). False for a request the cache bypasses, or outside cached routes.
   */
  willStore(req: IncomingMessage): boolean;
  /**
   * In a route: the response it is sending is not to be stored (it is sent as written, with
   * `X-Cache-Reason: <reason>`, and counted as a store-skip). `reason`: a short word
   * (letters, digits, `-`, `_`); default `no-store-by-route`.
   */
  noStore(res: ServerResponse, reason?: string): void;
  /**
   * In a route: the page it is sending stays fresh at most `seconds` (a whole number, 1 or more),
   * less than its route's TTL: a page rendered without one of its parts (a related list the data
   * source refused) is kept briefly, then re-rendered in the background while it is served stale.
   * The shortest of several calls wins; a 404 or redirect keeps its own lifetime.
   */
  ttl(res: ServerResponse, seconds: number): void;
  /**
   * A request listener that answers hits before the app (Express builds no request for them, and
   * none of its middleware runs): `http.createServer(cache.front(app))`. `onHit` logs them as
   * the host's request logger would.
   */
  front(app: RequestListener, options?: FrontOptions): RequestListener;
  /** Listens to the cache's event stream (hits, misses, stores, invalidations, breaker changes, ...); returns the removal. */
  on(listener: CacheEventListener): () => void;
  /** What the request log line should say about the cache for this request (for pino-http's customProps). */
  logFields(req: IncomingMessage): CacheLogFields | undefined;
  /** Stops timers and closes the pub/sub connection; the host's Redis client stays open. */
  close(): Promise<void>;
}

const passThrough: Middleware = (_req, _res, next) => next();

/** A reason a route gives `noStore`: a label of metrics and a header value, so a short word. */
const STORE_SKIP_REASON = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Seconds a mark stays in the invalidation record: the longest any entry of these routes lives
 * (fresh, grace, stale-if-error, a negative or redirect entry), with an hour to spare, a day at least.
 */
function recordRetentionSeconds(settings: ReturnType<typeof resolveOptions>): number {
  const longestPage = Math.max(0, ...settings.policies.policies.map((policy) => policy.ttlSeconds + policy.graceSeconds));
  return Math.max(24 * 3600, longestPage + settings.staleIfError + 3600, settings.redirectTtl + 3600, settings.negativeTtl + 3600);
}

/** The page cache: one call, one object (see PageCacheOptions for every setting and its default). */
export function createPageCache(options: PageCacheOptions): PageCache {
  const settings = resolveOptions(options);
  const { redis, policies, keyPrefix, enabled } = settings;
  const logger = settings.logger ?? silentLogger;
  const events = new CacheEvents();
  const stats = createCacheStats();
  events.on((event) => countEvent(stats, event));

  const redisTier = new RedisTier({
    redis,
    logger,
    keyPrefix,
    breaker: { ...settings.breaker },
    commandTimeoutMs: settings.commandTimeoutMs,
    maxNegativeEntries: settings.maxNegativeEntries,
    onGarbage: (kind, count) => events.emit({ type: 'garbage', kind, count }),
    onBreakerChange: (state) => events.emit({ type: 'breaker', state }),
  });
  const memory = enabled && settings.memoryTierBytes > 0 ? new MemoryTier(settings.memoryTierBytes) : undefined;
  // Every instance hears every invalidation, with or without an in-process tier: renders and the host's data depend on it.
  const bus = enabled
    ? new InvalidationBus({
        publisher: redis,
        guard: (publish) => redisTier.call('publish', undefined, undefined, publish),
        // Pub/sub needs a connection of its own: the only one the cache opens.
        subscriber: redis.duplicate(),
        channel: `${keyPrefix}ssr:invalidations`,
        logger,
        onMessage: (message) => tiers.receive(message),
        onGap: () => tiers.onBusGap(),
      })
    : undefined;
  const budget = new WriteBudget({
    redis,
    isUsable: () => redisTier.isUsable(),
    logger,
    maxFraction: settings.redisMemoryFraction,
    intervalMs: settings.redisMemoryCheckMs,
    onChange: (paused) => events.emit({ type: 'write-pause', paused }),
  });
  let journal: InvalidationJournal | undefined;
  try {
    journal = settings.invalidationJournal && enabled ? InvalidationJournal.open(settings.invalidationJournal, { logger }) : undefined;
  } catch (error) {
    throw new PageCacheOptionsError(`createPageCache: invalidationJournal: ${(error as Error).message}`);
  }
  if (journal && journal.recovered.length > 0)
    logger.warn(
      { path: settings.invalidationJournal, invalidations: journal.recovered.length, oldestAcceptedAt: journal.recovered[0]?.acceptedAt },
      'cache: invalidations a stopped process had accepted are applied before any page is read from Redis',
    );
  const tiers: TierStack = new TierStack({
    journal,
    sharedWithPeople: settings.allAgents,
    redis: redisTier,
    memory,
    bus,
    budget,
    onDropped: (message) => logger.error({ ...message }, 'cache: a queued invalidation Redis refused even as a deletion was given up'),
    buildId: settings.buildId,
    onFreshAgain: (seconds) => events.emit({ type: 'fresh-again', seconds }),
    onInvalidate: (origin, { keys, tags = [], patterns }, everything) =>
      events.emit({ type: 'invalidate', origin, keys, tags, patterns, ...(everything ? { everything } : {}) }),
    recordRetentionMs: recordRetentionSeconds(settings) * 1000,
    logger,
  });
  const metrics = new CacheMetrics({ stats, cache: redisTier, tiers, budget, windowMs: settings.healthWindowSeconds * 1000, registry: settings.registry });
  events.on((event) => metrics.observe(event));
  const singleFlight = new SingleFlight({
    lock: new RenderLock({ redis, cache: redisTier, keyPrefix, ttlMs: settings.lockTtlMs }),
    waitMs: settings.lockWaitMs,
    flightTtlMs: settings.lockTtlMs,
    // What another instance's render stored: fresh (of whichever build rendered it: during a
    // rolling deploy the other build's page is what there is), and only while no accepted
    // invalidation waits for Redis.
    readEntry: (key) => tiers.readFresh(key),
    canPoll: () => redisTier.isHealthy(),
    onWaitTimeout: () => events.emit({ type: 'lock-wait-timeout' }),
  });
  const contexts = new RequestContexts();
  const flow = createPageFlow({
    tiers,
    policies,
    events,
    logger,
    contexts,
    isBot: createBotTest(settings.isBot),
    allAgents: settings.allAgents,
    ignoredCookies: compileIgnoredCookies(settings.ignoreCookies),
    liveHeaders: new Set(settings.liveHeaders.map((name) => name.toLowerCase())),
    storeRules: { sharedWithPeople: settings.allAgents, notStored: notStoredHeaders(settings.liveHeaders) },
    maxEntryBytes: settings.maxEntryBytes,
    singleFlight,
    renderTimeoutMs: settings.renderTimeoutMs,
    retryAfterSeconds: settings.retryAfterSeconds,
    renderBudget: settings.renderBudget ? new RenderBudget(settings.renderBudget.perSecond, settings.renderBudget.burst) : undefined,
    refreshLimit: new ConcurrencyLimit(settings.refreshConcurrency),
    lifetimes: { negativeTtl: settings.negativeTtl, redirectTtl: settings.redirectTtl, staleIfError: settings.staleIfError },
    buildId: settings.buildId,
  });

  async function invalidate(request: InvalidateRequest): Promise<InvalidateResult> {
    const checked = invalidateRequestSchema.safeParse(request);
    if (!checked.success) throw new TypeError(`invalidate: ${describeValidationError(checked.error)}`);
    const mode = checked.data.mode;
    const source = request.source ?? 'api';
    const plan = planInvalidation(checked.data, policies);
    const started = performance.now();
    const { deleted, ok, keys, queued, appliedAs, refusedSoft, redisError, refusal, scan } = await tiers.invalidate(
      { keys: plan.keys, patterns: plan.patterns, tags: plan.tags },
      mode === 'hard' ? 'hard' : 'soft',
    );
    // refresh: the exact pages re-render now; pattern matches re-render on their next request.
    const refreshing = mode === 'refresh' && !queued ? keys.map((key) => pageForKey(key, policies)).filter((page) => page !== undefined) : [];
    for (const page of refreshing) void flow.refresh(page);
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    events.emit({ type: 'invalidation', source, mode, keys: deleted, queued });
    const note = refusal
      ? refusal
      : redisError
        ? `Redis answered: ${redisError}`
        : refusedSoft !== undefined
          ? `Redis refused to mark the pages stale (${refusedSoft}): they were deleted instead`
          : undefined;
    const result: InvalidateResult = {
      ok,
      queued,
      mode,
      changed: deleted,
      applied: queued ? 'queued' : !ok ? 'refused' : appliedAs === 'hard' ? 'deleted' : 'marked-stale',
      ...(note ? { note } : {}),
      keys,
      patterns: plan.patterns,
      tags: plan.tags,
      unmatchedPaths: plan.unmatchedPaths,
      refreshing: refreshing.length,
      ...(plan.patterns.length > 0 && scan ? { patternScan: scan } : {}),
      durationMs,
    };
    logger.info({ source, ...result }, 'cache invalidation');
    return result;
  }

  // Queued invalidations go to Redis as soon as it answers, traffic or not; the record is read then too.
  // Nothing is sent after close(): a host quits its client right after, and a command then would fail on it.
  let closed = false;
  const onReady = () =>
    setImmediate(() => {
      if (closed) return;
      void tiers.applyPending();
      if (enabled) void tiers.syncRecord().catch(() => undefined);
    });
  if (enabled && redis.status === 'ready') onReady();
  redis.on('ready', onReady);
  const pendingTimer = setInterval(() => void tiers.applyPending(), 500);
  pendingTimer.unref();

  const internals: PageCacheInternals = { cache: redisTier, tiers, stats, metrics, budget, events };
  const cache: PageCache & { [INTERNALS]: PageCacheInternals } = {
    [INTERNALS]: internals,
    middleware: enabled ? flow.middleware : passThrough,
    registry: metrics.registry,
    tag: (res, ...tags) => contexts.tag(res, tags),
    invalidationRouter: (routerOptions = {}) => createInvalidationRouter(routerOptions, invalidate),
    invalidate,
    health: async () => readHealth({ enabled, redisTier, tiers, budget, stats, metrics, buildId: settings.buildId }),
    isRefresh: (req) => contexts.get(req)?.reportStored !== undefined,
    willStore: (req) => contexts.willStore(req),
    noStore(res, reason = 'no-store-by-route') {
      if (typeof reason !== 'string' || !STORE_SKIP_REASON.test(reason))
        throw new TypeError(`noStore: reason ${JSON.stringify(reason)} must be a short word of letters, digits, "-" or "_" (such as "visitor-cookie")`);
      contexts.noStore(res, reason);
    },
    ttl(res, seconds) {
      if (!Number.isSafeInteger(seconds) || seconds < 1) throw new TypeError(`ttl: seconds must be a whole number of 1 or more, not ${String(seconds)}`);
      contexts.ttl(res, seconds);
    },
    front(app, frontOptions = {}) {
      if (!enabled) return app;
      flow.setRenderTarget(app);
      const serveFromCache = flow.createFrontLookup(frontOptions);
      return (req, res) => {
        let answer: boolean | Promise<boolean>;
        try {
          answer = serveFromCache(req, res);
        } catch {
          answer = false;
        }
        // A hit in the in-process tier is already answered, synchronously.
        if (answer === true) return;
        if (answer === false) return app(req, res);
        answer.then(
          (served) => {
            if (!served) app(req, res);
          },
          () => app(req, res),
        );
      };
    },
    on: (listener) => events.on(listener),
    logFields: (req) => contexts.get(req)?.log,
    async close() {
      closed = true;
      clearInterval(pendingTimer);
      redis.off('ready', onReady);
      // One last bounded try: Redis may answer again in time (a deploy during a short outage).
      if (tiers.pending.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, settings.commandTimeoutMs * 4);
        });
        await Promise.race([tiers.applyPending(), deadline]).finally(() => clearTimeout(timer));
      }
      if (tiers.pending.size > 0) {
        // Without a journal there is nowhere else to keep them: say exactly what Redis never got, so it can be replayed.
        (journal ? logger.warn.bind(logger) : logger.error.bind(logger))(
          { pending: tiers.pending.describe(), oldestAcceptedAt: tiers.pending.oldestAcceptedAt },
          journal
            ? 'cache: closing with invalidations Redis never received: the journal keeps them for the next start'
            : 'cache: closing with invalidations Redis never received',
        );
      }
      budget.stop();
      redisTier.stop();
      // Its metrics leave the registry with it: a cache made after this one may register them again.
      metrics.unregister();
      await bus?.close();
      journal?.close();
    },
  };
  return cache;
}
