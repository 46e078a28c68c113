import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RedisTier } from '../redis/redis-tier';
import type { BreakerState } from '../redis/circuit-breaker';
import type { AgentFamily } from '../flow/recv';
import { BUILT_IN_STORE_SKIP_REASONS } from '../flow/context';
import type { CacheEvent, LookupResult, RenderTrigger, RequestOutcome } from './events';
import { AGENT_FAMILIES, type CacheStats } from './stats';
import { RollingWindow } from './rolling-window';
import type { TierStack } from '../tiers/tier-stack';
import type { WriteBudget } from '../redis/write-budget';

export interface CacheMetricsSources {
  stats: CacheStats;
  cache: RedisTier;
  tiers: TierStack;
  budget: WriteBudget;
  /** The rolling window of health()'s recent hit rate, in ms. */
  windowMs: number;
  /** Where the metrics are registered; absent, a registry of the cache's own. */
  registry?: Registry;
}

export const METRIC_PREFIX = 'ssr_cache_';
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open'];
const OUTCOMES: readonly RequestOutcome[] = ['HIT', 'STALE', 'MISS', 'BYPASS'];
const TRIGGERS: readonly RenderTrigger[] = ['request', 'refresh'];
const LOOKUP_RESULTS: readonly LookupResult[] = ['memory', 'redis', 'miss'];
const RENDER_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LOOKUP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5];
/** Seconds past freshness of STALE pages: a second to a week. */
const STALE_AGE_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600];
/** Seconds from an accepted invalidation to the fresh page stored. */
const FRESHNESS_LAG_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600];

type NumericStat = { [K in keyof CacheStats]: CacheStats[K] extends number ? K : never }[keyof CacheStats];

/** Since-start counters that /health also shows. */
const COUNTED_STATS: [NumericStat, string, string][] = [
  ['budgetSkips', 'write_budget_skips_total', 'Writes skipped because Redis memory was above the write budget.'],
  ['stores', 'stores_total', 'Pages written to the cache.'],
  ['oversized', 'oversized_total', 'Pages above the entry size bound: served, not stored.'],
  ['writeFailures', 'write_failures_total', 'Writes Redis refused or did not answer.'],
  ['coalescedWaits', 'coalesced_waits_total', "Requests that got another request's render instead of rendering."],
  ['lockWaitTimeouts', 'lock_wait_timeouts_total', 'Waits for another render that timed out (the request rendered itself).'],
  ['backgroundRefreshes', 'background_refreshes_total', 'Background re-renders run (stale pages, refresh invalidations).'],
  ['renderErrors', 'render_errors_total', 'Renders that failed, answered 5xx or timed out.'],
  ['memoryHits', 'memory_hits_total', 'Hits served from the in-process tier.'],
  ['invalidationsQueued', 'invalidations_queued_total', 'Invalidations accepted while Redis was unreachable (applied once it answered).'],
  ['writePauses', 'write_pauses_total', 'Times writes paused because Redis memory reached the write budget.'],
  ['renderBudgetSpent', 'render_budget_spent_total', 'Renders refused because the render budget was spent (a kept copy or a 503 with Retry-After went out).'],
  ['refreshesQueued', 'refreshes_queued_total', 'Background re-renders that waited for a free slot (refreshConcurrency).'],
  ['refreshesDropped', 'refreshes_dropped_total', 'Background re-renders dropped because too many waited (the page is tried again on a later request).'],
];

/** A live cache's metrics are in the registry (its first, requests_total, until its close()): a second cache there would collide with them. */
export function holdsLiveCacheMetrics(registry: Registry): boolean {
  return registry.getSingleMetric(`${METRIC_PREFIX}requests_total`) !== undefined;
}

/** A count kept as a plain number on the hit path and exported at scrape time. */
interface Tally {
  value: number;
}

interface RouteSeries {
  requests: Record<RequestOutcome, Tally>;
  renders: Record<RenderTrigger, Counter.Internal>;
  renderDuration: Record<RenderTrigger, Histogram.Internal<'route' | 'trigger'>>;
}

function byName<K extends string, V>(names: readonly K[], make: (name: K) => V): Record<K, V> {
  return Object.fromEntries(names.map((name) => [name, make(name)])) as Record<K, V>;
}

/**
 * The cache's Prometheus metrics (one registry per app, so tests and embedding servers can run
 * several) and the rolling window behind /health's recent hit rate. The request path increments
 * prom-client children made once per route; the rest is read at scrape time.
 */
/** The cache's own store-skip reasons; a route's own (cache.noStore) are bounded apart. */
const BUILT_IN_REASONS: ReadonlySet<string> = new Set(BUILT_IN_STORE_SKIP_REASONS);
const MAX_ROUTE_REASONS = 20;

