import express, { Router, type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { requireBearerToken } from '../middleware/require-bearer-token';
import { CACHE_KEY_NAMESPACE, resolvePage, type ResolvedPage } from '../utils/cache-key';
import { escapeGlob } from '../utils/cache-manager';
import type { PolicyTable } from '../utils/cache-policy';
import type { CacheStats } from '../utils/cache-stats';
import type { Logger } from '../utils/logger';
import type { TierStack } from '../utils/tier-stack';

export const MAX_INVALIDATION_BODY = '64kb';
const MAX_ITEMS = 1000;
const MAX_ITEM_LENGTH = 2048;
export const INVALIDATION_TYPES = ['listing'] as const;
export const INVALIDATION_MODES = ['hard', 'soft', 'refresh'] as const;

const item = z.string().min(1, 'must not be empty').max(MAX_ITEM_LENGTH, `must be at most ${MAX_ITEM_LENGTH} characters`);
const list = (rule: z.ZodString) => z.array(rule).max(MAX_ITEMS, `must hold at most ${MAX_ITEMS} items`);

const invalidationSchema = z
  .object({
    type: z.enum(INVALIDATION_TYPES, { message: `must be one of: ${INVALIDATION_TYPES.join(', ')}` }).optional(),
    id: z.union([item, z.number().int().nonnegative()], { message: 'must be a non-empty string or a whole number' }).optional(),
    keys: list(item.startsWith(CACHE_KEY_NAMESPACE, `must start with "${CACHE_KEY_NAMESPACE}"`)).optional(),
    paths: list(item.startsWith('/', 'must start with "/"')).optional(),
    patterns: list(item.startsWith('/', 'must start with "/" (it matches the part of the key after "ssr:")')).optional(),
    mode: z.enum(INVALIDATION_MODES, { message: `must be one of: ${INVALIDATION_MODES.join(', ')}` }).default('hard'),
  })
  .refine((body) => body.type === undefined || body.id !== undefined, { message: 'is required with "type"', path: ['id'] })
  .refine((body) => body.id === undefined || body.type !== undefined, { message: 'is required with "id"', path: ['type'] })
  .refine((body) => body.type || body.keys || body.paths || body.patterns, {
    message: 'the body must name what to invalidate: {"type":"listing","id":"123"}, {"keys":[...]}, {"paths":[...]} or {"patterns":[...]}',
  });

export type InvalidationRequest = z.infer<typeof invalidationSchema>;

/** The exact keys and key patterns a request invalidates. */
export interface InvalidationPlan {
  keys: string[];
  patterns: string[];
  /** Paths given that no cached route serves. */
  unmatchedPaths: string[];
}

export function describeValidationError(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * A listing change reaches its detail page, the homepage, and every browse page (any of them
 * may list it): `ssr:/listings` and each `ssr:/listings?...` variant, but no other detail page.
 */
export function planInvalidation(request: InvalidationRequest, policies: PolicyTable): InvalidationPlan {
  const plan: InvalidationPlan = { keys: [...(request.keys ?? [])], patterns: [], unmatchedPaths: [] };
  const paths = [...(request.paths ?? [])];
  if (request.type === 'listing' && request.id !== undefined) {
    paths.push(`/listings/${encodeURIComponent(String(request.id))}`, '/', '/listings');
    const browse = resolvePage('/listings', policies);
    if (browse) plan.patterns.push(`${escapeGlob(browse.key)}\\?*`);
  }
  for (const path of paths) {
    const page = resolvePage(path, policies);
    if (page) plan.keys.push(page.key);
    else plan.unmatchedPaths.push(path);
  }
  plan.patterns.push(...(request.patterns ?? []).map((pattern) => CACHE_KEY_NAMESPACE + pattern));
  plan.keys = [...new Set(plan.keys)];
  return plan;
}

/** The page behind a key, when the key spells its URL (a hashed, over-long key does not). */
function pageForKey(key: string, policies: PolicyTable): ResolvedPage | undefined {
  if (!key.startsWith(CACHE_KEY_NAMESPACE) || key.includes('#')) return undefined;
  const page = resolvePage(key.slice(CACHE_KEY_NAMESPACE.length), policies);
  return page?.key === key ? page : undefined;
}

export interface InvalidationRouteOptions {
  tiers: TierStack;
  policies: PolicyTable;
  stats: CacheStats;
  logger: Logger;
  token: string | undefined;
  /** Re-renders a page in the background (mode "refresh"); absent: refresh acts as soft. */
  refresh?: (page: ResolvedPage) => Promise<void>;
}

/** Body-parser and JSON errors become a JSON 4xx naming the problem, never an HTML 500. */
export const jsonErrors: ErrorRequestHandler = (error, _req, res, _next) => {
  const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 400;
  const message =
    error?.type === 'entity.too.large'
      ? `request body is larger than ${MAX_INVALIDATION_BODY}`
      : error?.expose && typeof error.message === 'string'
        ? error.message
        : 'request could not be read';
  res.status(status).json({ error: message });
};

/** POST /api/cache/invalidate: the CRM's way to make changed pages fresh at once. */
export function createInvalidationRouter(options: InvalidationRouteOptions): Router {
  const { tiers, policies, stats, logger, token, refresh } = options;
  const router = Router();

  router.post(
    '/api/cache/invalidate',
    requireBearerToken(token, 'cache invalidation is disabled: set CACHE_INVALIDATION_TOKEN to enable it'),
    express.raw({ type: () => true, limit: MAX_INVALIDATION_BODY }),
    async (req, res) => {
      const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
      if (raw.trim() === '') {
        res.status(400).json({ error: 'request body is empty: send JSON such as {"type":"listing","id":"123"}' });
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (error) {
        res.status(400).json({ error: `request body is not valid JSON: ${(error as Error).message}` });
        return;
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        res.status(400).json({ error: 'request body must be a JSON object' });
        return;
      }
      const parsed = invalidationSchema.safeParse(json);
      if (!parsed.success) {
        res.status(400).json({ error: describeValidationError(parsed.error) });
        return;
      }

      const started = performance.now();
      const { mode } = parsed.data;
      const plan = planInvalidation(parsed.data, policies);
      const { deleted, ok } = await tiers.invalidate({ keys: plan.keys, patterns: plan.patterns }, mode === 'hard' ? 'hard' : 'soft');
      // refresh: the exact pages re-render now; pattern matches re-render on their next request.
      const refreshing = mode === 'refresh' && refresh ? plan.keys.map((key) => pageForKey(key, policies)).filter((page) => page !== undefined) : [];
      for (const page of refreshing) void refresh?.(page);
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      stats.invalidations += 1;
      stats.keysInvalidated += deleted;
      const summary = {
        mode,
        [mode === 'hard' ? 'deleted' : 'markedStale']: deleted,
        keys: plan.keys,
        patterns: plan.patterns,
        unmatchedPaths: plan.unmatchedPaths,
        refreshing: refreshing.length,
        durationMs,
      };
      logger.info({ source: 'api', ...summary, ok }, 'cache invalidation');
      if (!ok) {
        // Stale pages may remain in Redis or on other instances: say so, so the caller retries.
        res.status(503).json({ error: 'Redis is unavailable: the invalidation did not complete, retry later', ...summary });
        return;
      }
      res.json(summary);
    },
  );
  router.use('/api/cache', jsonErrors);
  return router;
}
