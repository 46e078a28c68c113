import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RenderBudget } from '../coordination/render-budget';
import type { SingleFlight } from '../coordination/single-flight';
import { freshnessLeftMs, type CacheEntry } from '../entry/cache-entry';
import type { PreparedPage } from '../entry/prepared-page';
import { LRUCache } from 'lru-cache';
import { resolvePage, type ResolvedPage } from '../key';
import type { CacheEvents } from '../observe/events';
import type { PolicyTable } from '../policy';
import type { TierStack } from '../tiers/tier-stack';
import { BYPASS, NOT_CACHED, type CacheLogFields, type Decision, type RequestContexts } from './context';
import { deliverHit, serviceUnavailable } from './deliver';
import { isCacheableRequest, type AgentFamily, type BotTest } from './recv';

export interface LookupDeps {
  tiers: TierStack;
  policies: PolicyTable;
  events: CacheEvents;
  contexts: RequestContexts;
  isBot: BotTest;
  allAgents: boolean;
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

/**
 * recv, hash, lookup and, on a hit, deliver: 'served' when the request is answered, else what
 * the host's routes must do (render a miss, or nothing to do with the cache).
 */
export type LookupOutcome = Decision | 'served';

/** Resolved pages by request URL: crawlers ask for the same URLs over and over, each is matched and normalised once. */
const MAX_MEMO_URL_LENGTH = 512;

export function createLookup(deps: LookupDeps): (req: IncomingMessage, res: ServerResponse, keepServedLog: boolean) => LookupOutcome | Promise<LookupOutcome> {
  const { tiers, policies, events, contexts, isBot, allAgents, singleFlight, renderBudget } = deps;
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

  /**
   * `keepServedLog`: a served request's log fields are kept for a log line (a hit on the front
   * keeps none unless logged). A hit in the in-process tier is answered synchronously: no
   * promise, no microtask between the request and its answer; anything else continues async.
   */
  return function lookup(req, res, keepServedLog) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return NOT_CACHED;
    const page = resolve(req.url ?? '');
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
    if (!isCacheableRequest(req, agent !== 'human', allAgents)) {
      contexts.of(req).log = log;
      events.emit({ type: 'request', route, outcome: 'BYPASS' });
      res.setHeader('X-Cache', 'BYPASS');
      res.once('finish', () => events.emit({ type: 'response', route, agent, outcome: 'BYPASS', status: res.statusCode }));
      return BYPASS;
    }

    // hash: the route renders exactly the page the key names, so a variant the key folds
    // away (parameter order, repeats, junk) can never be stored under another page's key.
    req.url = page.url;
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
    // Stale within grace (or another build's): the client gets it now, one re-render runs behind it.
    if (hit && !hit.fallback && deps.canRefresh()) {
      log.cache = 'STALE';
      log.tier = hit.tier;
      events.emit({ type: 'request', route, outcome: 'STALE', source: hit.tier });
      serve(req, res, page.key, hit.page, log, agent);
      void deps.refresh(page);
      return 'served';
    }
    // Past grace but kept (stale-if-error): served only if the render fails.
    const fallback = hit?.page;

    // fetch, once: concurrent misses of this page (here or on another instance) wait for one render.
    let done: ((entry: CacheEntry | undefined) => void) | undefined;
    let share: ((entry: CacheEntry) => void) | undefined;
    if (singleFlight && req.method === 'GET') {
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
        events.emit({ type: 'request', route, outcome: 'STALE', source: 'redis' });
        serve(req, res, page.key, fallback, log, agent);
        return 'served';
      }
      log.cache = 'MISS';
      events.emit({ type: 'request', route, outcome: 'MISS' });
      // Come back when the budget has a render again (the retryAfterSeconds setting at most): a warm-up or a polite crawler waits a second, not half a minute.
      serviceUnavailable(req, res, Math.min(deps.retryAfterSeconds, renderBudget.secondsUntilNext()), 'render-budget');
      events.emit({ type: 'response', route, agent, outcome: 'MISS', status: 503 });
      return 'served';
    }

    contexts.of(req).log = log;
    events.emit({ type: 'request', route, outcome: 'MISS' });
    events.emit({ type: 'render', route, trigger: 'request' });
    log.cache = 'MISS';
    res.setHeader('X-Cache', 'MISS');
    res.setHeader('Server-Timing', `cache;desc="MISS";dur=${log.lookupMs}`);
    return { kind: 'miss', page, since: Date.now(), seq: tiers.renderSeq(), share, done, fallback, agent };
  }
}
