import type { ServerResponse } from 'node:http';
import { computeEtag, createEntry, CSP_HEADERS, cspHasNonce, DEFAULT_CONTENT_TYPE, type CacheEntry, type StoredHeader } from '../entry/cache-entry';
import { compressForStorage, decodeSentBody, STORED_ENCODING } from '../entry/content-encoding';
import type { ResolvedPage } from '../key';
import type { Logger } from '../logger';
import type { CacheEvents } from '../observe/events';
import type { TierStack } from '../tiers/tier-stack';
import type { CapturedBody } from './capture';
import type { StoreSkipReason } from './context';

const UNCACHEABLE_CACHE_CONTROL = /\b(private|no-store|no-cache)\b/i;
/** The cache keeps one page per URL (and codings of it): a response that varies on more is not shared. */
const VARIES_ON_MORE = /(^|,)\s*(?!accept-encoding\s*(,|$))[^,\s]/i;

/**
 * Headers a hit does not replay from the stored response: hop-by-hop ones, those that describe
 * one representation or one answer (the hit computes its own), and cookies (never shared).
 */
const NOT_STORED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-encoding',
  'content-type',
  'etag',
  'vary',
  'date',
  'age',
  'set-cookie',
  'x-cache',
  'x-cache-coalesced',
  'x-cache-reason',
  'server-timing',
]);

/** How long stored answers live: pages by their route, 404/410 and permanent redirects by their own settings. */
export interface StoreLifetimes {
  /** Seconds a 404 or 410 is stored; 0: never. */
  negativeTtl: number;
  /** Seconds a 301 or 308 is stored; 0: never. */
  redirectTtl: number;
  /** Seconds a page is kept past grace for stale-if-error. */
  staleIfError: number;
}

interface Lifetime {
  freshTtl: number;
  grace: number;
  keep: number;
}

/**
 * The lifetime of a response of this status, or undefined when the status is not stored. A
 * 404 or redirect gets no grace and no stale-if-error: a record created must show at once.
 */
export function lifetimeFor(status: number, page: ResolvedPage, lifetimes: StoreLifetimes): Lifetime | undefined {
  if (status === 200) return { freshTtl: page.policy.ttlSeconds, grace: page.policy.graceSeconds, keep: lifetimes.staleIfError };
  if ((status === 404 || status === 410) && lifetimes.negativeTtl > 0) return { freshTtl: lifetimes.negativeTtl, grace: 0, keep: 0 };
  if ((status === 301 || status === 308) && lifetimes.redirectTtl > 0) return { freshTtl: lifetimes.redirectTtl, grace: 0, keep: 0 };
  return undefined;
}

/** What one cache instance stores, its settings read once. */
export interface StoreRules {
  /** Pages are shared with people (the allAgents option): a page whose CSP carries a nonce is not stored. */
  sharedWithPeople: boolean;
  /** Header names (lower case) never stored: hop-by-hop, per-answer, and per-request ones (the liveHeaders option). */
  notStored: ReadonlySet<string>;
}

/** The headers never stored: those above, and the per-request ones the host names (request ids, trace context). */
export function notStoredHeaders(liveHeaders: readonly string[]): ReadonlySet<string> {
  return new Set([...NOT_STORED_HEADERS, ...liveHeaders.map((name) => name.toLowerCase())]);
}

function hasCspNonce(res: ServerResponse): boolean {
  return CSP_HEADERS.some((name) => {
    const value = res.getHeader(name);
    return value !== undefined && cspHasNonce(Array.isArray(value) ? value.join(',') : String(value));
  });
}

/**
 * store: why a rendered response must not be stored, or undefined when it may be. `routeSaid`:
 * the reason the route gave `cache.noStore`.
 */
export function uncacheableReason(
  res: ServerResponse,
  captured: CapturedBody,
  lifetime: Lifetime | undefined,
  rules: StoreRules,
  routeSaid?: string,
): StoreSkipReason | undefined {
  if (routeSaid !== undefined) return routeSaid;
  if (!lifetime) return 'status';
  if (res.getHeader('set-cookie') !== undefined) return 'set-cookie';
  if (UNCACHEABLE_CACHE_CONTROL.test(String(res.getHeader('cache-control') ?? ''))) return 'cache-control';
  // A redirect's body is a courtesy nobody reads (Express varies it on Accept): its Location is the answer.
  const redirect = res.statusCode === 301 || res.statusCode === 308;
  if (!redirect && VARIES_ON_MORE.test(String(res.getHeader('vary') ?? ''))) return 'vary';
  if (captured.body === undefined) return 'too-large';
  if (captured.body.length === 0 && res.statusCode === 200) return 'empty';
  if (redirect && !res.hasHeader('location')) return 'no-location';
  if (rules.sharedWithPeople && hasCspNonce(res)) return 'csp-nonce';
  return undefined;
}