export class CacheMetrics {
  readonly registry: Registry;
  readonly window: RollingWindow;
  private readonly requests: Counter<'route' | 'outcome'>;
  private readonly renders: Counter<'route' | 'trigger'>;
  private readonly renderDuration: Histogram<'route' | 'trigger'>;
  private readonly invalidations: Counter<'source' | 'mode'>;
  private readonly invalidatedKeys: Counter<'source' | 'mode'>;
  /** prom-client hashes the labels on every call: the request path uses children made once. */
  private readonly routes = new Map<string, RouteSeries>();
  private readonly lookups: Record<LookupResult, Histogram.Internal<'result'>>;
  private readonly responses: Counter<'agent' | 'outcome' | 'status'>;
  /** agent -> outcome -> status -> child, made on first use (statuses are few: 200, 304, 404, 301, 503, ...). */
  private readonly responseTallies: Record<AgentFamily, Record<RequestOutcome, Map<number, Tally>>>;
  private readonly staleAge: Histogram;
  private readonly freshnessLag: Histogram;
  private readonly redisReads: Record<'running' | 'other', Counter.Internal>;
  private readonly garbage: Counter<'kind'>;
  private readonly storeSkips: Counter<'route' | 'reason'>;
  /** Reasons a route gave (cache.noStore) seen so far: past MAX_ROUTE_REASONS they count as `other`, so labels stay bounded. */
  private readonly routeReasons = new Set<string>();

  private boundedReason(reason: string): string {
    if (BUILT_IN_REASONS.has(reason) || this.routeReasons.has(reason)) return reason;
    if (this.routeReasons.size >= MAX_ROUTE_REASONS) return 'other';
    this.routeReasons.add(reason);
    return reason;
  }
  /** Every metric this cache registered, for unregister(). */
  private readonly names: string[] = [];

  constructor({ stats, cache, tiers, budget, windowMs, registry }: CacheMetricsSources) {
    this.registry = registry ?? new Registry();
    this.window = new RollingWindow(windowMs);
    const registers = [this.registry];
    const name = (suffix: string) => {
      const full = `${METRIC_PREFIX}${suffix}`;
      this.names.push(full);
      return full;
    };
    // The hit path adds to plain numbers; prom-client reads them at scrape time (a labelled inc
    // costs microseconds a hit, a number a few nanoseconds).
    const routes = this.routes;
    this.requests = new Counter({
      name: name('requests_total'),
      help: 'Requests on cached routes by cache outcome (hit, stale, miss, bypass) and route.',
      labelNames: ['route', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [route, series] of routes)
          for (const outcome of OUTCOMES) this.inc({ route, outcome: outcome.toLowerCase() }, series.requests[outcome].value);
      },
    });
    this.renders = new Counter({
      name: name('renders_total'),
      help: 'Renders started, by route and trigger (request: a client waits; refresh: in the background).',
      labelNames: ['route', 'trigger'],
      registers,
    });
    this.renderDuration = new Histogram({
      name: name('render_duration_seconds'),
      help: "Time from the cache's decision to render until the page was rendered.",
      labelNames: ['route', 'trigger'],
      buckets: RENDER_BUCKETS,
      registers,
    });
    const lookupDuration = new Histogram({
      name: name('lookup_duration_seconds'),
      help: 'Time of a cache lookup that reached Redis (an in-process hit is answered at once and not timed), by where the page was found.',
      labelNames: ['result'],
      buckets: LOOKUP_BUCKETS,
      registers,
    });
    this.invalidations = new Counter({
      name: name('invalidations_total'),
      help: 'Invalidation requests carried out, by source (api, or the source the host names) and mode (hard, soft, refresh).',
      labelNames: ['source', 'mode'],
      registers,
    });
    this.lookups = byName(LOOKUP_RESULTS, (result) => lookupDuration.labels(result));
    this.invalidatedKeys = new Counter({
      name: name('invalidated_keys_total'),
      help: 'Cached pages removed (hard) or marked stale (soft, refresh) by invalidations.',
      labelNames: ['source', 'mode'],
      registers,
    });

    const responseTallies = byName(AGENT_FAMILIES, () => byName(OUTCOMES, () => new Map<number, Tally>()));
    this.responseTallies = responseTallies;
    this.responses = new Counter({
      name: name('responses_total'),
      help: 'Answers on cached routes by client family (googlebot, bingbot, other-bot, human), cache outcome and HTTP status (304s included).',
      labelNames: ['agent', 'outcome', 'status'],
      registers,
      collect() {
        this.reset();
        for (const agent of AGENT_FAMILIES) {
          for (const outcome of OUTCOMES) {
            for (const [status, tally] of responseTallies[agent][outcome])
              this.inc({ agent, outcome: outcome.toLowerCase(), status: String(status) }, tally.value);
          }
        }
      },
    });
    this.staleAge = new Histogram({
      name: name('stale_age_seconds'),
      help: 'How far past freshness the STALE pages served were (0 for a fresh page of another build).',
      buckets: STALE_AGE_BUCKETS,
      registers,
    });
    this.freshnessLag = new Histogram({
      name: name('freshness_lag_seconds'),
      help: 'From an accepted invalidation to the fresh page stored again, per page it named (on the instance that accepted it).',
      buckets: FRESHNESS_LAG_BUCKETS,
      registers,
    });
    const redisReads = new Counter({
      name: name('redis_page_reads_total'),
      help: 'Pages read from Redis, by the build that rendered them (running, or other: served stale and re-rendered).',
      labelNames: ['build'],
      registers,
    });
    this.redisReads = { running: redisReads.labels('running'), other: redisReads.labels('other') };
    this.garbage = new Counter({
      name: name('garbage_keys_total'),
      help: 'Values of the wrong type found at keys the cache owns and removed, by kind (page, tag-index, lock, negative-index, record).',
      labelNames: ['kind'],
      registers,
    });
    this.storeSkips = new Counter({
      name: name('store_skips_total'),
      help: 'Rendered responses not stored, by route and reason (status, set-cookie, cache-control, vary, too-large, ...).',
      labelNames: ['route', 'reason'],
      registers,
    });

