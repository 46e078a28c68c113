import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ConcurrencyLimit, RenderBudget } from '../coordination/render-budget';
import type { SingleFlight } from '../coordination/single-flight';
import type { ResolvedPage } from '../key';
import { isLevelEnabled, type Logger } from '../logger';
import type { CacheEvents } from '../observe/events';
import type { PolicyTable } from '../policy';
import type { TierStack } from '../tiers/tier-stack';
import { PreparedPage } from '../entry/prepared-page';
import type { CacheEntry } from '../entry/cache-entry';
import { captureResponseBody, type CapturedBody, type HeldResponse } from './capture';
import { representationFor, unavailable, type Representation } from './deliver';
import type { CacheLogFields, CacheReason, RequestContexts } from './context';
import { createLookup, type LookupOutcome } from './lookup';
import type { AgentFamily, BotTest, IgnoredCookies } from './recv';
import { createRefresher } from './refresh';
import { createStoreSkipReporter, entryForRendered, type StoreLifetimes, type StoreRules } from './store';

export interface PageFlowDeps {
  tiers: TierStack;
  policies: PolicyTable;
  events: CacheEvents;
  logger: Logger;
  contexts: RequestContexts;
  isBot: BotTest;
  allAgents: boolean;
  /** Cookies that do not make a request private (the ignoreCookies option); absent: any cookie does. */
  ignoredCookies?: IgnoredCookies;
  /** Per-request header names (lower case): never stored, so a hit carries this request's own. */
  liveHeaders: ReadonlySet<string>;
  /** What may be stored: headers left out, CSP nonces on pages shared with people. */
  storeRules: StoreRules;
  /** Larger pages are served but not stored. */
  maxEntryBytes: number;
  /** Coalesces concurrent misses of one page into one render; absent: every miss renders. */
  singleFlight?: SingleFlight;
  /** No client waits on a render longer; a background re-render slower than this is abandoned. */
  renderTimeoutMs: number;
  /** Retry-After of the 503 a client gets when its render took too long or the render budget is spent. */
  retryAfterSeconds: number;
  /** Renders clients may wait for; absent: no bound. */
  renderBudget?: RenderBudget;
  /** Background re-renders running at once. */
  refreshLimit: ConcurrencyLimit;
  lifetimes: StoreLifetimes;
  buildId?: string;
}

/** `(req, res, next)`, as Express 4 and 5 call a middleware. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** What the cache knows of an answer `front()` sent without the host's app: the log fields, and how long it took. */
export interface FrontHitFields extends CacheLogFields {
  durationMs: number;
}

/** Options of `cache.front(app, options)`. */
export interface FrontOptions {
  /**
   * Called once for each request `front()` answers itself (a HIT, a STALE copy, the render
   * budget's 503), after the answer is written, in place of the cache's own `request completed`
   * line: log it as your request logger logs the others, which never see these requests. An
   * exception it throws is logged, never sent.
   */
  onHit?(req: IncomingMessage, res: ServerResponse, fields: FrontHitFields): void;
}

