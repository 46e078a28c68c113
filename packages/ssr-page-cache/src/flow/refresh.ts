import type { RequestListener } from 'node:http';
import inject from 'light-my-request';
import type { CacheEntry } from '../entry/cache-entry';
import type { ResolvedPage } from '../key';
import type { Logger } from '../logger';
import type { ConcurrencyLimit } from '../coordination/render-budget';
import type { SingleFlight } from '../coordination/single-flight';
import type { CacheEvents } from '../observe/events';
import type { TierStack } from '../tiers/tier-stack';
import type { RequestContexts } from './context';

/** The User-Agent of background re-renders, for the route's logs. */
export const REFRESH_USER_AGENT = 'ssr-page-cache-refresh';

export interface RefreshDeps {
  tiers: TierStack;
  events: CacheEvents;
  logger: Logger;
  contexts: RequestContexts;
  singleFlight?: SingleFlight;
  renderTimeoutMs: number;
  /** Background re-renders running at once: a deploy's first crawl or a burst of refresh invalidations waits its turn. */
  refreshLimit: ConcurrencyLimit;
  /** The host's app, once known (the first request through the middleware, or `front`). */
  renderTarget(): RequestListener | undefined;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** refresh: re-renders a page no client waits for (a stale page, a refresh invalidation), once across instances. */
export function createRefresher(deps: RefreshDeps): (page: ResolvedPage) => Promise<void> {
  const { tiers, events, logger, contexts, singleFlight, renderTimeoutMs, refreshLimit } = deps;
  const refreshing = new Set<string>();

  return async function refresh(page) {
    const render = deps.renderTarget();
    if (!render || refreshing.has(page.key)) return;
    refreshing.add(page.key);
    let freeSlot: (() => void) | undefined;
    try {
      if (refreshLimit.full) events.emit({ type: 'refresh-queued', dropped: false });
      freeSlot = await refreshLimit.acquire();
      if (!freeSlot) {
        events.emit({ type: 'refresh-queued', dropped: true });
        return; // too many wait already: a later request for the page tries again
      }
      const release = singleFlight ? await singleFlight.tryLock(page.key) : () => undefined;
      if (!release) return; // another instance is re-rendering it
      events.emit({ type: 'refresh', route: page.policy.route });
      const started = performance.now();
      // Done when the new page is stored, not when the render ends: until then the stale page
      // is all there is, and a second refresh must not start.
      let reportStored!: (entry: CacheEntry | undefined) => void;
      const stored = new Promise<CacheEntry | undefined>((resolve) => {
        reportStored = resolve;
      });
      let storedEntry: CacheEntry | undefined;
      const rendering = inject(
        (req, res) => {
          contexts.of(req).reportStored = reportStored;
          render(req, res);
        },
        { method: 'GET', url: page.url, headers: { 'user-agent': REFRESH_USER_AGENT, 'accept-encoding': 'identity' } },
      ).then(
        async (res) => {
          // A 404 is stored too (negative caching): wait for the store of anything below 500.
          if (res.statusCode < 500) storedEntry = await stored;
          return res.statusCode;
        },
        (error: unknown) => error,
      );
      void rendering.finally(release);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), renderTimeoutMs);
        timer.unref();
      });
      const outcome = await Promise.race([rendering, timeout]).finally(() => clearTimeout(timer));
      const durationMs = roundMs(performance.now() - started);
      if (typeof outcome === 'number' && outcome < 400) {
        logger.debug({ key: page.key, status: outcome, durationMs }, 'cache: background refresh done');
        return;
      }
      if (typeof outcome === 'number' && outcome < 500) {
        // The page is gone (a deleted record): its 404, stored in its place, is all there is now.
        if (storedEntry) {
          logger.info({ key: page.key, status: outcome, durationMs }, 'cache: page gone on re-render, its answer stored in place of the stale copy');
          return;
        }
        // Not stored (negative caching off, or a 400): the stale copy must not outlive the page.
        await tiers.invalidate({ keys: [page.key], patterns: [] });
        logger.info({ key: page.key, status: outcome, durationMs }, 'cache: page gone on re-render, stale copy removed');
        return;
      }
      // stale-if-error: the stale page stays and is served until a render succeeds or grace ends.
      events.emit({ type: 'render-error', route: page.policy.route, trigger: 'refresh' });
      logger.warn(
        {
          key: page.key,
          durationMs,
          ...(typeof outcome === 'number' ? { status: outcome } : outcome === 'timeout' ? { timeoutMs: renderTimeoutMs } : { err: outcome }),
        },
        'cache: background refresh failed, the stale page stays',
      );
    } finally {
      freeSlot?.();
      refreshing.delete(page.key);
    }
  };
}
