import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SingleFlight } from '../coordination/single-flight';
import type { CacheEntry } from '../entry/cache-entry';
import { resolvePage, type ResolvedPage } from '../key';
import type { CacheEvents } from '../observe/events';
import type { PolicyTable } from '../policy';
import type { TierStack } from '../tiers/tier-stack';
import { BYPASS, NOT_CACHED, type CacheLogFields, type Decision, type RequestContexts } from './context';
import { deliverHit } from './deliver';
import { isCacheableRequest, type BotTest } from './recv';

export interface LookupDeps {
  tiers: TierStack;
  policies: PolicyTable;
  events: CacheEvents;
  contexts: RequestContexts;
  isBot: BotTest;
  allAgents: boolean;
  singleFlight?: SingleFlight;
  /** Re-renders a stale page behind the client; false when no re-render can run (then the request renders). */
  canRefresh(): boolean;
  refresh(page: ResolvedPage): Promise<void>;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * recv, hash, lookup and, on a hit, deliver: 'served' when the request is answered, else what
 * the host's routes must do (render a miss, or nothing to do with the cache).
 */
export function createLookup(deps: LookupDeps): (req: IncomingMessage, res: ServerResponse, keepServedLog: boolean) => Promise<Decision | 'served'> {
  const { tiers, policies, events, contexts, isBot, allAgents, singleFlight } = deps;

  /** `keepServedLog`: a served request's log fields are kept for a log line (a hit on the front keeps none unless logged). */
  return async function lookup(req, res, keepServedLog) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return NOT_CACHED;
    const page = resolvePage(req.url ?? '', policies);
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
      return { kind: 'miss', page, since: Date.now(), done: context.reportStored };
    }

    if (!isCacheableRequest(req, isBot, allAgents)) {
      contexts.of(req).log = log;
      events.emit({ type: 'request', route, outcome: 'BYPASS' });
      res.setHeader('X-Cache', 'BYPASS');
      return BYPASS;
    }

    // hash: the route renders exactly the page the key names, so a variant the key folds
    // away (parameter order, repeats, junk) can never be stored under another page's key.
    req.url = page.url;
    log.key = page.key;
    const started = performance.now();
    const hit = await tiers.get(page.key);
    const lookupMs = performance.now() - started;
    log.lookupMs = roundMs(lookupMs);
    events.emit({ type: 'lookup', result: hit ? hit.tier : 'miss', seconds: lookupMs / 1000 });

    if (hit && !hit.stale) {
      log.cache = 'HIT';
      log.tier = hit.tier;
      events.emit({ type: 'request', route, outcome: 'HIT', source: hit.tier });
      deliverHit(req, res, tiers, page.key, hit.page, log);
      return 'served';
    }
    // Stale within grace: the client gets it now, one re-render runs behind it.
    if (hit && deps.canRefresh()) {
      log.cache = 'STALE';
      log.tier = hit.tier;
      events.emit({ type: 'request', route, outcome: 'STALE', source: hit.tier });
      deliverHit(req, res, tiers, page.key, hit.page, log);
      void deps.refresh(page);
      return 'served';
    }

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
        deliverHit(req, res, tiers, page.key, tiers.prepare(page.key, flight.entry), log);
        return 'served';
      }
    }

    contexts.of(req).log = log;
    events.emit({ type: 'request', route, outcome: 'MISS' });
    events.emit({ type: 'render', route, trigger: 'request' });
    log.cache = 'MISS';
    res.setHeader('X-Cache', 'MISS');
    res.setHeader('Server-Timing', `cache;desc="MISS";dur=${log.lookupMs}`);
    return { kind: 'miss', page, since: Date.now(), share, done };
  };
}
