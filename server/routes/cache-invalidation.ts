import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { INVALIDATION_MODES, type InvalidationModeName } from '../config';
import { tagsForListingChange } from '../listings/listing-changes';
import { readTwentyEvent, signatureProblem } from '../listings/twenty-webhook';
import { requireBearerToken } from '../middleware/require-bearer-token';
import { CACHE_KEY_NAMESPACE, resolvePage, type ResolvedPage } from '../utils/cache-key';
import { escapeGlob, type CacheManager } from '../utils/cache-manager';
import type { PolicyTable } from '../utils/cache-policy';
import { cacheTags } from '../utils/cache-tags';
import type { CacheMetrics } from '../utils/cache-metrics';
import type { CacheStats } from '../utils/cache-stats';
import type { Logger } from '../utils/logger';
import type { TierStack } from '../utils/tier-stack';

export const INVALIDATION_ENDPOINT = '/api/cache/invalidate';
export const MAX_INVALIDATION_BODY = '64kb';
const MAX_ITEMS = 1000;
const MAX_ITEM_LENGTH = 2048;
export const INVALIDATION_TYPES = ['listing'] as const;

const item = z.string().min(1, 'must not be empty').max(MAX_ITEM_LENGTH, `must be at most ${MAX_ITEM_LENGTH} characters`);
const list = (rule: z.ZodString) => z.array(rule).max(MAX_ITEMS, `must hold at most ${MAX_ITEMS} items`);

const invalidationSchema = z
  .object({
    type: z.enum(INVALIDATION_TYPES, { message: `must be one of: ${INVALIDATION_TYPES.join(', ')}` }).optional(),
    id: z.union([item, z.number().int().nonnegative()], { message: 'must be a non-empty string or a whole number' }).optional(),
    keys: list(item.startsWith(CACHE_KEY_NAMESPACE, `must start with "${CACHE_KEY_NAMESPACE}"`)).optional(),
    paths: list(item.startsWith('/', 'must start with "/"')).optional(),
    patterns: list(item.startsWith('/', 'must start with "/" (it matches the part of the key after "ssr:")')).optional(),
    tags: list(item.max(200, 'must be at most 200 characters')).optional(),
    mode: z.enum(INVALIDATION_MODES, { message: `must be one of: ${INVALIDATION_MODES.join(', ')}` }).default('hard'),
  })
  .refine((body) => body.type === undefined || body.id !== undefined, { message: 'is required with "type"', path: ['id'] })
  .refine((body) => body.id === undefined || body.type !== undefined, { message: 'is required with "id"', path: ['type'] })
  .refine((body) => body.type || body.keys || body.paths || body.patterns || body.tags, {
    message:
      'the body must name what to invalidate: {"type":"listing","id":"123"}, {"keys":[...]}, {"paths":[...]}, {"patterns":[...]} or {"tags":[...]}',
  });

export type InvalidationRequest = z.infer<typeof invalidationSchema>;

/** The exact keys, key patterns and tags a request invalidates. */
export interface InvalidationPlan {
  keys: string[];
  patterns: string[];
  tags: string[];
  /** Paths given that no cached route serves. */
  unmatchedPaths: string[];
}

