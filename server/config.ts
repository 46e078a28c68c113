import { z } from 'zod';
import { INVALIDATION_MODES, queryNormalisers, type InvalidationModeName, type PageCacheOptions, type RoutePolicy } from 'ssr-page-cache';
import { buildIdFor } from './utils/build-id';
import type { ServerLimits } from './utils/http-server';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LISTING_SOURCES = ['embedded', 'twenty'] as const;
export const CACHED_ROUTES = ['home', 'browse', 'detail', 'sitemap'] as const;
export { INVALIDATION_MODES, type InvalidationModeName };

export type CachedRouteName = (typeof CACHED_ROUTES)[number];

/** Default fresh TTL of each page route, in seconds, before env overrides. */
const ROUTE_TTL_DEFAULTS: Record<CachedRouteName, number> = { home: 3600, browse: 1800, detail: 3600, sitemap: 3600 };
const ROUTE_ENV_SUFFIX: Record<CachedRouteName, string> = { home: 'HOME', browse: 'BROWSE', detail: 'DETAIL', sitemap: 'SITEMAP' };
const DEFAULT_GRACE_SECONDS = 3600;
const MAX_TTL_SECONDS = 365 * 24 * 3600;
/** The sitemap protocol's limit of URLs in one sitemap file. */
export const MAX_SITEMAP_URLS = 50_000;

/**
 * A secret a client presents in a header (or Twenty signs with): printable ASCII without spaces.
 * A space, tab or control character (the \r a CRLF .env file leaves at the end of a line) would
 * be kept in the secret and no request could ever match it, so it stops the start instead. The
 * message says what is wrong, never the value.
 */
function secret(minLength: number) {
  return z
    .string()
    .min(minLength, `must be at least ${minLength} characters`)
    .superRefine((value, context) => {
      const problem = /[\r\n]$/.test(value)
        ? 'ends in a line break (\\r or \\n: a .env file saved with CRLF line endings?); save it with LF line endings'
        : /\s/.test(value)
          ? 'contains whitespace, which no client can send in a header; remove the spaces (or the quotes around the value)'
          : /^[\x21-\x7e]*$/.test(value)
            ? undefined
            : 'contains control or non-ASCII characters; use printable ASCII only';
      if (problem) context.addIssue({ code: 'custom', message: problem });
    });
}

function integer(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }))
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const httpUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }))
  .transform((value) => value.replace(/\/+$/, ''));

const redisUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^rediss?$/, message: 'must be a redis:// or rediss:// URL' }));

const ttl = integer(1, MAX_TTL_SECONDS);

/** `host:port,host:port`: the seed nodes of a Redis Cluster or the Sentinels. */
const hostPortList = z
  .string()
  .trim()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  )
  .pipe(
    z
      .array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/, 'must be a comma-separated list of host:port'))
      .min(1, 'must name at least one host:port'),
  )
  .transform((items) =>
    items.map((item) => {
      const colon = item.lastIndexOf(':');
      return { host: item.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(item.slice(colon + 1)) };
    }),
  );

/** A Twenty field, or a subfield of a composite one, as REST `order_by` and `filter` name it. */
function fieldPath(example: string) {
  return z
    .string()
    .trim()
    .regex(/^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)?$/, `must be a field name or field.subfield, e.g. ${example}`);
}

