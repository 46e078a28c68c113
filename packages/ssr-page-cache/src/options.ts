import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from './logger';
import { holdsLiveCacheMetrics } from './observe/metrics';
import { createPolicyTable, type CachePolicy, type PolicyTable, type QueryNormaliser } from './policy';
import type { RedisClient } from './redis/connection';

/** How one route is cached. */
export interface RoutePolicy {
  /** Seconds a stored page is fresh. */
  ttl: number;
  /** Seconds after `ttl` during which the page is still served (stale) while one re-render runs; default the `grace` option. */
  grace?: number;
  /**
   * The query parameters that make a different page (all others are dropped from the key and
   * from the URL the route sees): names, or names with a function that spells a value canonically.
   */
  query?: readonly string[] | Readonly<Record<string, QueryNormaliser>>;
  /**
   * The value the route uses when a parameter is absent (`{ page: '1', sort: 'newest' }`): a
   * parameter spelled to its default is dropped from the key and the URL the route sees, so
   * `/list`, `?page=1` and `?sort=newest` are one page, rendered and stored once.
   */
  queryDefaults?: Readonly<Record<string, string>>;
  /** The `route` label of metrics and logs; default the path pattern. */
  name?: string;
}

export interface PageCacheOptions {
  /** The host's ioredis client (Redis, Sentinel or Cluster), used as is; the cache opens one more connection, for pub/sub. */
  redis: RedisClient;
  /** path-to-regexp patterns (Express 5 syntax, case-insensitive, optional trailing slash): only these are cached, first match wins. */
  routes: Readonly<Record<string, RoutePolicy>>;
  /** Prepended to every key the cache writes: `${keyPrefix}ssr:/posts/hello`. Default ''. */
  keyPrefix?: string;
  /** A pino logger (or anything with debug/info/warn/error); silent when absent. */
  logger?: Logger;
  /** false: the middleware passes every request through (health() says so). Default true. */
  enabled?: boolean;
  /** Cache for every user agent, not only crawlers. Default false. */
  allAgents?: boolean;
  /**
   * Request cookies that do not make a request private when `allAgents` is on: analytics cookies
   * (`'_ga'`, `/^_ga_/`) that no page reads. Any other cookie still bypasses the cache. Default none.
   */
  ignoreCookies?: readonly (string | RegExp)[];
  /**
   * Response headers that are per request and never stored: a hit sends this request's own values
   * (as set by earlier middleware), never those of the render that was stored. Replaces the default,
   * ['x-request-id', 'x-correlation-id', 'request-id', 'traceparent', 'tracestate'].
   */
  liveHeaders?: readonly string[];
  /** The crawler test; default isbot's list. */
  isBot?: (userAgent: string) => boolean;
  /** Default grace of the routes, in seconds. Default 10 (as Varnish). */
  grace?: number;
  /** No client waits on a render longer (it gets a 503 with Retry-After); background re-renders are abandoned after it. Default 10000. */
  renderTimeoutMs?: number;
  /** Retry-After of that 503, in seconds. Default 30. */
  retryAfterSeconds?: number;
  /**
   * Seconds a stored copy outlives its grace, kept only to be served when a re-render fails or
   * the render budget is spent (stale-if-error); 0 turns it off. Default 3600.
   */
  staleIfError?: number;
  /** Seconds a 404 or 410 page is stored (tag it, so a record created renews it at once); 0: never stored. Default 60. */
  negativeTtl?: number;
  /** Seconds a permanent redirect (301, 308) is stored; 0: never stored. Default 600. */
  redirectTtl?: number;
  /** At most this many 404/410/redirect entries in Redis; storing one more evicts the nearest to expiry. Default 10000. */
  maxNegativeEntries?: number;
  /**
   * Renders a client waits for, per instance: a token bucket of `burst` renders refilled at
   * `perSecond`. Over budget a request gets a stored copy if any, else a 503 with Retry-After
   * (the seconds until the bucket holds a render again, retryAfterSeconds at most),
   * so a flood of unknown URLs cannot drive the render rate. false: no budget. Default { perSecond: 100, burst: 200 }.
   */
  renderBudget?: false | { perSecond?: number; burst?: number };
  /**
   * Names the code that renders (package version and git commit, say): every entry records it,
   * and one from another build is served as STALE and re-rendered behind the client. Default none (not checked).
   */
  buildId?: string;
  /** Background re-renders (stale pages, other builds' entries, refresh invalidations) running at once per instance; more wait their turn. Default 4. */
  refreshConcurrency?: number;
  /** Larger pages are served but not stored. Default 1 MiB. */
  maxEntryBytes?: number;
  /** Bytes of the in-process tier in front of Redis; 0 turns it off. Default 64 MiB. */
  memoryTierBytes?: number;
  /** No Redis command waits longer, counted from its call. Default 250. */
  commandTimeoutMs?: number;
  /** The circuit breaker around Redis: failures in a row that open it (5), and its cool-down before a probe (5000 ms). */
  breaker?: { failureThreshold?: number; cooldownMs?: number };
  /** How long a request waits for another request's render of the same page. Default 3000. */
  lockWaitMs?: number;
  /** How long a render lock lives when its owner never releases it. Default 15000. */
  lockTtlMs?: number;
  /** Writes stop while Redis used_memory is at or above this share of maxmemory. Default 0.9. */
  redisMemoryFraction?: number;
  /** How often Redis memory is read for that. Default 5000. */
  redisMemoryCheckMs?: number;
  /** The rolling window of health()'s recent hit rate and its alert, in seconds. Default 3600. */
  healthWindowSeconds?: number;
  /** A prom-client Registry to register the ssr_cache_* metrics in; default one of the cache's own (`cache.registry`). */
  registry?: Registry;
  /**
   * A file where invalidations accepted while Redis cannot take them are written (fsync'd)
   * before they are answered, and read back at start, so a crash loses none. One file per
   * process. Default none: they are held in memory only.
   */
  invalidationJournal?: string;
}