/** Answers a request from the cache before the host's app sees it; false when the app must render. Synchronous (no promise) for a hit in the in-process tier. */
export type FrontLookup = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface PageFlow {
  middleware: Middleware;
  /** The lookup of `front()`, with its options read once. */
  createFrontLookup(options: FrontOptions): FrontLookup;
  /** Re-renders a page in the background, once across instances; resolves when done or abandoned. */
  refresh(page: ResolvedPage): Promise<void>;
  /** The app that renders background re-renders (the first request's `req.app`, or the app given to `front`). */
  setRenderTarget(app: RequestListener): void;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

const CONDITIONS = ['if-none-match', 'if-modified-since'] as const;

/**
 * fetch: the route renders the whole page, whatever copy the client holds and whatever its
 * method (Express would answer `If-None-Match: *` with a bodiless 304 and a HEAD with no body,
 * and nothing could be stored). As Varnish and nginx do for a miss, the route renders a plain
 * GET, and the client's request is answered from the stored representation. Returns what puts
 * the request back.
 */
function renderWholePage(req: IncomingMessage): () => void {
  const method = req.method;
  const hidden: [name: string, value: string][] = [];
  for (const name of CONDITIONS) {
    const value = req.headers[name];
    if (value === undefined) continue;
    hidden.push([name, value]);
    delete req.headers[name];
  }
  if (method === 'HEAD') req.method = 'GET';
  return () => {
    req.method = method;
    for (const [name, value] of hidden) req.headers[name] = value;
  };
}

/** The kept copy's answer in place of a render, saying why. */
function withReason(answer: Representation, reason: CacheReason): Representation {
  return { ...answer, headers: [...answer.headers, 'X-Cache-Reason', reason] };
}

/**
 * The page cache, in the stages of a proxy cache: recv (bot GET/HEAD on a cached route),
 * hash (canonical URL and key), lookup (in-process tier, then Redis), deliver a HIT, or
 * fetch (let the route render) and store what it sent.
 */
export function createPageFlow(deps: PageFlowDeps): PageFlow {
  const { events, logger, contexts, maxEntryBytes, renderTimeoutMs, retryAfterSeconds, liveHeaders } = deps;
  let renderTarget: RequestListener | undefined;
  const refresh = createRefresher({ ...deps, renderTarget: () => renderTarget });
  const lookup = createLookup({ ...deps, canRefresh: () => renderTarget !== undefined, refresh });
  const storeDeps = { ...deps, rules: deps.storeRules, reportSkip: createStoreSkipReporter(events, logger, maxEntryBytes) };

  /** The kept copy (stale-if-error) in place of a failed render, said as STALE. */
  function fallbackFor(req: IncomingMessage, page: ResolvedPage, fallback: PreparedPage, log: CacheLogFields, reason: CacheReason): Representation {
    log.cache = 'STALE';
    log.tier = 'redis';
    log.reason = reason;
    events.emit({ type: 'request', route: page.policy.route, outcome: 'STALE', source: 'redis', reason });
    return withReason(representationFor(req, deps.tiers, page.key, fallback, log), reason);
  }

  /**
   * store, and deliver the MISS: the client gets the stored representation (the bytes, ETag and
   * encoding every later HIT sends), the kept copy when the render failed (5xx) and one exists,
   * or the route's own response when it may not be shared.
   */
  async function sendAndStore(
    req: IncomingMessage,
    page: ResolvedPage,
    render: { since: number; seq: number | undefined },
    captured: CapturedBody,
    held: HeldResponse,
    tags: string[],
    decision: { share?: (entry: CacheEntry) => void; fallback?: PreparedPage; agent?: AgentFamily },
  ): Promise<CacheEntry | undefined> {
    const route = page.policy.route;
    const context = contexts.get(req);
    const log = context?.log ?? { cache: 'MISS' as const, route };
    const answered = (status: number) => {
      if (decision.agent) events.emit({ type: 'response', route, agent: decision.agent, outcome: log.cache, status });
    };
    const rendered = await entryForRendered(storeDeps, held.response, page, captured, tags, context?.noStore, context?.maxFresh);
    if ('skipped' in rendered) {
      const failed = held.response.statusCode >= 500;
      if (failed && decision.agent) events.emit({ type: 'render-error', route, trigger: 'request' });
      if (failed && decision.fallback) {
        const { status, headers, body } = fallbackFor(req, page, decision.fallback, log, 'render-error');
        held.replace(status, headers, body);
        answered(status);
        return undefined;
      }
      log.reason = rendered.skipped;
      // A page too large to hold has gone out already, saying so (the capture set it).
      if (!held.response.headersSent) held.response.setHeader('X-Cache-Reason', rendered.skipped);
      held.release();
      answered(held.response.statusCode);
      return undefined;
    }
    const { entry } = rendered;
    // Waiting requests need not wait for Redis too (a slow Redis would make them wait twice); a
    // render an invalidation overlapped is theirs to do again, never a HIT.
    const fresh = deps.tiers.isFreshRender(page.key, entry, render);
    if (fresh) decision.share?.(entry);
    const prepared = deps.tiers.prepare(page.key, entry);
    const { status, headers, body } = representationFor(req, deps.tiers, page.key, prepared, log);
    held.replace(status, headers, body);
    answered(status);
    deps.events.emit({ type: 'store', route, outcome: await deps.tiers.set(page.key, entry, render, prepared) });
    return fresh ? entry : undefined;
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
      const { page, since, done, fallback } = decision;
      const missed = decision;
      const context = contexts.of(req);
      const trigger = context.reportStored ? 'refresh' : 'request';
      const route = page.policy.route;
      let timer: NodeJS.Timeout | undefined;
      context.storing = true;
      const restoreRequest = renderWholePage(req);
      const capture = captureResponseBody(res, { maxBytes: maxEntryBytes, liveHeaders }, (captured, held) => {
        clearTimeout(timer);
        restoreRequest();
        events.emit({ type: 'rendered', route, trigger, seconds: (Date.now() - since) / 1000 });
        sendAndStore(req, page, { since, seq: missed.seq }, captured, held, contexts.tagsOf(res), missed).then(
          (entry) => done?.(entry),
          (error: unknown) => {
            held.release();
            done?.(undefined);
            logger.warn({ err: error, key: page.key }, 'cache: store failed');
          },
        );
      });
      // A client never waits on a render longer than the render timeout: it gets the kept copy
      // (stale-if-error) if there is one, else a 503 with Retry-After (what crawlers read as "later"); nothing is stored.
      if (trigger === 'request') {
        timer = setTimeout(() => {
          restoreRequest();
          const log = contexts.of(req).log ?? { cache: 'MISS' as const, route };
          const answer = fallback ? fallbackFor(req, page, fallback, log, 'render-timeout') : unavailable(retryAfterSeconds, 'render-timeout');
          if (!capture.takeOver(answer.status, answer.headers, answer.body)) {
            // The route's answer is already going out (too large to hold): it goes on rendering the whole page.
            renderWholePage(req);
            return;
          }
          if (!fallback) log.reason = 'render-timeout';
          events.emit({ type: 'render-error', route, trigger });
          if (decision.kind === 'miss' && decision.agent)
            events.emit({ type: 'response', route, agent: decision.agent, outcome: log.cache, status: answer.status });
          done?.(undefined);
          logger.warn({ key: page.key, timeoutMs: renderTimeoutMs, served: fallback ? 'stale-if-error' : 503 }, 'cache: render timed out');
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

    createFrontLookup({ onHit }) {
      // Without a hook, the cache writes the line the host's request logger would have written, at info.
      const logHits = onHit === undefined && isLevelEnabled(logger, 'info');
      const timed = logHits || onHit !== undefined;
      /** The host's request logger never sees these requests: say what it would have said. */
      const report = (req: IncomingMessage, res: ServerResponse, started: number): void => {
        const fields: FrontHitFields = { ...(contexts.get(req)?.log ?? { cache: 'HIT', route: '' }), durationMs: roundMs(performance.now() - started) };
        if (onHit) {
          const failed = (error: unknown) => logger.warn({ err: error, key: fields.key }, 'cache: the onHit hook of front() threw');
          try {
            // An async hook's rejection is caught too: it must not end the process.
            const result: unknown = onHit(req, res, fields);
            if (result instanceof Promise) result.catch(failed);
          } catch (error) {
            failed(error);
          }
          return;
        }
        const requestId = req.headers['x-request-id'];
        logger.info(
          {
            req: {
              ...(requestId === undefined ? {} : { id: requestId }),
              method: req.method,
              url: req.url,
              headers: { 'user-agent': req.headers['user-agent'] },
              remoteAddress: req.socket?.remoteAddress,
              remotePort: req.socket?.remotePort,
            },
            res: { statusCode: res.statusCode },
            ...fields,
          },
          'request completed',
        );
      };
      return (req, res) => {
        const started = timed ? performance.now() : 0;
        const settle = (decision: LookupOutcome): boolean => {
          if (decision !== 'served') {
            contexts.of(req).decision = decision;
            return false;
          }
          if (timed) report(req, res, started);
          return true;
        };
        const outcome = lookup(req, res, timed);
        return outcome instanceof Promise ? outcome.then(settle) : settle(outcome);
      };
    },

    middleware(req, res, next) {
      // Express 4 does not catch a rejected middleware: an error goes to `next`, never unhandled.
      handle(req, res, next).catch(next);
    },
  };
}
