import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheEntry } from '../entry/cache-entry';
import type { ResolvedPage } from '../key';
import type { PreparedPage } from '../entry/prepared-page';
import type { HitSource, RequestOutcome } from '../observe/events';
import type { AgentFamily } from './recv';

/** What the request log line says about the cache (a host's pino-http customProps reads it). */
export interface CacheLogFields {
  cache: RequestOutcome;
  key?: string;
  route: string;
  /** Where a hit came from: a tier, or another request's render it waited for. */
  tier?: HitSource;
  lookupMs?: number;
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

  tagsOf(res: ServerResponse): string[] {
    return [...(this.contexts.get(res.req)?.tags ?? [])];
  }
}