    // Since-start counts kept elsewhere, exported as they are at each scrape.
    const countOf = (suffix: string, help: string, read: () => number) =>
      new Counter({
        name: name(suffix),
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    for (const [field, suffix, help] of COUNTED_STATS) countOf(suffix, help, () => stats[field]);
    countOf('redis_breaker_opens_total', 'Times the Redis circuit breaker opened.', () => cache.breakerState().opens);
    new Gauge({
      name: name('redis_breaker_state'),
      help: "The Redis circuit breaker's state: 1 for the current one (closed: Redis on the request path; open: pages render through).",
      labelNames: ['state'],
      registers,
      collect() {
        const current = cache.breakerState().state;
        for (const state of BREAKER_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
    new Gauge({
      name: name('redis_up'),
      help: '1 while the Redis connection is ready, else 0.',
      registers,
      collect() {
        this.set(cache.isAvailable() ? 1 : 0);
      },
    });
    const gaugeOf = (suffix: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name: name(suffix),
        help,
        registers,
        collect() {
          const value = read();
          // No reading yet (Redis never answered INFO): no sample rather than a made-up 0.
          if (value === undefined) this.reset();
          else this.set(value);
        },
      });
    gaugeOf('redis_memory_used_bytes', 'Redis used_memory (INFO memory; the fullest master on a cluster).', () => budget.lastMemory?.usedBytes);
    gaugeOf('redis_memory_max_bytes', 'Redis maxmemory (0: no limit).', () => budget.lastMemory?.maxBytes);
    gaugeOf('memory_tier_bytes', 'Bytes held by the in-process tier.', () => tiers.memory?.bytes ?? 0);
    gaugeOf('memory_tier_entries', 'Pages held by the in-process tier.', () => tiers.memory?.size ?? 0);
    gaugeOf('pending_invalidations', 'Invalidations accepted while Redis was unreachable, waiting to be applied to it.', () => tiers.pending.size);
  }

  /** The metrics' reader of the event stream (the rolling window's too). */
  observe(event: CacheEvent): void {
    switch (event.type) {
      case 'request':
        this.route(event.route).requests[event.outcome].value += 1;
        if (event.outcome === 'HIT') this.window.recordHit();
        else if (event.outcome === 'STALE') this.window.recordStale();
        else if (event.outcome === 'MISS') this.window.recordMiss();
        return;
      case 'lookup':
        this.lookups[event.result].observe(event.seconds);
        if (event.result === 'redis') this.redisReads[event.otherBuild ? 'other' : 'running'].inc();
        return;
      case 'response': {
        const tallies = this.responseTallies[event.agent][event.outcome];
        const tally = tallies.get(event.status);
        if (tally) tally.value += 1;
        else tallies.set(event.status, { value: 1 });
        if (event.staleSeconds !== undefined) this.staleAge.observe(event.staleSeconds);
        return;
      }
      case 'fresh-again':
        this.freshnessLag.observe(event.seconds);
        return;
      case 'garbage':
        this.garbage.labels(event.kind).inc(event.count);
        return;
      case 'store-skip':
        this.storeSkips.labels(event.route, this.boundedReason(event.reason)).inc();
        return;
      case 'render':
        this.route(event.route).renders[event.trigger].inc();
        return;
      case 'rendered':
        this.route(event.route).renderDuration[event.trigger].observe(event.seconds);
        return;
      case 'invalidation':
        this.invalidations.labels(event.source, event.mode).inc();
        this.invalidatedKeys.labels(event.source, event.mode).inc(event.keys);
        return;
      default:
        return;
    }
  }

  /** Removes every metric this cache registered from its registry, so another cache can register them there. */
  unregister(): void {
    for (const name of this.names) this.registry.removeSingleMetric(name);
  }

  /** A route's series, made at its first request (each starts at 0, so rate() sees it from then). */
  private route(route: string): RouteSeries {
    let series = this.routes.get(route);
    if (!series) {
      series = {
        requests: byName(OUTCOMES, () => ({ value: 0 })),
        renders: byName(TRIGGERS, (trigger) => this.renders.labels(route, trigger)),
        renderDuration: byName(TRIGGERS, (trigger) => this.renderDuration.labels(route, trigger)),
      };
      this.routes.set(route, series);
    }
    return series;
  }
}