export function describeValidationError(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * The story's listing form reaches its detail page, the homepage, every browse page
 * (`ssr:/listings` and each `ssr:/listings?...` variant) and every page tagged with the listing
 * (the detail pages whose "more homes" section shows it), but no other detail page.
 */
export function planInvalidation(request: InvalidationRequest, policies: PolicyTable): InvalidationPlan {
  const plan: InvalidationPlan = { keys: [...(request.keys ?? [])], patterns: [], tags: [...(request.tags ?? [])], unmatchedPaths: [] };
  const paths = [...(request.paths ?? [])];
  if (request.type === 'listing' && request.id !== undefined) {
    paths.push(`/listings/${encodeURIComponent(String(request.id))}`, '/', '/listings');
    const browse = resolvePage('/listings', policies);
    if (browse) plan.patterns.push(`${escapeGlob(browse.key)}\\?*`);
    plan.tags.push(cacheTags.listing(String(request.id)), cacheTags.sitemap);
  }
  for (const path of paths) {
    const page = resolvePage(path, policies);
    if (page) plan.keys.push(page.key);
    else plan.unmatchedPaths.push(path);
  }
  plan.patterns.push(...(request.patterns ?? []).map((pattern) => CACHE_KEY_NAMESPACE + pattern));
  plan.keys = [...new Set(plan.keys)];
  plan.tags = [...new Set(plan.tags)];
  return plan;
}

/** The page behind a key, when the key spells its URL (a hashed, over-long key does not). */
function pageForKey(key: string, policies: PolicyTable): ResolvedPage | undefined {
  if (!key.startsWith(CACHE_KEY_NAMESPACE) || key.includes('#')) return undefined;
  const page = resolvePage(key.slice(CACHE_KEY_NAMESPACE.length), policies);
  return page?.key === key ? page : undefined;
}

export interface TwentyWebhookOptions {
  /** TWENTY_WEBHOOK_SECRET; unset: signed webhooks are refused. */
  secret?: string;
  toleranceMs: number;
  mode: InvalidationModeName;
  /** nameSingular of the listing object (eventName `listing.updated`). */
  listingObject: string;
}

export interface InvalidationRouteOptions {
  tiers: TierStack;
  cache: CacheManager;
  policies: PolicyTable;
  stats: CacheStats;
  metrics?: CacheMetrics;
  logger: Logger;
  token: string | undefined;
  twenty: TwentyWebhookOptions;
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

const SIGNED = Symbol('signed by Twenty');
type SignedRequest = Request & { [SIGNED]?: true };

function rawBody(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** Parses the raw body as a JSON object, or answers 400 naming what is wrong with it. */
function parseJsonObject(raw: Buffer): { value: Record<string, unknown> } | { error: string } {
  const text = raw.toString('utf8');
  if (text.trim() === '') return { error: 'request body is empty: send JSON such as {"type":"listing","id":"123"}' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { error: `request body is not valid JSON: ${(error as Error).message}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { error: 'request body must be a JSON object' };
  return { value: json as Record<string, unknown> };
}

/**
 * POST /api/cache/invalidate: the CRM's way to make changed pages fresh at once. Either a
 * bearer token with the JSON forms above, or Twenty's own signed webhook.
 */
export function createInvalidationRouter(options: InvalidationRouteOptions): Router {
  const { tiers, cache, policies, stats, metrics, logger, token, twenty, refresh } = options;
  const router = Router();
  const bearer = requireBearerToken(token, 'cache invalidation is disabled: set CACHE_INVALIDATION_TOKEN to enable it');
  // Replay protection while Redis is away, for this instance at least.
  const localNonces = new LRUCache<string, true>({ max: 10_000, ttl: twenty.toleranceMs * 2 });

  const authenticate: RequestHandler = async (req, res, next) => {
    if (req.headers['x-twenty-webhook-signature'] === undefined) return bearer(req, res, next);
    stats.webhooks += 1;
    const refuse = (reason: string) => {
      stats.webhooksRejected += 1;
      logger.warn({ source: 'twenty', reason }, 'cache invalidation: webhook refused');
      res.status(401).json({ error: reason });
    };
    if (!twenty.secret) {
      stats.webhooksRejected += 1;
      res.status(403).json({ error: 'Twenty webhooks are disabled: set TWENTY_WEBHOOK_SECRET to the webhook\'s secret' });
      return;
    }
    const problem = signatureProblem(req.headers, rawBody(req), { secret: twenty.secret, toleranceMs: twenty.toleranceMs });
    if (problem) return refuse(problem);
    const nonce = String(req.headers['x-twenty-webhook-nonce']);
    const fresh = (await cache.claimNonce(nonce, twenty.toleranceMs * 2)) ?? !localNonces.has(nonce);
    localNonces.set(nonce, true);
    if (!fresh) return refuse('X-Twenty-Webhook-Nonce was already used (replayed request)');
    (req as SignedRequest)[SIGNED] = true;
    next();
  };

  async function invalidate(
    res: express.Response,
    plan: InvalidationPlan,
    mode: InvalidationModeName,
    context: { source: 'api' | 'twenty' } & Record<string, unknown>,
  ): Promise<void> {
    const started = performance.now();
    const { deleted, ok, keys } = await tiers.invalidate(
      { keys: plan.keys, patterns: plan.patterns, tags: plan.tags },
      mode === 'hard' ? 'hard' : 'soft',
    );
    // refresh: the exact pages re-render now; pattern matches re-render on their next request.
    const refreshing = mode === 'refresh' && refresh ? keys.map((key) => pageForKey(key, policies)).filter((page) => page !== undefined) : [];
    for (const page of refreshing) void refresh?.(page);
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    stats.invalidations += 1;
    stats.keysInvalidated += deleted;
    metrics?.invalidation(context.source, mode, deleted);
    const summary = {
      ...context,
      mode,
      [mode === 'hard' ? 'deleted' : 'markedStale']: deleted,
      keys,
      patterns: plan.patterns,
      tags: plan.tags,
      unmatchedPaths: plan.unmatchedPaths,
      refreshing: refreshing.length,
      durationMs,
    };
    logger.info({ ...summary, ok }, 'cache invalidation');
    if (!ok) {
      // Stale pages may remain in Redis or on other instances: say so, so the caller retries.
      res.status(503).json({ error: 'Redis is unavailable: the invalidation did not complete, retry later', ...summary });
      return;
    }
    res.json(summary);
  }

  router.post(INVALIDATION_ENDPOINT, express.raw({ type: () => true, limit: MAX_INVALIDATION_BODY }), authenticate, async (req, res) => {
    const body = parseJsonObject(rawBody(req));
    if ('error' in body) {
      res.status(400).json({ error: body.error });
      return;
    }

    if ((req as SignedRequest)[SIGNED]) {
      const event = readTwentyEvent(body.value, twenty.listingObject);
      if (event.kind === 'invalid') {
        res.status(400).json({ error: event.error });
        return;
      }
      if (event.kind === 'ignored') {
        // A 2xx, so the CRM does not count it as a failed delivery.
        stats.webhooksIgnored += 1;
        logger.info({ source: 'twenty', event: body.value.eventName, ignored: event.reason }, 'cache invalidation: webhook ignored');
        res.status(202).json({ ignored: event.reason });
        return;
      }
      const tags = tagsForListingChange(event.id, event.effects, event.city);
      // A deleted listing's pages must not be served even once more.
      const mode = event.action === 'deleted' || event.action === 'destroyed' ? 'hard' : twenty.mode;
      const plan: InvalidationPlan = { keys: [], patterns: [], tags, unmatchedPaths: [] };
      await invalidate(res, plan, mode, { source: 'twenty', event: event.event, ids: [event.id], effects: event.effects });
      return;
    }

    const parsed = invalidationSchema.safeParse(body.value);
    if (!parsed.success) {
      res.status(400).json({ error: describeValidationError(parsed.error) });
      return;
    }
    const ids = parsed.data.id === undefined ? [] : [String(parsed.data.id)];
    await invalidate(res, planInvalidation(parsed.data, policies), parsed.data.mode, { source: 'api', ids });
  });
  router.use('/api/cache', jsonErrors);
  return router;
}