/** Every env var the server reads; names are the documented ones (README, .env.example). */
const envSchema = z.object({
  // React and Express read it themselves; `npm start` sets production unless it is set.
  NODE_ENV: z.string().trim().optional(),
  PORT: integer(0, 65535).default(3002),
  PUBLIC_URL: httpUrl.optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(10_000),
  SERVER_HEADERS_TIMEOUT_MS: integer(1000, 600_000).default(10_000),
  SERVER_REQUEST_TIMEOUT_MS: integer(1000, 3_600_000).default(30_000),
  SERVER_KEEP_ALIVE_TIMEOUT_MS: integer(100, 600_000).default(5000),
  SERVER_MAX_CONNECTIONS: integer(1, 1_000_000).default(1000),
  SERVER_MAX_PIPELINED: integer(1, 10_000).default(16),
  SERVER_MAX_UNREAD_KB: integer(16, 1024 * 1024).default(1024),

  REDIS_URL: redisUrl.optional(),
  REDIS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  REDIS_PORT: integer(1, 65535).default(6379),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_DB: integer(0, 15).optional(),
  REDIS_KEY_PREFIX: z.string().max(64, 'must be at most 64 characters').default(''),
  REDIS_COMMAND_TIMEOUT_MS: integer(10, 5000).default(250),
  REDIS_CONNECT_TIMEOUT_MS: integer(100, 60_000).default(2000),
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_NAME: z.string().trim().min(1).default('mymaster'),
  REDIS_BREAKER_THRESHOLD: integer(1, 1000).default(5),
  REDIS_BREAKER_COOLDOWN_MS: integer(100, 600_000).default(5000),

  SSR_CACHE_ENABLED: boolean.default(true),
  SSR_CACHE_ALL_AGENTS: boolean.default(false),
  SSR_CACHE_TTL: ttl.optional(),
  SSR_CACHE_TTL_HOME: ttl.optional(),
  SSR_CACHE_TTL_BROWSE: ttl.optional(),
  SSR_CACHE_TTL_DETAIL: ttl.optional(),
  SSR_CACHE_TTL_SITEMAP: ttl.optional(),
  SSR_CACHE_GRACE: integer(0, MAX_TTL_SECONDS).optional(),
  SSR_CACHE_GRACE_HOME: integer(0, MAX_TTL_SECONDS).optional(),
  SSR_CACHE_GRACE_BROWSE: integer(0, MAX_TTL_SECONDS).optional(),
  SSR_CACHE_GRACE_DETAIL: integer(0, MAX_TTL_SECONDS).optional(),
  SSR_CACHE_GRACE_SITEMAP: integer(0, MAX_TTL_SECONDS).optional(),
  SSR_RENDER_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  SSR_CACHE_MAX_ENTRY_KB: integer(1, 64 * 1024).default(1024),
  SSR_CACHE_MEMORY_MB: integer(0, 64 * 1024).default(64),
  SSR_CACHE_REDIS_MEMORY_FRACTION: z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a fraction from 0 to 1, e.g. 0.9')
    .transform(Number)
    .pipe(z.number().gt(0, 'must be above 0').max(1))
    .default(0.9),
  SSR_CACHE_MEMORY_CHECK_MS: integer(100, 600_000).default(5000),
  SSR_CACHE_JOURNAL: z.string().trim().min(1, 'must be a file path, or off').optional(),
  SSR_CACHE_LOCK_WAIT_MS: integer(0, 60_000).default(3000),
  SSR_CACHE_LOCK_TTL_MS: integer(100, 600_000).default(15_000),
  CACHE_INVALIDATION_TOKEN: secret(16).optional(),
  TWENTY_WEBHOOK_SECRET: secret(16).optional(),
  TWENTY_WEBHOOK_TOLERANCE_MS: integer(1000, 3_600_000).default(300_000),
  TWENTY_WEBHOOK_MODE: z.enum(INVALIDATION_MODES, { message: `must be one of ${INVALIDATION_MODES.join(', ')}` }).default('soft'),

  METRICS_TOKEN: secret(16).optional(),
  HEALTH_WINDOW_SECONDS: integer(60, 7 * 24 * 3600).default(3600),
  SITEMAP_MAX_URLS: integer(1, MAX_SITEMAP_URLS).default(MAX_SITEMAP_URLS),

  LISTING_SOURCE: z.enum(LISTING_SOURCES, { message: `must be one of ${LISTING_SOURCES.join(', ')}` }).default('embedded'),
  LISTING_CATALOG_SIZE: integer(1, 1_000_000).default(1000),
  TWENTY_API_URL: httpUrl.optional(),
  TWENTY_API_KEY: secret(1).optional(),
  TWENTY_API_TIMEOUT_MS: integer(100, 60_000).default(5000),
  TWENTY_LISTING_OBJECT: z
    .string()
    .regex(/^[a-z][A-Za-z0-9]*$/, 'must be the plural API name of a Twenty object, e.g. listings')
    .default('listings'),
  TWENTY_LISTING_OBJECT_SINGULAR: z
    .string()
    .regex(/^[a-z][A-Za-z0-9]*$/, 'must be the singular API name of the Twenty object, e.g. property')
    .optional(),
  TWENTY_WEBHOOK_MAX_BODY_KB: integer(1, 16 * 1024).default(1024),
  // Found by type in Twenty's metadata; set only to override what is found.
  TWENTY_CITY_FIELD: fieldPath("addressCustom.addressCity (an Address field's city) or city (a text field)").optional(),
  TWENTY_PRICE_FIELD: fieldPath('price.amountMicros (a Currency field) or price (a Number field)').optional(),
  TWENTY_RATE_LIMIT_PER_MINUTE: integer(1, 1_000_000).default(100),
  TWENTY_RATE_LIMIT_PER_SECOND: integer(1, 1_000_000).default(100),
  SSR_RETRY_AFTER_SECONDS: integer(1, 3600).default(30),
  SSR_CACHE_DEGRADED_TTL: integer(1, 86_400).default(60),
  SSR_CACHE_STALE_IF_ERROR: integer(0, MAX_TTL_SECONDS).default(3600),
  SSR_CACHE_NEGATIVE_TTL: integer(0, 86_400).default(60),
  SSR_CACHE_REDIRECT_TTL: integer(0, MAX_TTL_SECONDS).default(600),
  SSR_CACHE_MAX_NEGATIVE_ENTRIES: integer(1, 10_000_000).default(10_000),
  SSR_RENDER_BUDGET_PER_SECOND: integer(0, 1_000_000).default(100),
  SSR_RENDER_BUDGET_BURST: integer(1, 1_000_000).default(200),
  SSR_REFRESH_CONCURRENCY: integer(1, 1000).default(4),
  SSR_CACHE_BUILD_ID: z
    .string()
    .max(100, 'must be at most 100 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (a git commit, a CI build number)')
    .optional(),
  TWENTY_DATA_CACHE_SECONDS: integer(0, 86_400).default(300),
});

