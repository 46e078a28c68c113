import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheEntry } from '../entry/cache-entry';
import type { ResolvedPage } from '../key';
import type { PreparedPage } from '../entry/prepared-page';
import type { HitSource, RequestOutcome } from '../observe/events';
import type { AgentFamily, BypassReason } from './recv';
import type { UnavailableReason } from './deliver';

/**
 * Why a stored copy was not served as a fresh HIT: `stale` (past its ttl), `soft-invalidated`,
 * `invalidated` (the invalidation record names it), `other-build` (rendered by another buildId),
 * `expired` (past grace, kept only for stale-if-error).
 */
export type StaleCopyReason = 'stale' | 'soft-invalidated' | 'invalidated' | 'other-build' | 'expired';

/**
 * Why a rendered response was not stored: its status, a `Set-Cookie`, `Cache-Control` private,
 * no-store or no-cache, a `Vary` on more than `Accept-Encoding`, larger than maxEntryBytes, an
 * empty 200, a redirect without `Location`, a `Content-Encoding` that could not be decoded, a
 * CSP nonce on a page shared with people, or the route said so (`cache.noStore(res, reason)`:
 * `no-store-by-route` or the route's own word).
 */
export type StoreSkipReason = (typeof BUILT_IN_STORE_SKIP_REASONS)[number] | (string & {});

/** The cache's own store-skip reasons (a route's own, given to cache.noStore, come beside them). */
export const BUILT_IN_STORE_SKIP_REASONS = [
  'status',
  'set-cookie',
  'cache-control',
  'vary',
  'too-large',
  'empty',
  'no-location',
  'content-encoding',
  'csp-nonce',
  'no-store-by-route',
] as const;

/**
 * What `X-Cache-Reason` says on every answer that is not a HIT. BYPASS: a `BypassReason`. MISS:
 * why the page was rendered (`absent`, or a `StaleCopyReason`), or, when its response was not
 * stored, a `StoreSkipReason`. STALE: a `StaleCopyReason`, or why the kept copy stood in for a
 * render (`render-budget`, `render-error`, `render-timeout`). A 503: an `UnavailableReason`.
 */
export type CacheReason = BypassReason | 'absent' | StaleCopyReason | StoreSkipReason | UnavailableReason | 'render-error';

/** What the request log line says about the cache (a host's pino-http customProps reads it). */
export interface CacheLogFields {
  cache: RequestOutcome;
  key?: string;
  route: string;
  /** Where a hit came from: a tier, or another request's render it waited for. */
  tier?: HitSource;
  lookupMs?: number;
  /** Why the answer is not a HIT: what its `X-Cache-Reason` says. */
  reason?: CacheReason;
}

/** What the lookup decided for a request that the host's routes must handle. */
export type Decision =
  | { kind: 'not-cached' }
  | { kind: 'bypass' }
  /**
   * `share` hands the rendered page to requests waiting here, `done` reports the stored page (or
   * none) once the write is over; the render began at `since`, with the invalidation record at
   * `seq` (undefined while it is not known: the page is then stored as not known to be fresh).
   * `fallback`: a copy past grace kept for stale-if-error, served if the render fails.
   */
  | {
      kind: 'miss';
      page: ResolvedPage;
      since: number;
      seq: number | undefined;
      share?: (entry: CacheEntry) => void;
      done?: (entry: CacheEntry | undefined) => void;
      fallback?: PreparedPage;
      agent?: AgentFamily;
    };

export const NOT_CACHED: Decision = { kind: 'not-cached' };
export const BYPASS: Decision = { kind: 'bypass' };

/** Everything the cache keeps about one request, in one place. */
export interface RequestContext {
  log?: CacheLogFields;
  decision?: Decision;
  /** Set on background re-renders: they skip the lookup, always render and store, and report the stored page. */
  reportStored?: (entry: CacheEntry | undefined) => void;
  tags?: Set<string>;
  /** The route is rendering a page the cache will try to store (`cache.willStore(req)`). */
  storing?: boolean;
  /** The route said its response is not to be stored, and why (`cache.noStore(res, reason)`). */
  noStore?: string;
  /** The route said its page stays fresh at most this long (`cache.ttl(res, seconds)`): a page rendered without one of its parts. */
  maxFresh?: number;
}

/** Routes may name at most this many tags for one page; more are dropped. */
export const MAX_TAGS_PER_PAGE = 200;

/**
 * The request contexts of one cache instance, keyed by the request (a response finds its
 * request as `res.req`). Held by the instance, not the module, so two copies of the package
 * in one process (an ESM and a CommonJS import) cannot lose each other's state.
 */
export class RequestContexts {
  private readonly contexts = new WeakMap<IncomingMessage, RequestContext>();

  get(req: IncomingMessage): RequestContext | undefined {
    return this.contexts.get(req);
  }

  of(req: IncomingMessage): RequestContext {
    let context = this.contexts.get(req);
    if (!context) {
      context = {};
      this.contexts.set(req, context);
    }
    return context;
  }

  /** A route reports the tags of the page it is rendering; the cache stores them with the page. */
  tag(res: ServerResponse, tags: readonly string[]): void {
    const context = this.of(res.req);
    const held = (context.tags ??= new Set());
    for (const tag of tags) if (held.size < MAX_TAGS_PER_PAGE && typeof tag === 'string' && tag !== '') held.add(tag);
  }

  /** A route says the response it is sending is not to be stored (a store-skip with this reason). */
  noStore(res: ServerResponse, reason: string): void {
    this.of(res.req).noStore = reason;
  }

  /** A route says the page it is sending stays fresh at most `seconds` (the shortest it says wins). */
  ttl(res: ServerResponse, seconds: number): void {
    const context = this.of(res.req);
    context.maxFresh = Math.min(context.maxFresh ?? seconds, seconds);
  }

  /** Whether the cache will try to store the response to this request (a render for the cache the route has not opted out of). */
  willStore(req: IncomingMessage): boolean {
    const context = this.contexts.get(req);
    return context?.storing === true && context.noStore === undefined;
  }

  tagsOf(res: ServerResponse): string[] {
    return [...(this.contexts.get(res.req)?.tags ?? [])];
  }
}
