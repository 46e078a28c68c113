import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import inject from 'light-my-request';
import { computeEtag, createEntry } from '../utils/cache-entry';
import { resolvePage, type ResolvedPage } from '../utils/cache-key';
import { responseTags } from '../utils/cache-tags';
import { compressForStorage, decodeSentBody, preferredEncoding, STORED_ENCODING } from '../utils/content-encoding';
import type { PolicyTable } from '../utils/cache-policy';
import type { CacheMetrics } from '../utils/cache-metrics';
import type { CacheStats } from '../utils/cache-stats';
import type { Logger } from '../utils/logger';
import type { CacheEntry } from '../utils/cache-entry';
import type { PreparedPage } from '../utils/prepared-page';
import type { SingleFlight } from '../utils/single-flight';
import type { TierStack } from '../utils/tier-stack';
import { isBotAgent } from './bot-detection';
import { captureResponseBody, type CapturedBody } from './response-capture';

export type CacheOutcome = 'HIT' | 'STALE' | 'MISS' | 'BYPASS';

export interface CacheMiddlewareOptions {
  tiers: TierStack;
  policies: PolicyTable;
  stats: CacheStats;
  /** Prometheus metrics and /health's rolling window; absent: only `stats` counts. */
  metrics?: CacheMetrics;
  logger: Logger;
  /** Cache for every user agent, not only bots. */
  allAgents: boolean;
  /** Larger pages are served but not stored. */
  maxEntryBytes: number;
  /** Coalesces concurrent misses of one page into one render; absent: every miss renders. */
  singleFlight?: SingleFlight;
  /**
   * The app, for re-renders no client waits for (stale pages, refresh invalidations). Absent:
   * a stale page is re-rendered on the request's path instead of served.
   */
  render?: RequestListener;
  /** A background re-render slower than this is abandoned and counted; the stale page stays. */
  renderTimeoutMs?: number;
}

const RENDER_TIMEOUT_PAGE =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Please try again</title></head>' +
  '<body><h1>This page took too long to load</h1><p>Please try again in a moment.</p></body></html>';

/** The User-Agent of background re-renders, for the route's logs. */
export const REFRESH_USER_AGENT = 'ssr-page-cache-refresh';

/** What the request log line says about the cache (read by pino-http's customProps). */
export interface CacheLogFields {
  cache: CacheOutcome;
  key?: string;
  route: string;
  /** Where a hit came from: a tier, or another request's render it waited for. */
  tier?: 'memory' | 'redis' | 'coalesced';
  lookupMs?: number;
}

const DEFAULT_CONTENT_TYPE = 'text/html; charset=utf-8';
const UNCACHEABLE_CACHE_CONTROL = /\b(private|no-store|no-cache)\b/i;
/** The cache keeps one page per URL (and codings of it): a response that varies on more is not shared. */
const VARIES_ON_MORE = /(^|,)\s*(?!accept-encoding\s*(,|$))[^,\s]/i;

export function cacheLogFields(res: Response): CacheLogFields | undefined {
  return res.locals.cache as CacheLogFields | undefined;
}

/** recv: may this request be answered from, and stored into, the shared cache? */
function isCacheableRequest(req: IncomingMessage & { isBot?: boolean }, allAgents: boolean): boolean {
  req.isBot ??= isBotAgent(req.headers['user-agent']);
  if (!allAgents && !req.isBot) return false;
  // Credentials mean a page made for one user: never shared (Varnish's built-in rule).
  return req.headers.authorization === undefined && req.headers.cookie === undefined;
}