type Env = z.infer<typeof envSchema>;

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisConfig {
  /** `redis://` / `rediss://` URL; when absent, host/port/password/db are used. */
  url?: string;
  /** Seed nodes of a Redis Cluster: set, the Cluster client is used (and url/host/port/db are not). */
  clusterNodes?: HostPort[];
  /** Sentinels that name the master `sentinelName`: set, the client asks them where the master is. */
  sentinels?: HostPort[];
  sentinelName: string;
  /** Failures in a row that open the circuit breaker, and how long it stays open before a probe. */
  breakerThreshold: number;
  breakerCooldownMs: number;
  host: string;
  port: number;
  password?: string;
  db?: number;
  keyPrefix: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

export interface CacheConfig {
  enabled: boolean;
  allAgents: boolean;
  defaultTtlSeconds: number;
  routeTtlSeconds: Record<CachedRouteName, number>;
  /** Stale-while-revalidate window after each route's TTL. */
  routeGraceSeconds: Record<CachedRouteName, number>;
  /** A background re-render slower than this is abandoned (the stale page stays). */
  renderTimeoutMs: number;
  maxEntryBytes: number;
  /** Bytes of the in-process tier; 0 turns it off (every hit reads Redis). */
  memoryTierBytes: number;
  /** The file keeping invalidations Redis could not take yet across a crash; undefined: off. */
  journalPath?: string;
  /** Writes stop while Redis used_memory is at or above this fraction of maxmemory. */
  redisMemoryFraction: number;
  redisMemoryCheckMs: number;
  /** How long a request waits for another request's render of the same page. */
  lockWaitMs: number;
  /** How long a render lock lives when its owner never releases it. */
  lockTtlMs: number;
  /** Seconds a page is kept past grace, to be served if a re-render fails. */
  staleIfErrorSeconds: number;
  /** Seconds a 404 is stored; 0: never. */
  negativeTtlSeconds: number;
  /** Seconds a permanent redirect is stored; 0: never. */
  redirectTtlSeconds: number;
  maxNegativeEntries: number;
  /** Renders clients may wait for, per instance (a token bucket); perSecond 0: no budget. */
  renderBudget: { perSecond: number; burst: number };
  refreshConcurrency: number;
  /** Package version + SSR_CACHE_BUILD_ID or the git commit: recorded in every entry. */
  buildId: string;
  invalidationToken?: string;
  /** Shared secret of the Twenty webhook; unset: signed webhooks are refused. */
  twentyWebhookSecret?: string;
  /** A webhook's timestamp may be this far from now, either way; deliveries (their signatures) are remembered twice as long. */
  twentyWebhookToleranceMs: number;
  /** How webhook updates invalidate (deletions always delete). */
  twentyWebhookMode: InvalidationModeName;
  /** The object whose events invalidate pages: TWENTY_LISTING_OBJECT, and its singular if TWENTY_LISTING_OBJECT_SINGULAR says it. */
  twentyWebhookObject: { plural: string; singular?: string };
  /** Signed webhook bodies up to this size are read (TWENTY_WEBHOOK_MAX_BODY_KB); larger ones get 413. */
  twentyWebhookMaxBodyBytes: number;
}

export type ListingSourceConfig =
  | { kind: 'embedded'; catalogSize: number }
  | {
      kind: 'twenty';
      apiUrl: string;
      apiKey: string;
      timeoutMs: number;
      objectNamePlural: string;
      objectNameSingular?: string;
      /** Overrides of the field mapping found in Twenty's metadata (TWENTY_CITY_FIELD, TWENTY_PRICE_FIELD). */
      cityField?: string;
      priceField?: string;
      /** Twenty's token buckets for API-key queries (per workspace, shared by every instance through Redis). */
      rateLimit: { perMinute: number; perSecond: number };
      /** How long records and list answers are reused between renders (0: never); webhooks drop them at once. */
      dataCacheSeconds: number;
    };

export interface MonitoringConfig {
  /** Bearer token /metrics asks for; unset: /metrics is open (it changes nothing). */
  metricsToken?: string;
  /** The rolling window of /health's recent hit rate and its hit-rate alert. */
  windowSeconds: number;
}

export interface Config {
  /** NODE_ENV is production: React renders with its production build (about 5x faster a render). */
  production: boolean;
  port: number;
  publicUrl: string;
  logLevel: (typeof LOG_LEVELS)[number];
  shutdownTimeoutMs: number;
  /** Retry-After of a 503 page when nothing servable exists (SSR_RETRY_AFTER_SECONDS). */
  retryAfterSeconds: number;
  /** How long a page rendered without a secondary part (a refused "more homes" list) stays fresh (SSR_CACHE_DEGRADED_TTL). */
  degradedTtlSeconds: number;
  /** Timeouts and caps of the HTTP server (SERVER_*). */
  server: ServerLimits;
  redis: RedisConfig;
  cache: CacheConfig;
  monitoring: MonitoringConfig;
  /** URLs per child sitemap of /sitemap.xml. */
  sitemapMaxUrls: number;
  listings: ListingSourceConfig;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Treats empty strings as unset, as a `.env` line `NAME=` would mean. */
function presentValues(env: NodeJS.ProcessEnv): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of Object.keys(envSchema.shape)) {
    const value = env[name];
    if (value !== undefined && value !== '') values[name] = value;
  }
  return values;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`).join('; ');
}

/** A per-route setting: `{NAME}_{ROUTE}` if set, else `{NAME}`, else the route's default. */
function perRoute(env: Env, name: 'SSR_CACHE_TTL' | 'SSR_CACHE_GRACE', defaults: Record<CachedRouteName, number>): Record<CachedRouteName, number> {
  const values = {} as Record<CachedRouteName, number>;
  for (const route of CACHED_ROUTES) {
    const own = env[`${name}_${ROUTE_ENV_SUFFIX[route]}` as keyof Env] as number | undefined;
    values[route] = own ?? env[name] ?? defaults[route];
  }
  return values;
}

function listingSource(env: Env): ListingSourceConfig {
  if (env.LISTING_SOURCE === 'embedded') return { kind: 'embedded', catalogSize: env.LISTING_CATALOG_SIZE };
  const missing = (['TWENTY_API_URL', 'TWENTY_API_KEY'] as const).filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(`Invalid configuration: LISTING_SOURCE=twenty needs ${missing.join(' and ')}`);
  }
  return {
    kind: 'twenty',
    apiUrl: env.TWENTY_API_URL as string,
    apiKey: env.TWENTY_API_KEY as string,
    timeoutMs: env.TWENTY_API_TIMEOUT_MS,
    objectNamePlural: env.TWENTY_LISTING_OBJECT,
    objectNameSingular: env.TWENTY_LISTING_OBJECT_SINGULAR,
    cityField: env.TWENTY_CITY_FIELD,
    priceField: env.TWENTY_PRICE_FIELD,
    rateLimit: { perMinute: env.TWENTY_RATE_LIMIT_PER_MINUTE, perSecond: env.TWENTY_RATE_LIMIT_PER_SECOND },
    dataCacheSeconds: env.TWENTY_DATA_CACHE_SECONDS,
  };
}

/** Reads and validates the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(presentValues(env));
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${describeIssues(parsed.error)}`);
  const values = parsed.data;
  if (values.SERVER_REQUEST_TIMEOUT_MS < values.SERVER_HEADERS_TIMEOUT_MS) {
    throw new ConfigError('Invalid configuration: SERVER_REQUEST_TIMEOUT_MS must be at least SERVER_HEADERS_TIMEOUT_MS (the headers are part of the request)');
  }
  if (values.REDIS_CLUSTER_NODES && values.REDIS_SENTINELS) {
    throw new ConfigError('Invalid configuration: set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both');
  }
  if (values.REDIS_CLUSTER_NODES && values.REDIS_DB !== undefined && values.REDIS_DB !== 0) {
    throw new ConfigError('Invalid configuration: REDIS_DB: Redis Cluster has only database 0; use REDIS_KEY_PREFIX to share it');
  }
  return {
    production: values.NODE_ENV === 'production',
    port: values.PORT,
    publicUrl: values.PUBLIC_URL ?? `http://localhost:${values.PORT}`,
    logLevel: values.LOG_LEVEL,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    server: {
      headersTimeoutMs: values.SERVER_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: values.SERVER_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: values.SERVER_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: values.SERVER_MAX_CONNECTIONS,
      maxPipelined: values.SERVER_MAX_PIPELINED,
      maxUnreadBytes: values.SERVER_MAX_UNREAD_KB * 1024,
    },
    retryAfterSeconds: values.SSR_RETRY_AFTER_SECONDS,
    degradedTtlSeconds: values.SSR_CACHE_DEGRADED_TTL,
    redis: {
      url: values.REDIS_URL,
      host: values.REDIS_HOST,
      port: values.REDIS_PORT,
      password: values.REDIS_PASSWORD,
      db: values.REDIS_DB,
      keyPrefix: values.REDIS_KEY_PREFIX,
      commandTimeoutMs: values.REDIS_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: values.REDIS_CONNECT_TIMEOUT_MS,
      clusterNodes: values.REDIS_CLUSTER_NODES,
      sentinels: values.REDIS_SENTINELS,
      sentinelName: values.REDIS_SENTINEL_NAME,
      breakerThreshold: values.REDIS_BREAKER_THRESHOLD,
      breakerCooldownMs: values.REDIS_BREAKER_COOLDOWN_MS,
    },
    cache: {
      enabled: values.SSR_CACHE_ENABLED,
      allAgents: values.SSR_CACHE_ALL_AGENTS,
      defaultTtlSeconds: values.SSR_CACHE_TTL ?? 3600,
      routeTtlSeconds: perRoute(values, 'SSR_CACHE_TTL', ROUTE_TTL_DEFAULTS),
      routeGraceSeconds: perRoute(values, 'SSR_CACHE_GRACE', {
        home: DEFAULT_GRACE_SECONDS,
        browse: DEFAULT_GRACE_SECONDS,
        detail: DEFAULT_GRACE_SECONDS,
        sitemap: DEFAULT_GRACE_SECONDS,
      }),
      renderTimeoutMs: values.SSR_RENDER_TIMEOUT_MS,
      maxEntryBytes: values.SSR_CACHE_MAX_ENTRY_KB * 1024,
      memoryTierBytes: values.SSR_CACHE_MEMORY_MB * 1024 * 1024,
      // One file per process: the port tells two instances on one machine apart.
      journalPath: values.SSR_CACHE_JOURNAL === 'off' ? undefined : (values.SSR_CACHE_JOURNAL ?? `var/invalidations-${values.PORT}.journal`),
      redisMemoryFraction: values.SSR_CACHE_REDIS_MEMORY_FRACTION,
      redisMemoryCheckMs: values.SSR_CACHE_MEMORY_CHECK_MS,
      lockWaitMs: values.SSR_CACHE_LOCK_WAIT_MS,
      lockTtlMs: values.SSR_CACHE_LOCK_TTL_MS,
      staleIfErrorSeconds: values.SSR_CACHE_STALE_IF_ERROR,
      negativeTtlSeconds: values.SSR_CACHE_NEGATIVE_TTL,
      redirectTtlSeconds: values.SSR_CACHE_REDIRECT_TTL,
      maxNegativeEntries: values.SSR_CACHE_MAX_NEGATIVE_ENTRIES,
      renderBudget: { perSecond: values.SSR_RENDER_BUDGET_PER_SECOND, burst: values.SSR_RENDER_BUDGET_BURST },
      refreshConcurrency: values.SSR_REFRESH_CONCURRENCY,
      buildId: buildIdFor(values.SSR_CACHE_BUILD_ID),
      invalidationToken: values.CACHE_INVALIDATION_TOKEN,
      twentyWebhookSecret: values.TWENTY_WEBHOOK_SECRET,
      twentyWebhookToleranceMs: values.TWENTY_WEBHOOK_TOLERANCE_MS,
      twentyWebhookMode: values.TWENTY_WEBHOOK_MODE,
      twentyWebhookObject: { plural: values.TWENTY_LISTING_OBJECT, singular: values.TWENTY_LISTING_OBJECT_SINGULAR },
      twentyWebhookMaxBodyBytes: values.TWENTY_WEBHOOK_MAX_BODY_KB * 1024,
    },
    monitoring: { metricsToken: values.METRICS_TOKEN, windowSeconds: values.HEALTH_WINDOW_SECONDS },
    sitemapMaxUrls: values.SITEMAP_MAX_URLS,
    listings: listingSource(values),
  };
}

