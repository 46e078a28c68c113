import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RenderBudget } from '../coordination/render-budget';
import type { SingleFlight } from '../coordination/single-flight';
import { freshnessLeftMs, type CacheEntry } from '../entry/cache-entry';
import type { PreparedPage } from '../entry/prepared-page';
import { LRUCache } from 'lru-cache';
import { resolvePage, type ResolvedPage } from '../key';
import type { CacheEvents } from '../observe/events';
import type { PolicyTable } from '../policy';
import type { TierHit, TierStack } from '../tiers/tier-stack';
import { BYPASS, NOT_CACHED, type CacheLogFields, type CacheReason, type Decision, type RequestContexts, type StaleCopyReason } from './context';
import { deliverHit, serviceUnavailable } from './deliver';
import { bypassReason, dropIgnoredCookies, type AgentFamily, type BotTest, type BypassReason, type IgnoredCookies } from './recv';

export interface LookupDeps {
  tiers: TierStack;
  policies: PolicyTable;
  events: CacheEvents;
  contexts: RequestContexts;
  isBot: BotTest;
  allAgents: boolean;
  /** Cookies that do not make a request private (the ignoreCookies option); absent: any cookie does. */
  ignoredCookies?: IgnoredCookies;
  singleFlight?: SingleFlight;
  /** Renders clients may wait for; absent: no bound. */
  renderBudget?: RenderBudget;
  /** Retry-After of the 503 sent when the render budget is spent and nothing is stored. */
  retryAfterSeconds: number;
  /** Re-renders a stale page behind the client; false when no re-render can run (then the request renders). */
  canRefresh(): boolean;
  refresh(page: ResolvedPage): Promise<void>;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Seconds a stale page is past its freshness (0 for a fresh page of another build). */
function secondsStale(page: PreparedPage, now = Date.now()): number {
  return Math.max(0, -freshnessLeftMs(page.entry, now) / 1000, page.entry.invalidatedAt > 0 ? (now - page.entry.invalidatedAt) / 1000 : 0);
}

/** Why a stored copy is not a fresh HIT (the memory tier holds fresh pages only: this is a Redis read's verdict). */
function staleCopyReason(hit: TierHit, now = Date.now()): StaleCopyReason {
  if (hit.fallback) return 'expired';
  if (hit.otherBuild) return 'other-build';
  if (hit.page.entry.invalidatedAt > 0) return 'soft-invalidated';
  return freshnessLeftMs(hit.page.entry, now) <= 0 ? 'stale' : 'invalidated';
}

/** Says why the answer is not a HIT: in the log fields and in `X-Cache-Reason`. */
function giveReason(res: ServerResponse, log: CacheLogFields, reason: CacheReason): void {
  log.reason = reason;
  res.setHeader('X-Cache-Reason', reason);
}

type ExpressRequest = IncomingMessage & { originalUrl?: string; app?: { get?(setting: string): unknown } };

/**
 * hash: the route renders exactly the page the key names, so a variant the key folds away
 * (parameter order, repeats, junk) can never be stored under another page's key, and a URL gets
 * the same answer cold and warm. Express 5 parses `req.query` from `req.url` when it is read;
 * Express 4 (or anything else before the cache) parsed it into a property already: it is parsed
 * again, with the app's own query parser, from the canonical URL. `req.originalUrl` follows
 * when the cache is mounted at the root (SSR frameworks build their request from it).
 */
function renderCanonicalUrl(req: ExpressRequest, url: string): void {
  const asked = req.url;
  if (asked === url) return;
  req.url = url;
  if (req.originalUrl === asked) req.originalUrl = url;
  if (!Object.hasOwn(req, 'query')) return;
  const search = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  const parse = req.app?.get?.('query parser fn');
  const query = typeof parse === 'function' ? (parse as (search: string) => unknown)(search) : Object.fromEntries(new URLSearchParams(search));
  Object.defineProperty(req, 'query', { value: query, writable: true, configurable: true, enumerable: true });
}

/**
 * recv, hash, lookup and, on a hit, deliver: 'served' when the request is answered, else what
 * the host's routes must do (render a miss, or nothing to do with the cache).
 */
export type LookupOutcome = Decision | 'served';

/** Resolved pages by request URL: crawlers ask for the same URLs over and over, each is matched and normalised once. */
const MAX_MEMO_URL_LENGTH = 512;

export function createLookup(deps: LookupDeps): (req: IncomingMessage, res: ServerResponse, keepServedLog: boolean) => LookupOutcome | Promise<LookupOutcome> {
  const { tiers, policies, events, contexts, isBot, allAgents, ignoredCookies, singleFlight, renderBudget } = deps;
  const resolved = new LRUCache<string, ResolvedPage | 'none'>({ max: 5000 });

  function resolve(url: string): ResolvedPage | undefined {
    const known = resolved.get(url);
    if (known !== undefined) return known === 'none' ? undefined : known;
    const page = resolvePage(url, policies);
    if (url.length <= MAX_MEMO_URL_LENGTH) resolved.set(url, page ?? 'none');
    return page;
  }

  /** deliver, and say so: what was served to whom, with which status. */
  function serve(req: IncomingMessage, res: ServerResponse, key: string, page: PreparedPage, log: CacheLogFields, agent: AgentFamily): void {
    const status = deliverHit(req, res, tiers, key, page, log);
    const stale = log.cache === 'STALE' ? secondsStale(page) : undefined;
    events.emit({ type: 'response', route: log.route, agent, outcome: log.cache, status, staleSeconds: stale });
  }

  /** The route renders for this request alone: nothing is looked up or stored. */
  function bypass(req: IncomingMessage, res: ServerResponse, log: CacheLogFields, agent: AgentFamily, reason: BypassReason): Decision {
    const route = log.route;
    contexts.of(req).log = log;
    events.emit({ type: 'request', route, outcome: 'BYPASS', reason });
    res.setHeader('X-Cache', 'BYPASS');
    giveReason(res, log, reason);
    res.once('finish', () => events.emit({ type: 'response', route, agent, outcome: 'BYPASS', status: res.statusCode }));
    return BYPASS;
  }

  /**
   * `keepServedLog`: a served request's log fields are kept for a log line (a hit on the front
   * keeps none unless logged). A hit in the in-process tier is answered synchronously: no
   * promise, no microtask between the request and its answer; anything else continues async.
   */
  return function lookup(req, res, keepServedLog) {
    // Only GET and HEAD URLs are memoised: other methods (a flood of POSTs) cannot push crawler URLs out.
    const page = req.method === 'GET' || req.method === 'HEAD' ? resolve(req.url ?? '') : resolvePage(req.url ?? '', policies);
    if (!page) return NOT_CACHED;
    const route = page.policy.route;
    const context = contexts.get(req);
    const log: CacheLogFields = { cache: 'BYPASS', route };
    // A hit on the front writes no per-request state unless a log line will read it; every other outcome keeps it.
    if (context || keepServedLog) contexts.of(req).log = log;

    if (context?.reportStored) {
      log.cache = 'MISS';
      log.key = page.key;
      events.emit({ type: 'render', route, trigger: 'refresh' });
      return { kind: 'miss', page, since: Date.now(), seq: tiers.renderSeq(), done: context.reportStored };
    }

    const agent = isBot.family(req.headers['user-agent']);
    // A HEAD is a GET for the cache: answered from it, and on a miss rendered and stored as a GET.
    const method = req.method;
    const notShared = method === 'GET' || method === 'HEAD' ? bypassReason(req, agent !== 'human', allAgents, ignoredCookies) : 'method';
    if (notShared) return bypass(req, res, log, agent, notShared);
    log.key = page.key;
    const started = performance.now();
    const held = tiers.memory?.get(page.key);
    if (held) {
      log.lookupMs = roundMs(performance.now() - started);
      log.cache = 'HIT';
      log.tier = 'memory';
      events.emit({ type: 'request', route, outcome: 'HIT', source: 'memory' });
      serve(req, res, page.key, held, log, agent);
      return 'served';
    }
    return lookupBeyondMemory(req, res, page, log, agent, started);
  };

  /** The Redis tier, stale and kept copies, single flight and the render budget. */
  async function lookupBeyondMemory(
    req: IncomingMessage,
    res: ServerResponse,
    page: ResolvedPage,
    log: CacheLogFields,
    agent: AgentFamily,
    started: number,
  ): Promise<LookupOutcome> {
    const route = page.policy.route;
    const hit = await tiers.get(page.key, true);
    const lookupMs = performance.now() - started;
    log.lookupMs = roundMs(lookupMs);
    events.emit({ type: 'lookup', result: hit ? hit.tier : 'miss', seconds: lookupMs / 1000, otherBuild: hit?.otherBuild });

    if (hit && !hit.stale) {
      log.cache = 'HIT';
      log.tier = hit.tier;
      events.emit({ type: 'request', route, outcome: 'HIT', source: hit.tier });
      serve(req, res, page.key, hit.page, log, agent);
      return 'served';
    }
    const notFresh: CacheReason = hit ? staleCopyReason(hit) : 'absent';
    // Stale within grace (or another build's): the client gets it now, one re-render runs behind it.
    if (hit && !hit.fallback && deps.canRefresh()) {
      log.cache = 'STALE';
      log.tier = hit.tier;
      giveReason(res, log, notFresh);
      events.emit({ type: 'request', route, outcome: 'STALE', source: hit.tier, reason: notFresh });
      serve(req, res, page.key, hit.page, log, agent);
      void deps.refresh(page);
      return 'served';
    }
    // Past grace but kept (stale-if-error): served only if the render fails.
    const fallback = hit?.page;

    // fetch, once: concurrent misses of this page (here or on another instance) wait for one render.
    let done: ((entry: CacheEntry | undefined) => void) | undefined;
    let share: ((entry: CacheEntry) => void) | undefined;
    if (singleFlight) {
      const flight = await singleFlight.join(page.key);
      if (flight.role === 'leader') ({ done, share } = flight);
      else if (flight.entry) {
        log.cache = 'HIT';
        log.tier = 'coalesced';
        log.lookupMs = roundMs(performance.now() - started);
        events.emit({ type: 'request', route, outcome: 'HIT', source: 'coalesced' });
        serve(req, res, page.key, tiers.prepare(page.key, flight.entry), log, agent);
        return 'served';
      }
    }

    // The render budget: over it, a stored copy if there is one, else "come back later". While
    // nothing can be stored (Redis down, no in-process tier) pages render through, unbudgeted:
    // the cache is off, and refusing renders would only turn an outage into errors.
    // A miss Redis did not answer (a timeout) may be a page it holds: rendered, not charged.
    if (renderBudget && tiers.canStore() && tiers.redisAnswering() && !renderBudget.take()) {
      done?.(undefined);
      contexts.of(req).log = log;
      events.emit({ type: 'render-budget-spent', route });
      if (fallback) {
        log.cache = 'STALE';
        log.tier = 'redis';
        giveReason(res, log, 'render-budget');
        events.emit({ type: 'request', route, outcome: 'STALE', source: 'redis', reason: 'render-budget' });
        serve(req, res, page.key, fallback, log, agent);
        return 'served';
      }
      log.cache = 'MISS';
      log.reason = 'render-budget';
      events.emit({ type: 'request', route, outcome: 'MISS', reason: 'render-budget' });
      // Come back when the budget has a render again (the retryAfterSeconds setting at most): a warm-up or a polite crawler waits a second, not half a minute.
      serviceUnavailable(req, res, Math.min(deps.retryAfterSeconds, renderBudget.secondsUntilNext()), 'render-budget');
      events.emit({ type: 'response', route, agent, outcome: 'MISS', status: 503 });
      return 'served';
    }

    contexts.of(req).log = log;
    events.emit({ type: 'request', route, outcome: 'MISS', reason: notFresh });
    events.emit({ type: 'render', route, trigger: 'request' });
    log.cache = 'MISS';
    res.setHeader('X-Cache', 'MISS');
    // Why it renders; a response that is not stored says why not instead.
    giveReason(res, log, notFresh);
    res.setHeader('Server-Timing', `cache;desc="MISS";dur=${log.lookupMs}`);
    // Only a render needs these (a hit skips them): the route sees the page the key names, without the ignored cookies.
    if (ignoredCookies && req.headers.cookie !== undefined) dropIgnoredCookies(req, ignoredCookies);
    renderCanonicalUrl(req, page.url);
    return { kind: 'miss', page, since: Date.now(), seq: tiers.renderSeq(), share, done, fallback, agent };
  }
}