/** Every option with its value: what the cache runs with. */
export interface ResolvedOptions {
  redis: RedisClient;
  policies: PolicyTable;
  keyPrefix: string;
  logger: Logger | undefined;
  enabled: boolean;
  allAgents: boolean;
  ignoreCookies: readonly (string | RegExp)[];
  /** Lower-cased. */
  liveHeaders: readonly string[];
  isBot: ((userAgent: string) => boolean) | undefined;
  renderTimeoutMs: number;
  retryAfterSeconds: number;
  staleIfError: number;
  negativeTtl: number;
  redirectTtl: number;
  maxNegativeEntries: number;
  renderBudget: false | { perSecond: number; burst: number };
  buildId: string | undefined;
  refreshConcurrency: number;
  maxEntryBytes: number;
  memoryTierBytes: number;
  commandTimeoutMs: number;
  breaker: { failureThreshold: number; cooldownMs: number };
  lockWaitMs: number;
  lockTtlMs: number;
  redisMemoryFraction: number;
  redisMemoryCheckMs: number;
  healthWindowSeconds: number;
  registry: Registry | undefined;
  invalidationJournal: string | undefined;
}

export class PageCacheOptionsError extends Error {
  override name = 'PageCacheOptionsError';
}

/** Headers set per request (by a request-id or tracing middleware) that a hit must not replay from the stored render. */
const DEFAULT_LIVE_HEADERS: readonly string[] = ['x-request-id', 'x-correlation-id', 'request-id', 'traceparent', 'tracestate'];

const MAX_TTL_SECONDS = 365 * 24 * 3600;
/** RFC 9110's token: the characters a header name may have. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Where an issue is, as the messages say it: `routes./posts/:slug.ttl`. */
function where(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : String(part))).join('.') || 'options';
}

/** Edits (insertions, deletions, substitutions) from one name to the other, ignoring case. */
function editDistance(from: string, to: string): number {
  const a = from.toLowerCase();
  const b = to.toLowerCase();
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** The known name a mistyped one most likely meant: a few edits away (fewer for a short name), or one it begins. */
function nearestName(unknown: string, known: readonly string[]): string | undefined {
  const allowed = Math.min(3, Math.floor(unknown.length / 2));
  let nearest: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(unknown, name);
    const close = distance <= allowed || (unknown.length >= 4 && name.toLowerCase().startsWith(unknown.toLowerCase()));
    if (close && (!nearest || distance < nearest.distance)) nearest = { name, distance };
  }
  return nearest?.name;
}

function unknownOption(key: string, known: readonly string[]): string {
  const nearest = nearestName(key, known);
  return nearest ? `unknown option; did you mean ${nearest}?` : `unknown option; the options here are ${known.join(', ')}`;
}