/** store: why a rendered response must not be stored, or undefined when it may be. */
export function uncacheableReason(req: IncomingMessage, res: ServerResponse, captured: CapturedBody): string | undefined {
  if (req.method !== 'GET') return 'method';
  if (res.statusCode !== 200) return 'status';
  if (res.getHeader('set-cookie') !== undefined) return 'set-cookie';
  if (UNCACHEABLE_CACHE_CONTROL.test(String(res.getHeader('cache-control') ?? ''))) return 'cache-control';
  if (VARIES_ON_MORE.test(String(res.getHeader('vary') ?? ''))) return 'vary';
  if (captured.body === undefined) return 'too-large';
  if (captured.body.length === 0) return 'empty';
  return undefined;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** deliver: a stored representation with its precomputed headers; nothing hashed or re-encoded. */
function deliverHit(req: IncomingMessage, res: ServerResponse, tiers: TierStack, key: string, page: PreparedPage, log: CacheLogFields): void {
  const extra = [
    'X-Cache', log.cache,
    'Age', Math.max(0, Math.floor((Date.now() - page.entry.storedAt) / 1000)),
    'Server-Timing', `cache;desc="${log.cache} ${log.tier}";dur=${log.lookupMs}`,
  ];
  if (log.tier === 'coalesced') extra.push('X-Cache-Coalesced', '1');
  const variant = tiers.variant(key, page, preferredEncoding(req.headers['accept-encoding']));
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && page.matchesIfNoneMatch(ifNoneMatch)) {
    res.writeHead(304, ['ETag', variant.etag, 'Vary', 'Accept-Encoding', ...extra]);
    res.end();
    return;
  }
  res.writeHead(page.entry.status, [...variant.headers, ...extra]);
  res.end(req.method === 'HEAD' ? undefined : variant.body);
}

/** What the lookup decided for a request that Express must handle. */
type Decision =
  | { kind: 'not-cached' }
  | { kind: 'bypass' }
  /**
   * `share` hands the rendered page to requests waiting here, `done` reports the stored page (or
   * none) once the write is over; the render began at `since`.
   */
  | { kind: 'miss'; page: ResolvedPage; since: number; share?: (entry: CacheEntry) => void; done?: (entry: CacheEntry | undefined) => void };
const NOT_CACHED: Decision = { kind: 'not-cached' };
const BYPASS: Decision = { kind: 'bypass' };