/**
 * The per-route cache policy table: which page routes are cached, for how long, and which
 * query parameters make a different page. Paths are the Express routes in routes/pages.ts and
 * routes/sitemap.ts; the names are the `route` label of metrics and logs.
 */
export function pageCacheRoutes(cache: CacheConfig): Record<string, RoutePolicy> {
  const { positiveInteger, lowercaseWords } = queryNormalisers;
  const route = (name: CachedRouteName, query: RoutePolicy['query'] = [], queryDefaults?: RoutePolicy['queryDefaults']): RoutePolicy => ({
    name,
    ttl: cache.routeTtlSeconds[name],
    grace: cache.routeGraceSeconds[name],
    query,
    ...(queryDefaults ? { queryDefaults } : {}),
  });
  return {
    '/': route('home'),
    // `/listings`, `?page=1`, `?sort=newest` and `?page=1&sort=newest` are one page: one key, one render (the canonical link says `/listings`).
    '/listings': route('browse', { page: positiveInteger, sort: lowercaseWords, city: lowercaseWords }, { page: '1', sort: 'newest' }),
    '/listings/:id': route('detail'),
    // robots.txt names the sitemap, so it is kept as long as the sitemap.
    '/robots.txt': route('sitemap'),
    '/sitemap.xml': route('sitemap'),
    '/sitemaps/:file': route('sitemap'),
  };
}

