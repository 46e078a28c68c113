import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { SingleFlight } from '../coordination/single-flight';
import type { ResolvedPage } from '../key';
import { isLevelEnabled, type Logger } from '../logger';
import type { CacheEvents } from '../observe/events';
import type { PolicyTable } from '../policy';
import type { TierStack } from '../tiers/tier-stack';
import { PreparedPage } from '../entry/prepared-page';
import type { CacheEntry } from '../entry/cache-entry';
import { captureResponseBody, type CapturedBody, type HeldResponse } from './capture';
import { representationFor } from './deliver';
import type { RequestContexts } from './context';
import { createLookup } from './lookup';
import type { BotTest } from './recv';
import { createRefresher } from './refresh';
import { entryForRendered } from './store';

export interface PageFlowDeps {
  tiers: TierStack;
  policies: PolicyTable;
  events: CacheEvents;
  logger: Logger;
  contexts: RequestContexts;
  isBot: BotTest;
  allAgents: boolean;
  /** Larger pages are served but not stored. */
  maxEntryBytes: number;
  /** Coalesces concurrent misses of one page into one render; absent: every miss renders. */
  singleFlight?: SingleFlight;
  /** No client waits on a render longer; a background re-render slower than this is abandoned. */
  renderTimeoutMs: number;
  /** Retry-After of the 503 a client gets when its render took too long. */
  retryAfterSeconds: number;
}

/** `(req, res, next)`, as Express 4 and 5 call a middleware. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export interface PageFlow {
  middleware: Middleware;
  /** Answers a request from the cache before the host's app sees it; false when the app must render. */
  serveFromCache(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Re-renders a page in the background, once across instances; resolves when done or abandoned. */
  refresh(page: ResolvedPage): Promise<void>;
  /** The app that renders background re-renders (the first request's `req.app`, or the app given to `front`). */
  setRenderTarget(app: RequestListener): void;
}

const RENDER_TIMEOUT_PAGE =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Please try again</title></head>' +
  '<body><h1>This page took too long to load</h1><p>Please try again in a moment.</p></body></html>';

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * The page cache, in the stages of a proxy cache: recv (bot GET/HEAD on a cached route),
 * hash (canonical URL and key), lookup (in-process tier, then Redis), deliver a HIT, or
 * fetch (let the route render) and store what it sent.
 */
export function createPageFlow(deps: PageFlowDeps): PageFlow {
  const { events, logger, contexts, maxEntryBytes, renderTimeoutMs, retryAfterSeconds } = deps;
  let renderTarget: RequestListener | undefined;
  const refresh = createRefresher({ ...deps, renderTarget: () => renderTarget });
  const lookup = createLookup({ ...deps, canRefresh: () => renderTarget !== undefined, refresh });
  const logHits = isLevelEnabled(logger, 'info');

  /**
   * store, and deliver the MISS: the client gets the stored representation (the bytes, ETag and
   * encoding every later HIT sends), or the route's own response when it may not be shared.
   */
  async function sendAndStore(
    req: IncomingMessage,
    page: ResolvedPage,
    since: number,
    captured: CapturedBody,
    held: HeldResponse,
    tags: string[],
    share: ((entry: CacheEntry) => void) | undefined,
  ): Promise<CacheEntry | undefined> {
    const entry = await entryForRendered(deps, req, held.response, page, captured, tags);
    if (!entry) {
      held.release();
      return undefined;
    }
    // Waiting requests need not wait for Redis too (a slow Redis would make them wait twice).
    share?.(entry);
    const prepared = new PreparedPage(entry);
    const log = contexts.get(req)?.log ?? { cache: 'MISS' as const, route: page.policy.route };
    const { status, headers, body } = representationFor(req, deps.tiers, page.key, prepared, log);
    held.replace(status, headers, body);
    deps.events.emit({ type: 'store', route: page.policy.route, outcome: await deps.tiers.set(page.key, entry, since, prepared) });
    return entry;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): Promise<void> {
    const app = (req as IncomingMessage & { app?: RequestListener }).app;
    if (typeof app === 'function') setRenderTarget(app);
    let decision = contexts.get(req)?.decision;
    if (!decision) {
      const outcome = await lookup(req, res, true);
      if (outcome === 'served') return;
      decision = outcome;
    }
    if (decision.kind === 'miss') {
      const { page, since, share, done } = decision;
      const trigger = contexts.get(req)?.reportStored ? 'refresh' : 'request';
      const route = page.policy.route;
      let timer: NodeJS.Timeout | undefined;
      const capture = captureResponseBody(res, maxEntryBytes, (captured, held) => {
        clearTimeout(timer);
        events.emit({ type: 'rendered', route, trigger, seconds: (Date.now() - since) / 1000 });
        sendAndStore(req, page, since, captured, held, contexts.tagsOf(res), share).then(
          (entry) => done?.(entry),
          (error: unknown) => {
            held.release();
            done?.(undefined);
            logger.warn({ err: error, key: page.key }, 'cache: store failed');
          },
        );
      });
      // A client never waits on a render longer than the render timeout: it gets a 503 with Retry-After (what crawlers read as "later"), nothing is stored.
      if (trigger === 'request') {
        timer = setTimeout(() => {
          if (!capture.takeOver(503, RENDER_TIMEOUT_PAGE, { 'Retry-After': String(retryAfterSeconds) })) return;
          events.emit({ type: 'render-error', route, trigger });
          done?.(undefined);
          logger.warn({ key: page.key, timeoutMs: renderTimeoutMs }, 'cache: render timed out, answered 503');
        }, renderTimeoutMs);
        timer.unref();
      }
    }
    next();
  }

  function setRenderTarget(app: RequestListener): void {
    renderTarget ??= app;
  }

  return {
    refresh,
    setRenderTarget,

    async serveFromCache(req, res) {
      const started = logHits ? performance.now() : 0;
      const decision = await lookup(req, res, logHits);
      if (decision !== 'served') {
        contexts.of(req).decision = decision;
        return false;
      }
      // The host's request logger never sees this request: say what it would have said.
      if (logHits) {
        const log = contexts.get(req)?.log;
        logger.info(
          { req: { method: req.method, url: req.url }, res: { statusCode: res.statusCode }, ...log, durationMs: roundMs(performance.now() - started) },
          'request completed',
        );
      }
      return true;
    },

    middleware(req, res, next) {
      // Express 4 does not catch a rejected middleware: an error goes to `next`, never unhandled.
      handle(req, res, next).catch(next);
    },
  };
}
