import type { Request, RequestHandler, Response } from 'express';
import { computeEtag, createEntry } from '../utils/cache-entry';
import { resolvePage, type ResolvedPage } from '../utils/cache-key';
import { compressForStorage, decodeSentBody, preferredEncoding, STORED_ENCODING } from '../utils/content-encoding';
import type { PolicyTable } from '../utils/cache-policy';
import type { CacheStats } from '../utils/cache-stats';
import type { Logger } from '../utils/logger';
import type { TierHit, TierStack } from '../utils/tier-stack';
import { captureResponseBody, type CapturedBody } from './response-capture';

export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS';

export interface CacheMiddlewareOptions {
  tiers: TierStack;
  policies: PolicyTable;
  stats: CacheStats;
  logger: Logger;
  /** Cache for every user agent, not only bots. */
  allAgents: boolean;
  /** Larger pages are served but not stored. */
  maxEntryBytes: number;
}

/** What the request log line says about the cache (read by pino-http's customProps). */
export interface CacheLogFields {
  cache: CacheOutcome;
  key?: string;
  route: string;
  tier?: TierHit['tier'];
  lookupMs?: number;
}

const DEFAULT_CONTENT_TYPE = 'text/html; charset=utf-8';
const UNCACHEABLE_CACHE_CONTROL = /\b(private|no-store|no-cache)\b/i;

export function cacheLogFields(res: Response): CacheLogFields | undefined {
  return res.locals.cache as CacheLogFields | undefined;
}

/** recv: may this request be answered from, and stored into, the shared cache? */
function isCacheableRequest(req: Request, allAgents: boolean): boolean {
  if (!allAgents && req.isBot !== true) return false;
  // Credentials mean a page made for one user: never shared (Varnish's built-in rule).
  return req.headers.authorization === undefined && req.headers.cookie === undefined;
}

/** store: why a rendered response must not be stored, or undefined when it may be. */
export function uncacheableReason(req: Request, res: Response, captured: CapturedBody): string | undefined {
  if (req.method !== 'GET') return 'method';
  if (res.statusCode !== 200) return 'status';
  if (res.getHeader('set-cookie') !== undefined) return 'set-cookie';
  if (UNCACHEABLE_CACHE_CONTROL.test(String(res.getHeader('cache-control') ?? ''))) return 'cache-control';
  if (captured.body === undefined) return 'too-large';
  if (captured.body.length === 0) return 'empty';
  return undefined;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** deliver: a stored representation with its precomputed headers; nothing hashed or re-encoded. */
function deliverHit(req: Request, res: Response, tiers: TierStack, key: string, hit: TierHit, lookupMs: number): void {
  const { page } = hit;
  const extra = [
    'X-Cache', 'HIT',
    'Age', Math.max(0, Math.floor((Date.now() - page.entry.storedAt) / 1000)),
    'Server-Timing', `cache;desc="HIT ${hit.tier}";dur=${lookupMs}`,
  ];
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && page.matchesIfNoneMatch(ifNoneMatch)) {
    const variant = tiers.variant(key, page, page.entry.encoding);
    res.writeHead(304, ['ETag', variant.etag, 'Vary', 'Accept-Encoding', ...extra]);
    res.end();
    return;
  }
  const variant = tiers.variant(key, page, preferredEncoding(req.headers['accept-encoding']));
  res.writeHead(page.entry.status, [...variant.headers, ...extra]);
  res.end(req.method === 'HEAD' ? undefined : variant.body);
}

/**
 * The page cache, in front of the route handlers, in the stages of a proxy cache:
 * recv (bot GET/HEAD on a cached route), hash (canonical URL and key), lookup (in-process
 * tier, then Redis), deliver a HIT, or fetch (let the route render) and store what it sent.
 */
export function createCacheMiddleware(options: CacheMiddlewareOptions): RequestHandler {
  const { tiers, policies, stats, logger, allAgents, maxEntryBytes } = options;

  async function store(req: Request, res: Response, page: ResolvedPage, captured: CapturedBody): Promise<void> {
    const reason = uncacheableReason(req, res, captured);
    const identity = reason === undefined ? await decodeSentBody(captured.body as Buffer, captured.encoding) : undefined;
    if (!identity) {
      if (reason === 'too-large') stats.oversized += 1;
      else stats.storeSkips += 1;
      logger.debug({ key: page.key, reason: reason ?? 'content-encoding' }, 'cache: response not stored');
      return;
    }
    const entry = createEntry({
      status: res.statusCode,
      contentType: String(res.getHeader('content-type') ?? DEFAULT_CONTENT_TYPE),
      freshTtl: page.policy.ttlSeconds,
      etag: computeEtag(identity),
      encoding: STORED_ENCODING,
      body: await compressForStorage(identity),
    });
    const outcome = await tiers.set(page.key, entry);
    if (outcome === 'stored') stats.stores += 1;
    else if (outcome === 'over-budget') stats.budgetSkips += 1;
    else if (outcome === 'not-stored') stats.writeFailures += 1;
  }

  return async function cacheMiddleware(req, res, next) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const page = resolvePage(req.url, policies);
    if (!page) return next();
    const log: CacheLogFields = { cache: 'BYPASS', route: page.policy.route };
    res.locals.cache = log;

    if (!isCacheableRequest(req, allAgents)) {
      stats.bypasses += 1;
      res.setHeader('X-Cache', 'BYPASS');
      return next();
    }

    // hash: the route renders exactly the page the key names, so a variant the key folds
    // away (parameter order, repeats, junk) can never be stored under another page's key.
    req.url = page.url;
    log.key = page.key;
    const started = performance.now();
    const hit = await tiers.get(page.key);
    log.lookupMs = roundMs(performance.now() - started);

    if (hit) {
      stats.hits += 1;
      if (hit.tier === 'memory') stats.memoryHits += 1;
      log.cache = 'HIT';
      log.tier = hit.tier;
      deliverHit(req, res, tiers, page.key, hit, log.lookupMs);
      return;
    }

    stats.misses += 1;
    log.cache = 'MISS';
    res.setHeader('X-Cache', 'MISS');
    res.setHeader('Server-Timing', `cache;desc="MISS";dur=${log.lookupMs}`);
    captureResponseBody(res, maxEntryBytes, (captured) => {
      store(req, res, page, captured).catch((error: unknown) => logger.warn({ err: error, key: page.key }, 'cache: store failed'));
    });
    next();
  };
}