export interface PageCache {
  /** Express middleware in front of the page routes: looks up (unless done already), stores misses. */
  middleware: RequestHandler;
  /** Answers a request from the cache before Express sees it; false when Express must render. */
  serveFromCache(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Re-renders a page in the background, once across instances; resolves when done or abandoned. */
  refresh(page: ResolvedPage): Promise<void>;
}

/**
 * The page cache, in the stages of a proxy cache: recv (bot GET/HEAD on a cached route),
 * hash (canonical URL and key), lookup (in-process tier, then Redis), deliver a HIT, or
 * fetch (let the route render) and store what it sent.
 */
export function createPageCache(options: CacheMiddlewareOptions): PageCache {
  const { tiers, policies, stats, metrics, logger, allAgents, maxEntryBytes, singleFlight, render, renderTimeoutMs = 10_000 } = options;
  const decided = new WeakMap<IncomingMessage, Decision>();
  /** Background re-renders: they skip the lookup, always render and store, and report the stored page. */
  const forced = new WeakMap<IncomingMessage, (entry: CacheEntry | undefined) => void>();
  const refreshing = new Set<string>();
  const logHits = logger.isLevelEnabled('info');

  async function store(
    req: IncomingMessage,
    res: ServerResponse,
    page: ResolvedPage,
    since: number,
    captured: CapturedBody,
    share?: (entry: CacheEntry) => void,
  ): Promise<CacheEntry | undefined> {
    const reason = uncacheableReason(req, res, captured);
    const identity = reason === undefined ? await decodeSentBody(captured.body as Buffer, captured.encoding) : undefined;
    if (!identity) {
      if (reason === 'too-large') stats.oversized += 1;
      else stats.storeSkips += 1;
      logger.debug({ key: page.key, reason: reason ?? 'content-encoding' }, 'cache: response not stored');
      return undefined;
    }
    const entry = createEntry({
      status: res.statusCode,
      contentType: String(res.getHeader('content-type') ?? DEFAULT_CONTENT_TYPE),
      freshTtl: page.policy.ttlSeconds,
      grace: page.policy.graceSeconds,
      tags: responseTags(res),
      etag: computeEtag(identity),
      encoding: STORED_ENCODING,
      body: await compressForStorage(identity),
    });
    // Waiting requests need not wait for Redis too (a slow Redis would make them wait twice).
    share?.(entry);
    const outcome = await tiers.set(page.key, entry, since);
    if (outcome === 'stored') stats.stores += 1;
    else if (outcome === 'over-budget') stats.budgetSkips += 1;
    else if (outcome === 'not-stored') stats.writeFailures += 1;
    return entry;
  }

  /** recv, hash, lookup and, on a hit, deliver; otherwise what Express must do. */
  async function lookup(req: IncomingMessage, res: ServerResponse & { locals?: Record<string, unknown> }): Promise<Decision | 'served'> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return NOT_CACHED;
    const page = resolvePage(req.url ?? '', policies);
    if (!page) return NOT_CACHED;
    const log: CacheLogFields = { cache: 'BYPASS', route: page.policy.route };
    res.locals ??= Object.create(null) as Record<string, unknown>;
    res.locals.cache = log;

    const reportStored = forced.get(req);
    if (reportStored) {
      log.cache = 'MISS';
      log.key = page.key;
      stats.renders += 1;
      metrics?.renderStarted(page.policy.route, 'refresh');
      return { kind: 'miss', page, since: Date.now(), done: reportStored };
    }

    if (!isCacheableRequest(req, allAgents)) {
      stats.bypasses += 1;
      metrics?.request(page.policy.route, 'BYPASS');
      res.setHeader('X-Cache', 'BYPASS');
      return BYPASS;
    }

    // hash: the route renders exactly the page the key names, so a variant the key folds
    // away (parameter order, repeats, junk) can never be stored under another page's key.
    req.url = page.url;
    log.key = page.key;
    const started = performance.now();
    const hit = await tiers.get(page.key);
    const lookupMs = performance.now() - started;
    log.lookupMs = roundMs(lookupMs);
    metrics?.lookup(hit ? hit.tier : 'miss', lookupMs / 1000);

    if (hit && !hit.stale) {
      stats.hits += 1;
      if (hit.tier === 'memory') stats.memoryHits += 1;
      log.cache = 'HIT';
      log.tier = hit.tier;
      metrics?.request(page.policy.route, 'HIT');
      deliverHit(req, res, tiers, page.key, hit.page, log);
      return 'served';
    }
    // Stale within grace: the client gets it now, one re-render runs behind it.
    if (hit && render) {
      stats.hits += 1;
      stats.staleServed += 1;
      log.cache = 'STALE';
      log.tier = hit.tier;
      metrics?.request(page.policy.route, 'STALE');
      deliverHit(req, res, tiers, page.key, hit.page, log);
      void refresh(page);
      return 'served';
    }

    // fetch, once: concurrent misses of this page (here or on another instance) wait for one render.
    let done: ((entry: CacheEntry | undefined) => void) | undefined;
    let share: ((entry: CacheEntry) => void) | undefined;
    if (singleFlight && req.method === 'GET') {
      const flight = await singleFlight.join(page.key);
      if (flight.role === 'leader') ({ done, share } = flight);
      else if (flight.entry) {
        stats.hits += 1;
        stats.coalescedWaits += 1;
        log.cache = 'HIT';
        log.tier = 'coalesced';
        log.lookupMs = roundMs(performance.now() - started);
        metrics?.request(page.policy.route, 'HIT');
        deliverHit(req, res, tiers, page.key, tiers.prepare(page.key, flight.entry), log);
        return 'served';
      }
    }

    stats.misses += 1;
    stats.renders += 1;
    metrics?.request(page.policy.route, 'MISS');
    metrics?.renderStarted(page.policy.route, 'request');
    log.cache = 'MISS';
    res.setHeader('X-Cache', 'MISS');
    res.setHeader('Server-Timing', `cache;desc="MISS";dur=${log.lookupMs}`);
    return { kind: 'miss', page, since: Date.now(), share, done };
  }

