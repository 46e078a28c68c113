import type { CacheReason, StoreSkipReason } from '../flow/context';
import type { AgentFamily } from '../flow/recv';
import type { BreakerState } from '../redis/circuit-breaker';
import type { GarbageKind } from '../redis/redis-tier';
import type { StoreOutcome } from '../tiers/tier-stack';

/** How a request on a cached route was answered, as the X-Cache header says it. */
export type RequestOutcome = 'HIT' | 'STALE' | 'MISS' | 'BYPASS';
/** Where a hit came from: a tier, or another request's render it waited for. */
export type HitSource = 'memory' | 'redis' | 'coalesced';
/** Where a lookup found the page, or `miss`. */
export type LookupResult = 'memory' | 'redis' | 'miss';
/** A render a client waits for, or a background re-render (stale page, refresh invalidation). */
export type RenderTrigger = 'request' | 'refresh';

/**
 * Everything the cache counts, each emitted once where it happens. /health's counters, the
 * rolling window, Prometheus and the host's own listeners are readers of this one stream, so a
 * new counter is one event type and one reader.
 */
export type CacheEvent =
  /** `reason`: why it is not a HIT, as `X-Cache-Reason` says (a MISS whose response is then not stored is followed by a store-skip). */
  | { type: 'request'; route: string; outcome: RequestOutcome; source?: HitSource; reason?: CacheReason }
  /** `otherBuild`: the page found was rendered by another build (served stale, re-rendered). */
  | { type: 'lookup'; result: LookupResult; seconds: number; otherBuild?: boolean }
  /**
   * What a cacheable request was answered with, once per request: by whom it was asked, the
   * status sent (304s included), and for a STALE answer how many seconds past freshness it was.
   */
  | { type: 'response'; route: string; agent: AgentFamily; outcome: RequestOutcome; status: number; staleSeconds?: number }
  /** A render a client would have waited for was refused: the render budget was spent (a kept copy or a 503 went out). */
  | { type: 'render-budget-spent'; route: string }
  /** A page an invalidation named was stored fresh again, `seconds` after the invalidation was accepted. */
  | { type: 'fresh-again'; seconds: number }
  /** A value of the wrong type at a key the cache owns was removed (and the key rebuilt as used). */
  | { type: 'garbage'; kind: GarbageKind; count: number }
  /** A background re-render waited for a free slot (refreshConcurrency), or was dropped because too many waited. */
  | { type: 'refresh-queued'; dropped: boolean }
  | { type: 'render'; route: string; trigger: RenderTrigger }
  | { type: 'rendered'; route: string; trigger: RenderTrigger; seconds: number }
  /** A render that timed out, threw or answered 5xx (a stale copy, if any, stays). */
  | { type: 'render-error'; route: string; trigger: RenderTrigger }
  | { type: 'refresh'; route: string }
  | { type: 'store'; route: string; outcome: StoreOutcome }
  /**
   * A rendered response that was not stored, and why (status, cookies, private, too large, a CSP
   * nonce, the route's `cache.noStore`, ...): also its `X-Cache-Reason`. Warned about once per
   * route and reason.
   */
  | { type: 'store-skip'; route: string; reason: StoreSkipReason }
  /** A wait for another render passed the lock-wait bound; the request rendered itself. */
  | { type: 'lock-wait-timeout' }
  /**
   * An invalidation is about to apply on this instance: made here, announced by another instance
   * (`peer`), found in the shared record when this instance had missed it, or recovered from the
   * journal at start. A host drops the data it holds for renders (database rows, API answers) here, so a
   * re-render on any instance reads the change. Keys and patterns are in the key space (`ssr:/...`);
   * `everything`: what changed is not known (the record was lost), so every page may have.
   */
  | { type: 'invalidate'; origin: InvalidationOrigin; keys: readonly string[]; tags: readonly string[]; patterns: readonly string[]; everything?: boolean }
  /** `queued`: Redis could not take it now; it is applied once Redis answers. */
  | { type: 'invalidation'; source: string; mode: string; keys: number; queued: boolean }
  | { type: 'breaker'; state: BreakerState }
  | { type: 'write-pause'; paused: boolean };

/** Where an invalidation came from, as the `invalidate` event says. */
export type InvalidationOrigin = 'here' | 'peer' | 'record' | 'journal';

export type CacheEventListener = (event: CacheEvent) => void;

/** A synchronous fan-out: the hit path pays one call per listener, nothing else. */
export class CacheEvents {
  private listeners: CacheEventListener[] = [];

  emit(event: CacheEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Adds a listener; returns its removal. */
  on(listener: CacheEventListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((other) => other !== listener);
    };
  }
}
