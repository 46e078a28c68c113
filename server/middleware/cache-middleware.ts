import type { Request, RequestHandler, Response } from 'express';
import { createEntry, type CacheEntry } from '../utils/cache-entry';
import { resolvePage, type ResolvedPage } from '../utils/cache-key';
import type { CacheManager } from '../utils/cache-manager';
import type { PolicyTable } from '../utils/cache-policy';
import type { CacheStats } from '../utils/cache-stats';
import type { Logger } from '../utils/logger';
import { captureResponseBody } from './response-capture';

export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS';

export interface CacheMiddlewareOptions {
  cache: CacheManager;
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
export function uncacheableReason(req: Request, res: Response, body: Buffer | undefined): string | undefined {
  if (req.method !== 'GET') return 'method';
  if (res.statusCode !== 200) return 'status';
  if (res.getHeader('set-cookie') !== undefined) return 'set-cookie';
  if (UNCACHEABLE_CACHE_CONTROL.test(String(res.getHeader('cache-control') ?? ''))) return 'cache-control';
  const encoding = res.getHeader('content-encoding');
  if (encoding !== undefined && encoding !== 'identity') return 'content-encoding';
  if (body === undefined) return 'too-large';
  if (body.length === 0) return 'empty';
  return undefined;
}

function ageSeconds(entry: CacheEntry): number {
  return Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000));
}

/** deliver: the stored page as it is, with precomputed headers and no re-rendering. */
function deliverHit(req: Request, res: Response, entry: CacheEntry): void {
  const headers: Record<string, string | number> = {
    'Content-Type': entry.contentType,
    ETag: entry.etag,
    Age: ageSeconds(entry),
    'X-Cache': 'HIT',
  };
  if (req.headers['if-none-match'] === entry.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['Content-Length'] = entry.body.length;
  res.writeHead(entry.status, headers);
  res.end(req.method === 'HEAD' ? undefined : entry.body);
}

/**
 * The page cache, in front of the route handlers, in the stages of a proxy cache:
 * recv (bot GET/HEAD on a cached route), hash (canonical URL and key), lookup (Redis),
 * deliver a HIT, or fetch (let the route render) and store what it sent.
 */
export function createCacheMiddleware(options: CacheMiddlewareOptions): RequestHandler {
  const { cache, policies, stats, logger, allAgents, maxEntryBytes } = options;

  function store(req: Request, res: Response, page: ResolvedPage, body: Buffer | undefined): void {
    const reason = uncacheableReason(req, res, body);
    if (reason !== undefined || body === undefined) {
      stats.storeSkips += 1;
      logger.debug({ key: page.key, reason }, 'cache: response not stored');
      return;
    }
    const entry = createEntry({
      status: res.statusCode,
      contentType: String(res.getHeader('content-type') ?? DEFAULT_CONTENT_TYPE),
      freshTtl: page.policy.ttlSeconds,
      body,
    });
    void cache.set(page.key, entry).then((stored) => {
      if (stored) stats.stores += 1;
      else stats.storeSkips += 1;
    });
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
    const entry = await cache.get(page.key);
    log.lookupMs = Math.round((performance.now() - started) * 1000) / 1000;

    if (entry) {
      stats.hits += 1;
      log.cache = 'HIT';
      deliverHit(req, res, entry);
      return;
    }

    stats.misses += 1;
    log.cache = 'MISS';
    res.setHeader('X-Cache', 'MISS');
    captureResponseBody(res, maxEntryBytes, (body) => store(req, res, page, body));
    next();
  };
}