  async function refresh(page: ResolvedPage): Promise<void> {
    if (!render || refreshing.has(page.key)) return;
    refreshing.add(page.key);
    try {
      const release = singleFlight ? await singleFlight.tryLock(page.key) : () => undefined;
      if (!release) return; // another instance is re-rendering it
      stats.backgroundRefreshes += 1;
      const started = performance.now();
      // Done when the new page is stored, not when the render ends: until then the stale page
      // is all there is, and a second refresh must not start.
      let reportStored!: (entry: CacheEntry | undefined) => void;
      const stored = new Promise<CacheEntry | undefined>((resolve) => {
        reportStored = resolve;
      });
      const rendering = inject(
        (req, res) => {
          forced.set(req, reportStored);
          render(req, res);
        },
        { method: 'GET', url: page.url, headers: { 'user-agent': REFRESH_USER_AGENT, 'accept-encoding': 'identity' } },
      ).then(
        async (res) => {
          if (res.statusCode < 400) await stored;
          return res.statusCode;
        },
        (error: unknown) => error,
      );
      void rendering.finally(release);
      const outcome = await Promise.race([
        rendering,
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), renderTimeoutMs).unref()),
      ]);
      const durationMs = roundMs(performance.now() - started);
      if (typeof outcome === 'number' && outcome < 400) {
        logger.debug({ key: page.key, status: outcome, durationMs }, 'cache: background refresh done');
        return;
      }
      if (typeof outcome === 'number' && outcome < 500) {
        // The page is gone (a deleted listing): its stale copy must not outlive it.
        await tiers.invalidate({ keys: [page.key], patterns: [] });
        logger.info({ key: page.key, status: outcome, durationMs }, 'cache: page gone on re-render, stale copy removed');
        return;
      }
      // stale-if-error: the stale page stays and is served until a render succeeds or grace ends.
      stats.renderErrors += 1;
      logger.warn(
        { key: page.key, durationMs, ...(typeof outcome === 'number' ? { status: outcome } : outcome === 'timeout' ? { timeoutMs: renderTimeoutMs } : { err: outcome }) },
        'cache: background refresh failed, the stale page stays',
      );
    } finally {
      refreshing.delete(page.key);
    }
  }

  return {
    refresh,

    async serveFromCache(req, res) {
      const started = logHits ? performance.now() : 0;
      const decision = await lookup(req, res);
      if (decision !== 'served') {
        decided.set(req, decision);
        return false;
      }
      // Express's request logger never sees this request: say what it would have said.
      if (logHits) {
        const log = (res as ServerResponse & { locals: { cache: CacheLogFields } }).locals.cache;
        logger.info({ req: { method: req.method, url: req.url }, res: { statusCode: res.statusCode }, ...log, durationMs: roundMs(performance.now() - started) }, 'request completed');
      }
      return true;
    },

    middleware: async function cacheMiddleware(req, res, next) {
      let decision = decided.get(req);
      if (!decision) {
        const outcome = await lookup(req, res);
        if (outcome === 'served') return;
        decision = outcome;
      }
      if (decision.kind === 'miss') {
        const { page, since, share, done } = decision;
        const trigger = forced.has(req) ? 'refresh' : 'request';
        let timer: NodeJS.Timeout | undefined;
        const capture = captureResponseBody(res, maxEntryBytes, (captured) => {
          clearTimeout(timer);
          metrics?.rendered(page.policy.route, trigger, (Date.now() - since) / 1000);
          store(req, res, page, since, captured, share).then(
            (entry) => done?.(entry),
            (error: unknown) => {
              done?.(undefined);
              logger.warn({ err: error, key: page.key }, 'cache: store failed');
            },
          );
        });
        // A client never waits on a render longer than SSR_RENDER_TIMEOUT_MS: it gets a 504, nothing is stored.
        if (trigger === 'request') {
          timer = setTimeout(() => {
            if (!capture.takeOver(504, RENDER_TIMEOUT_PAGE)) return;
            stats.renderErrors += 1;
            done?.(undefined);
            logger.warn({ key: page.key, timeoutMs: renderTimeoutMs }, 'cache: render timed out, answered 504');
          }, renderTimeoutMs);
          timer.unref();
        }
      }
      next();
    },
  };
}

/** The Express middleware alone, for a server that mounts the cache in front of its routes. */
export function createCacheMiddleware(options: CacheMiddlewareOptions): RequestHandler {
  return createPageCache(options).middleware;
}

/**
 * A request listener that answers cache hits before Express builds its request (no router,
 * no prototype swap), and hands everything else to the app, where the middleware stores misses.
 */
export function withCacheFront(pageCache: PageCache, app: RequestListener): RequestListener {
  return (req, res) => {
    pageCache.serveFromCache(req, res).then(
      (served) => {
        if (!served) app(req, res);
      },
      () => app(req, res),
    );
  };
}