/** Our env vars as the page cache's options (everything but the Redis client and the logger). */
export function pageCacheOptions(config: Config): Omit<PageCacheOptions, 'redis' | 'logger'> {
  const { cache, redis, monitoring } = config;
  return {
    routes: pageCacheRoutes(cache),
    keyPrefix: redis.keyPrefix,
    enabled: cache.enabled,
    allAgents: cache.allAgents,
    renderTimeoutMs: cache.renderTimeoutMs,
    retryAfterSeconds: config.retryAfterSeconds,
    maxEntryBytes: cache.maxEntryBytes,
    memoryTierBytes: cache.memoryTierBytes,
    invalidationJournal: cache.journalPath,
    commandTimeoutMs: redis.commandTimeoutMs,
    breaker: { failureThreshold: redis.breakerThreshold, cooldownMs: redis.breakerCooldownMs },
    lockWaitMs: cache.lockWaitMs,
    lockTtlMs: cache.lockTtlMs,
    staleIfError: cache.staleIfErrorSeconds,
    negativeTtl: cache.negativeTtlSeconds,
    redirectTtl: cache.redirectTtlSeconds,
    maxNegativeEntries: cache.maxNegativeEntries,
    renderBudget: cache.renderBudget.perSecond > 0 ? cache.renderBudget : false,
    refreshConcurrency: cache.refreshConcurrency,
    buildId: cache.buildId,
    redisMemoryFraction: cache.redisMemoryFraction,
    redisMemoryCheckMs: cache.redisMemoryCheckMs,
    healthWindowSeconds: monitoring.windowSeconds,
  };
}