/**
 * An object of options that refuses keys it does not know, each named with the nearest one it
 * does: ignored, a typo such as `keyprefix` would write unprefixed keys into a shared Redis.
 */
function strictOptions<Shape extends z.ZodRawShape>(shape: Shape, notAnObject?: string) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    // Issues reach the error map with their whole path, so each key's message can say where it is.
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `${where([...(issue.path ?? []), key])}: ${unknownOption(key, known)}`).join('; ')
        : notAnObject,
  });
}

const whole = (min: number, max: number, unit: string) =>
  z
    .number({ message: `must be a number of ${unit}` })
    .int(`must be a whole number of ${unit}`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);
const queryNames = z.array(z.string().min(1, 'must not be empty'), { message: 'must be a list of parameter names or an object of name: function' });
const queryNormalisers = z.record(
  z.string(),
  z.custom<QueryNormaliser>((value) => typeof value === 'function', 'must be a function (value) => canonical value'),
);

const routeSchema = strictOptions(
  {
    ttl: whole(1, MAX_TTL_SECONDS, 'seconds'),
    grace: whole(0, MAX_TTL_SECONDS, 'seconds').optional(),
    query: z.union([queryNames, queryNormalisers], { message: 'must be a list of parameter names or an object of name: function' }).optional(),
    queryDefaults: z.record(z.string(), z.string({ message: 'must be the canonical spelling of the default value' })).optional(),
    name: z.string().min(1).max(100).optional(),
  },
  'must be an object such as { ttl: 300 }',
);

const cookieMatcher = z.union([z.string().min(1), z.instanceof(RegExp)], { message: 'must be a cookie name or a regular expression' }).refine(
  (matcher) => typeof matcher === 'string' || !(matcher.global || matcher.sticky),
  // test() of a g or y expression starts where the last match ended: every other request would miss.
  'must not have the g or y flag',
);

const optionsSchema = strictOptions({
  redis: z.custom<RedisClient>(
    (value) => typeof value === 'object' && value !== null && typeof (value as { getBuffer?: unknown }).getBuffer === 'function',
    'must be an ioredis client (new Redis(...) or new Cluster(...))',
  ),
  routes: z.record(z.string().startsWith('/', 'must be a path pattern starting with "/"'), routeSchema, {
    message: 'must be an object of path pattern: { ttl }',
  }),
  keyPrefix: z.string().max(64, 'must be at most 64 characters').default(''),
  logger: z
    .custom<Logger>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['debug', 'info', 'warn', 'error'].every((level) => typeof (value as Record<string, unknown>)[level] === 'function'),
      'must have debug, info, warn and error methods (a pino logger)',
    )
    .optional(),
  enabled: z.boolean({ message: 'must be true or false' }).default(true),
  allAgents: z.boolean({ message: 'must be true or false' }).default(false),
  ignoreCookies: z.array(cookieMatcher, { message: 'must be a list of cookie names or regular expressions' }).default(() => []),
  liveHeaders: z
    .array(z.string().regex(HEADER_NAME, 'must be a header name such as x-request-id'), { message: 'must be a list of header names' })
    .transform((names) => names.map((name) => name.toLowerCase()))
    .default(() => [...DEFAULT_LIVE_HEADERS]),
  isBot: z.custom<(userAgent: string) => boolean>((value) => typeof value === 'function', 'must be a function (userAgent) => boolean').optional(),
  grace: whole(0, MAX_TTL_SECONDS, 'seconds').default(10),
  renderTimeoutMs: whole(100, 600_000, 'milliseconds').default(10_000),
  retryAfterSeconds: whole(1, 86_400, 'seconds').default(30),
  staleIfError: whole(0, MAX_TTL_SECONDS, 'seconds').default(3600),
  negativeTtl: whole(0, 86_400, 'seconds').default(60),
  redirectTtl: whole(0, MAX_TTL_SECONDS, 'seconds').default(600),
  maxNegativeEntries: whole(1, 10_000_000, 'entries').default(10_000),
  renderBudget: z
    .union(
      [
        z.literal(false),
        strictOptions({
          perSecond: z.number({ message: 'must be a number of renders a second' }).gt(0, 'must be above 0').max(1_000_000).default(100),
          burst: whole(1, 1_000_000, 'renders').default(200),
        }),
      ],
      { message: 'must be false or { perSecond, burst }' },
    )
    .default({ perSecond: 100, burst: 200 }),
  buildId: z
    .string({ message: 'must be a string' })
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  refreshConcurrency: whole(1, 1000, 'renders').default(4),
  maxEntryBytes: whole(1024, 64 * 1024 * 1024, 'bytes').default(1024 * 1024),
  memoryTierBytes: whole(0, 64 * 1024 * 1024 * 1024, 'bytes').default(64 * 1024 * 1024),
  commandTimeoutMs: whole(10, 60_000, 'milliseconds').default(250),
  breaker: strictOptions(
    { failureThreshold: whole(1, 1000, 'failures').default(5), cooldownMs: whole(100, 600_000, 'milliseconds').default(5000) },
    'must be an object such as { failureThreshold: 5, cooldownMs: 5000 }',
  ).default({ failureThreshold: 5, cooldownMs: 5000 }),
  lockWaitMs: whole(0, 60_000, 'milliseconds').default(3000),
  lockTtlMs: whole(100, 600_000, 'milliseconds').default(15_000),
  redisMemoryFraction: z.number({ message: 'must be a fraction' }).gt(0, 'must be above 0').max(1, 'must be at most 1').default(0.9),
  redisMemoryCheckMs: whole(100, 600_000, 'milliseconds').default(5000),
  healthWindowSeconds: whole(60, 7 * 24 * 3600, 'seconds').default(3600),
  registry: z
    .custom<Registry>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['registerMetric', 'getSingleMetric', 'removeSingleMetric'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
      'must be a prom-client Registry',
    )
    .optional(),
  invalidationJournal: z.string({ message: 'must be the path of a file' }).min(1, 'must be the path of a file').optional(),
});

