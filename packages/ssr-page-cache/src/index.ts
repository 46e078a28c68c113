/**
 * The page cache for Express SSR servers: the only entry a host imports.
 *
 *   const cache = createPageCache({ redis, routes: { '/posts/:slug': { ttl: 3600 } } });
 *   app.use(cache.middleware);
 */
export { createPageCache, type PageCache } from './create-page-cache';
export { PageCacheOptionsError, type PageCacheOptions, type RoutePolicy } from './options';
export { INVALIDATION_MODES, type InvalidateRequest, type InvalidateResult, type InvalidationModeName } from './invalidate';
export { DEFAULT_INVALIDATION_PATH, type InvalidationRouterOptions, type BodyRewrite } from './invalidation-router';
export type { CacheHealth } from './observe/health';
export type { HealthAlert } from './observe/alerts';
export type { CacheEvent, CacheEventListener, RequestOutcome, HitSource, RenderTrigger } from './observe/events';
export type { CacheLogFields, CacheReason, StaleCopyReason, StoreSkipReason } from './flow/context';
export type { BypassReason } from './flow/recv';
export type { UnavailableReason } from './flow/deliver';
export type { FrontHitFields, FrontOptions, Middleware } from './flow/page-flow';
export type { Logger, LogFn } from './logger';
export type { QueryNormaliser } from './policy';
export type { RedisClient } from './redis/connection';
export { REFRESH_USER_AGENT } from './flow/refresh';
export { CACHE_KEY_NAMESPACE } from './key';
export { queryNormalisers } from './policy';
