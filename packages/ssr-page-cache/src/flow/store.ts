import type { IncomingMessage, ServerResponse } from 'node:http';
import { computeEtag, createEntry, DEFAULT_CONTENT_TYPE, type CacheEntry, type StoredHeader } from '../entry/cache-entry';
import { compressForStorage, decodeSentBody, STORED_ENCODING } from '../entry/content-encoding';
import type { ResolvedPage } from '../key';
import type { Logger } from '../logger';
import type { CacheEvents } from '../observe/events';
import type { TierStack } from '../tiers/tier-stack';
import type { CapturedBody } from './capture';

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

/** store: why a rendered response must not be stored, or undefined when it may be. */
export function uncacheableReason(req: IncomingMessage, res: ServerResponse, captured: CapturedBody, lifetime: Lifetime | undefined): string | undefined {
  if (req.method !== 'GET') return 'method';
  if (!lifetime) return 'status';
  if (res.getHeader('set-cookie') !== undefined) return 'set-cookie';
  if (UNCACHEABLE_CACHE_CONTROL.test(String(res.getHeader('cache-control') ?? ''))) return 'cache-control';
  // A redirect's body is a courtesy nobody reads (Express varies it on Accept): its Location is the answer.
  const redirect = res.statusCode === 301 || res.statusCode === 308;
  if (!redirect && VARIES_ON_MORE.test(String(res.getHeader('vary') ?? ''))) return 'vary';
  if (captured.body === undefined) return 'too-large';
  if (captured.body.length === 0 && res.statusCode === 200) return 'empty';
  if (redirect && !res.hasHeader('location')) return 'no-location';
  return undefined;
}

/** The end-to-end headers of a response, as a hit will send them again. */
export function headersToStore(res: ServerResponse): StoredHeader[] {
  const stored: StoredHeader[] = [];
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (value === undefined || NOT_STORED_HEADERS.has(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) stored.push([name, String(one)]);
  }
  return stored;
}

export interface StoreDeps {
  tiers: TierStack;
  events: CacheEvents;
  logger: Logger;
  lifetimes: StoreLifetimes;
  /** Recorded in every entry: the build that rendered it. */
  buildId?: string;
}

/**
 * Turns what a route sent into the entry to store and send; undefined when the response may not
 * be shared (counted and logged).
 */
export async function entryForRendered(
  deps: StoreDeps,
  req: IncomingMessage,
  res: ServerResponse,
  page: ResolvedPage,
  captured: CapturedBody,
  tags: string[],
): Promise<CacheEntry | undefined> {
  const { events, logger } = deps;
  const lifetime = lifetimeFor(res.statusCode, page, deps.lifetimes);
  const reason = uncacheableReason(req, res, captured, lifetime);
  const identity = reason === undefined ? await decodeSentBody(captured.body as Buffer, captured.encoding) : undefined;
  if (!identity) {
    events.emit({ type: 'store-skip', route: page.policy.route, reason: reason ?? 'content-encoding' });
    logger.debug({ key: page.key, reason: reason ?? 'content-encoding' }, 'cache: response not stored');
    return undefined;
  }
  return createEntry({
    status: res.statusCode,
    contentType: String(res.getHeader('content-type') ?? DEFAULT_CONTENT_TYPE),
    headers: headersToStore(res),
    ...(lifetime as Lifetime),
    ...(deps.buildId === undefined ? {} : { build: deps.buildId }),
    tags,
    etag: computeEtag(identity),
    encoding: STORED_ENCODING,
    body: await compressForStorage(identity),
  });
}