/** The end-to-end headers of a response, as a hit will send them again. */
export function headersToStore(res: ServerResponse, notStored: ReadonlySet<string>): StoredHeader[] {
  const stored: StoredHeader[] = [];
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (value === undefined || notStored.has(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) stored.push([name, String(one)]);
  }
  return stored;
}

/** What the warning says of a skipped response, beside its reason: the header that decided it (cookie names only, never values). */
function skipDetail(reason: StoreSkipReason, res: ServerResponse, maxEntryBytes: number): Record<string, unknown> {
  switch (reason) {
    case 'status':
      return { status: res.statusCode };
    case 'set-cookie': {
      const cookies = res.getHeader('set-cookie');
      const list = Array.isArray(cookies) ? cookies : [String(cookies)];
      return { cookies: list.map((cookie) => cookie.slice(0, Math.max(0, cookie.indexOf('='))).trim()) };
    }
    case 'cache-control':
      return { cacheControl: String(res.getHeader('cache-control')) };
    case 'vary':
      return { vary: String(res.getHeader('vary')) };
    case 'too-large':
      return { maxEntryBytes };
    default:
      return {};
  }
}

/** Distinct route and reason pairs warned about; past this many, new ones are only counted. */
const MAX_WARNED_SKIPS = 1000;

/**
 * Counts every response not stored (the store-skip event: metrics by route and reason) and warns
 * once per route and reason: a page that never reaches the cache is a setting to fix, not noise
 * for every request.
 */
export function createStoreSkipReporter(
  events: CacheEvents,
  logger: Logger,
  maxEntryBytes: number,
): (page: ResolvedPage, res: ServerResponse, reason: StoreSkipReason) => void {
  const warned = new Set<string>();
  return (page, res, reason) => {
    const route = page.policy.route;
    events.emit({ type: 'store-skip', route, reason });
    const pair = `${route}\u0000${reason}`;
    if (warned.has(pair) || warned.size >= MAX_WARNED_SKIPS) return;
    warned.add(pair);
    logger.warn(
      { route, reason, key: page.key, ...skipDetail(reason, res, maxEntryBytes) },
      'cache: a response of this route was not stored (said once per route and reason; X-Cache-Reason says it on every such answer)',
    );
  };
}

export interface StoreDeps {
  tiers: TierStack;
  lifetimes: StoreLifetimes;
  rules: StoreRules;
  reportSkip(page: ResolvedPage, res: ServerResponse, reason: StoreSkipReason): void;
  /** Recorded in every entry: the build that rendered it. */
  buildId?: string;
}

/**
 * Turns what a route sent into the entry to store and send, or says why the response may not be
 * shared (counted, and warned about once per route and reason).
 */
export async function entryForRendered(
  deps: StoreDeps,
  res: ServerResponse,
  page: ResolvedPage,
  captured: CapturedBody,
  tags: string[],
  routeSaid: string | undefined,
  maxFresh?: number,
): Promise<{ entry: CacheEntry } | { skipped: StoreSkipReason }> {
  const found = lifetimeFor(res.statusCode, page, deps.lifetimes);
  // The route's `cache.ttl` (pages only: a 404 or redirect keeps its own): fresh for less, then stale (served while it is re-rendered) as usual.
  const lifetime = found && res.statusCode === 200 && maxFresh !== undefined && maxFresh < found.freshTtl ? { ...found, freshTtl: maxFresh } : found;
  const reason = uncacheableReason(res, captured, lifetime, deps.rules, routeSaid);
  const identity = reason === undefined ? await decodeSentBody(captured.body as Buffer, captured.encoding) : undefined;
  if (!identity) {
    const skipped = reason ?? 'content-encoding';
    deps.reportSkip(page, res, skipped);
    return { skipped };
  }
  return {
    entry: createEntry({
      status: res.statusCode,
      contentType: String(res.getHeader('content-type') ?? DEFAULT_CONTENT_TYPE),
      headers: headersToStore(res, deps.rules.notStored),
      ...(lifetime as Lifetime),
      ...(deps.buildId === undefined ? {} : { build: deps.buildId }),
      tags,
      etag: computeEtag(identity),
      encoding: STORED_ENCODING,
      body: await compressForStorage(identity),
    }),
  };
}