function describe(error: z.ZodError): string {
  // An unknown key's message names its own path (strictOptions), one per key.
  return error.issues.map((issue) => (issue.code === 'unrecognized_keys' ? issue.message : `${where(issue.path)}: ${issue.message}`)).join('; ');
}

const identity: QueryNormaliser = (value) => value;

function toPolicy(path: string, route: RoutePolicy, grace: number): CachePolicy {
  const query: Record<string, QueryNormaliser> = {};
  if (Array.isArray(route.query)) for (const name of route.query) query[name] = identity;
  else if (route.query) Object.assign(query, route.query);
  const queryDefaults: Record<string, string> = {};
  for (const [name, fallback] of Object.entries(route.queryDefaults ?? {})) {
    const normalise = query[name];
    if (!normalise) throw new Error(`"${path}": queryDefaults.${name} names a parameter that is not in query`);
    // The default's own canonical spelling: `?page=01` folds into it as `?page=1` does.
    queryDefaults[name] = normalise(fallback);
  }
  return { route: route.name ?? path, path, ttlSeconds: route.ttl, graceSeconds: route.grace ?? grace, query, queryDefaults };
}

/** Checks every option once, at start-up: a mistake throws a PageCacheOptionsError naming the option and what is accepted. */
export function resolveOptions(options: PageCacheOptions): ResolvedOptions {
  const badPath = Object.keys(options?.routes ?? {}).find((path) => !path.startsWith('/'));
  if (badPath !== undefined) throw new PageCacheOptionsError(`createPageCache: routes: "${badPath}" must be a path pattern starting with "/"`);
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new PageCacheOptionsError(`createPageCache: ${describe(parsed.error)}`);
  const values = parsed.data;
  // Checked before anything opens (the pub/sub connection, the journal), so a refusal leaves nothing behind.
  if (values.registry && holdsLiveCacheMetrics(values.registry))
    throw new PageCacheOptionsError(
      'createPageCache: registry: already holds the ssr_cache_* metrics of another live cache; close() that cache first, or give each cache a registry of its own',
    );
  let policies: PolicyTable;
  try {
    policies = compileRoutes(values.routes, values.grace);
  } catch (error) {
    throw new PageCacheOptionsError(`createPageCache: routes: ${(error as Error).message}`);
  }
  return {
    ...values,
    policies,
    logger: values.logger,
    isBot: values.isBot,
    registry: values.registry,
    buildId: values.buildId,
    invalidationJournal: values.invalidationJournal,
  };
}

/** The route table, compiled once: first match wins. */
export function compileRoutes(routes: Readonly<Record<string, RoutePolicy>>, grace = 10): PolicyTable {
  return createPolicyTable(Object.entries(routes).map(([path, route]) => toPolicy(path, route, grace)));
}
