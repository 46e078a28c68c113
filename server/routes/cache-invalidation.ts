import express, { Router, type Request, type RequestHandler } from 'express';
import { LRUCache } from 'lru-cache';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import type { InvalidateResult, InvalidationModeName, PageCache, RedisClient } from 'ssr-page-cache';
import { listingInvalidation } from '../listings/listing-changes';
import type { CityMemory } from '../listings/city-memory';
import { withinMs } from '../utils/deadline';
import { resolveCityEffects, tagsForListingChange } from '../listings/listing-changes';
import type { TwentyObjectName } from '../listings/twenty-object';
import { readTwentyEvent, replayKey, signatureHeaderProblem, signatureProblem } from '../listings/twenty-webhook';

export const INVALIDATION_ENDPOINT = '/api/cache/invalidate';
export const INVALIDATION_TYPES = ['listing'] as const;
const REPLAY_CHECK_TIMEOUT_MS = 250;
/** Deliveries remembered in Redis at most; past it the oldest are forgotten (a bound on the set, whatever arrives). */
const MAX_REMEMBERED_DELIVERIES = 100_000;

/**
 * Claims a delivery: drops the expired ones, then adds this one unless present; 1 when it was
 * new. KEYS[1] the set; ARGV: signature, now (ms), its expiry (ms), the bound.
 */
const CLAIM_DELIVERY = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then redis.call('ZPOPMIN', KEYS[1], over) end
return 1`;

export interface TwentyWebhookOptions {
  /** TWENTY_WEBHOOK_SECRET; unset: signed webhooks are refused. */
  secret?: string;
  toleranceMs: number;
  mode: InvalidationModeName;
  /** The listing object's names (events `{singular}.updated`). */
  listingObject: TwentyObjectName;
  /** Larger signed bodies get 413 (TWENTY_WEBHOOK_MAX_BODY_KB). */
  maxBodyBytes: number;
  /** The cities listings were shown under: tells a move from a street change (absent: every address change is a move). */
  cities?: CityMemory;
  /** A field of the workspace was created, renamed or removed (`metadata.fieldMetadata.*`): read the field mapping again. */
  onMetadataChange?(): void;
}

/** Signed Twenty webhooks received, refused (401/403) and ignored (other objects, 202): /health and /metrics show them. */
export interface WebhookStats {
  webhooks: number;
  webhooksRejected: number;
  webhooksIgnored: number;
}

export interface InvalidationRouteOptions {
  cache: PageCache;
  /** The server's Redis: webhook deliveries (their signatures) are remembered there, beside an in-process memory. */
  redis: RedisClient;
  keyPrefix: string;
  logger: { info(fields: object, message?: string): void; warn(fields: object, message?: string): void };
  /** CACHE_INVALIDATION_TOKEN. */
  token: string | undefined;
  twenty: TwentyWebhookOptions;
}

const listingForm = z.object({
  type: z.enum(INVALIDATION_TYPES, { message: `must be one of: ${INVALIDATION_TYPES.join(', ')}` }).optional(),
  id: z
    .union([z.string().min(1, 'must not be empty').max(2048), z.number().int().nonnegative()], { message: 'must be a non-empty string or a whole number' })
    .optional(),
});

/**
 * The story's listing form, `{"type":"listing","id":"123"}`, beside the package's standard one:
 * the listing's pages, the homepage, every browse page and every page tagged with it.
 */
function rewriteListingForm(body: Record<string, unknown>): { body: Record<string, unknown>; context?: Record<string, unknown> } | { error: string } {
  if (!Object.hasOwn(body, 'type') && !Object.hasOwn(body, 'id')) return { body };
  const parsed = listingForm.safeParse(body);
  if (!parsed.success) return { error: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') };
  if (parsed.data.type === undefined) return { error: 'type: is required with "id"' };
  if (parsed.data.id === undefined) return { error: 'id: is required with "type"' };
  const id = String(parsed.data.id);
  const { type: _type, id: _id, ...rest } = body;
  const listing = listingInvalidation(id);
  const list = (name: string, extra: string[]) => [...(Array.isArray(rest[name]) ? (rest[name] as unknown[]) : []), ...extra];
  return {
    body: { ...rest, paths: list('paths', listing.paths), patterns: list('patterns', listing.patterns), tags: list('tags', listing.tags) },
    context: { ids: [id] },
  };
}

/** Node's own reading of an `Expect` header that asks for `100 Continue`. */
const EXPECTS_CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * Asks a client that sent `Expect: 100-continue` for its body, now that its headers passed: the
 * server leaves the 100 of this endpoint to its routes (utils/http-server.ts); a server that
 * sent it itself (`_sent100`, Node's default) gets no second one.
 */
function continueIfExpected(req: Request, res: express.Response): void {
  if (!EXPECTS_CONTINUE.test(req.headers.expect ?? '') || (res as express.Response & { _sent100?: boolean })._sent100) return;
  res.writeContinue();
}

/**
 * A signed webhook's bytes as they arrived, when a body parser before this route kept them: the
 * `req.rawBody` of a verify hook (`express.json({ verify })`), or a Buffer `req.body` (express.raw).
 */
function keptRawBody(req: Request): Buffer | undefined {
  const { rawBody } = req as Request & { rawBody?: unknown };
  if (Buffer.isBuffer(rawBody)) return rawBody;
  return Buffer.isBuffer(req.body) ? req.body : undefined;
}

/** The 400 of a signed webhook whose bytes a body parser mounted before this route read and did not keep. */
const RAW_BODY_SPENT =
  "a Twenty webhook's signature is over its raw body, and a body parser mounted before this route (such as express.json()) read it without keeping it: " +
  'mount the invalidation route before express.json(), or keep the raw body with express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })';

/** The answer's count: pages `deleted`, or `markedStale` (what a soft invalidation does, queued or not), as the engine's router names it. */
function countName(result: Pick<InvalidateResult, 'applied' | 'mode'>): 'deleted' | 'markedStale' {
  if (result.applied === 'deleted') return 'deleted';
  if (result.applied === 'marked-stale') return 'markedStale';
  return result.mode === 'hard' ? 'deleted' : 'markedStale';
}

/** Counts webhooks and exports the counts in the cache's registry (ssr_cache_webhooks_*). */
function webhookCounters(registry: Registry): WebhookStats {
  const stats: WebhookStats = { webhooks: 0, webhooksRejected: 0, webhooksIgnored: 0 };
  const exported: [keyof WebhookStats, string, string][] = [
    ['webhooks', 'ssr_cache_webhooks_total', 'Signed Twenty webhooks received.'],
    ['webhooksRejected', 'ssr_cache_webhooks_rejected_total', 'Twenty webhooks refused (bad signature, replay, disabled).'],
    ['webhooksIgnored', 'ssr_cache_webhooks_ignored_total', 'Twenty webhooks about other objects, answered 202.'],
  ];
  for (const [field, name, help] of exported) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats[field]);
      },
    });
  }
  return stats;
}

/**
 * POST /api/cache/invalidate: the CRM's way to make changed pages fresh at once. Twenty's own
 * signed webhook (turned into exact tag invalidations) or, with a bearer token, the package's
 * JSON forms and the story's listing form.
 */
export function createInvalidationRouter(options: InvalidationRouteOptions): { router: Router; webhooks: WebhookStats } {
  const { cache, redis, keyPrefix, logger, token, twenty } = options;
  const router = Router();
  const webhooks = webhookCounters(cache.registry);
  // Replay protection while Redis is away, for this instance at least.
  const localDeliveries = new LRUCache<string, true>({ max: 10_000, ttl: twenty.toleranceMs * 2 });

  /**
   * Delivered signatures, scored by when they may be forgotten, in one key without a TTL: Redis
   * never evicts it under a volatile-* maxmemory policy (a key per delivery with a TTL was
   * evicted, and a replay then passed). Under allkeys-* it can still go; the in-process memory
   * then covers this instance.
   */
  const deliveriesKey = `${keyPrefix}ssr-webhook-deliveries`;

  /**
   * true the first time a delivery (its signature) is seen, false when seen before, undefined
   * when Redis did not answer. Remembered as long as a timestamp can pass the check.
   */
  async function claimDelivery(delivery: string): Promise<boolean | undefined> {
    if (redis.status !== 'ready') return undefined;
    const now = Date.now();
    const claim = redis.eval(CLAIM_DELIVERY, 1, deliveriesKey, delivery, now, now + twenty.toleranceMs * 2, MAX_REMEMBERED_DELIVERIES);
    return withinMs(claim, REPLAY_CHECK_TIMEOUT_MS, 'the replay check').then(
      (answer) => answer === 1,
      () => undefined,
    );
  }

  /** Forgets a claimed delivery (its invalidation did not complete), so a retry of it is let in. */
  async function releaseDelivery(delivery: string): Promise<void> {
    if (redis.status !== 'ready') return;
    await redis.zrem(deliveriesKey, delivery).catch(() => undefined);
  }

  const refuse = (res: express.Response, status: 401 | 403, reason: string) => {
    webhooks.webhooksRejected += 1;
    if (status === 401) logger.warn({ source: 'twenty', reason }, 'cache invalidation: webhook refused');
    // The connection closes after the answer: a refused sender's unread body holds no socket.
    res.status(status).set('Connection', 'close').json({ error: reason });
  };

  const twentyWebhook: RequestHandler = async (req, res, next) => {
    if (req.headers['x-twenty-webhook-signature'] === undefined) return next();
    webhooks.webhooks += 1;
    if (!twenty.secret) return refuse(res, 403, "Twenty webhooks are disabled: set TWENTY_WEBHOOK_SECRET to the webhook's secret");
    const raw = keptRawBody(req) ?? Buffer.alloc(0);
    const problem = signatureProblem(req.headers, raw, { secret: twenty.secret, toleranceMs: twenty.toleranceMs });
    if (problem) return refuse(res, 401, problem);
    const delivery = replayKey(req.headers);
    // Seen here (also while Redis was away) or in Redis: a replay either way.
    const fresh = ((await claimDelivery(delivery)) ?? true) && !localDeliveries.has(delivery);
    localDeliveries.set(delivery, true);
    if (!fresh) return refuse(res, 401, 'this delivery (its signature) was already received: a replayed request');

    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      return void res.status(400).json({ error: `request body is not valid JSON: ${(error as Error).message}` });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return void res.status(400).json({ error: 'request body must be a JSON object' });
    const body = json as Record<string, unknown>;
    const event = readTwentyEvent(body, twenty.listingObject);
    if (event.kind === 'invalid') return void res.status(400).json({ error: event.error });
    if (event.kind === 'ignored') {
      if (event.metadata) twenty.onMetadataChange?.();
      // A 2xx, so the CRM does not count it as a failed delivery.
      webhooks.webhooksIgnored += 1;
      logger.info({ source: 'twenty', event: body.eventName, ignored: event.reason }, 'cache invalidation: webhook ignored');
      return void res.status(202).json({ ignored: event.reason });
    }
    // A deleted listing's pages must not be served even once more.
    const gone = event.action === 'deleted' || event.action === 'destroyed';
    const mode = gone ? 'hard' : twenty.mode;
    // Where pages showed it before the change (Twenty sends only the record after it).
    const shownIn = await twenty.cities?.recall(event.id);
    const effects = resolveCityEffects(event.effects, event.city, shownIn);
    const tags = tagsForListingChange(event.id, effects, event.city, shownIn);
    const { ok, changed, ...result } = await cache.invalidate({ tags, mode, source: 'twenty' });
    const summary = {
      source: 'twenty',
      event: event.event,
      ids: [event.id],
      effects,
      ...result,
      [countName(result)]: changed,
    };
    // Twenty never retries: while Redis is away the change is queued (202) and applied once it is back.
    logger.info({ source: 'twenty', event: event.event, ids: [event.id], effects, shownIn, tags, ok, queued: result.queued }, 'cache invalidation: webhook');
    // Applied: from now on its pages show it under its new city only (a failed one is retried with what was known).
    if (ok && !result.queued) await twenty.cities?.reset(event.id, gone ? undefined : event.city);
    if (result.queued) return void res.status(202).json(summary);
    if (!ok) {
      // "Retry later" must let the same delivery in again: it was not applied.
      localDeliveries.delete(delivery);
      void releaseDelivery(delivery);
      return void res
        .status(503)
        .json({ error: `Redis refused the invalidation, it did not complete (${result.note ?? 'no reason given'}); retry later`, ...summary });
    }
    res.json(summary);
  };

  // A record with a long rich-text description makes a large body: read up to the setting (1 MiB by default).
  const rawWebhook = express.raw({ type: () => true, limit: twenty.maxBodyBytes });
  const webhookLimit = `${Math.round(twenty.maxBodyBytes / 1024)}kb`;
  const refuseTooLarge = (req: Request, res: express.Response) => {
    logger.warn(
      { source: 'twenty', bytes: Number(req.headers['content-length']) || undefined, limitBytes: twenty.maxBodyBytes },
      'cache invalidation: webhook body over TWENTY_WEBHOOK_MAX_BODY_KB, refused',
    );
    res.status(413).json({ error: `request body is larger than ${webhookLimit} (TWENTY_WEBHOOK_MAX_BODY_KB)` });
  };
  // Authentication before the body: a request whose signature headers cannot pass (absent secret,
  // malformed, a stale timestamp) is refused before a byte of its body is read.
  const signed: RequestHandler = (req, res, next) => {
    if (req.headers['x-twenty-webhook-signature'] === undefined) return next();
    if (!twenty.secret) {
      webhooks.webhooks += 1;
      return refuse(res, 403, "Twenty webhooks are disabled: set TWENTY_WEBHOOK_SECRET to the webhook's secret");
    }
    const problem = signatureHeaderProblem(req.headers, { secret: twenty.secret, toleranceMs: twenty.toleranceMs });
    if (problem) {
      webhooks.webhooks += 1;
      return refuse(res, 401, problem);
    }
    const kept = keptRawBody(req);
    if (kept) return kept.length > twenty.maxBodyBytes ? refuseTooLarge(req, res) : next();
    if (req.readableEnded) {
      webhooks.webhooks += 1;
      logger.warn({ source: 'twenty', reason: 'raw body not kept' }, 'cache invalidation: webhook body read by an earlier body parser, refused');
      return void res.status(400).json({ error: RAW_BODY_SPENT });
    }
    continueIfExpected(req, res);
    rawWebhook(req, res, next);
  };
  router.post(INVALIDATION_ENDPOINT, signed, twentyWebhook);
  router.use(
    cache.invalidationRouter({
      token,
      path: INVALIDATION_ENDPOINT,
      rewrite: rewriteListingForm,
      disabledMessage: 'cache invalidation is disabled: set CACHE_INVALIDATION_TOKEN to enable it',
    }),
  );
  // Body-parser errors of the webhook (too large, bad encoding) become a JSON 4xx, never an HTML 500.
  router.use(INVALIDATION_ENDPOINT, ((error, req, res, _next) => {
    if (error?.type === 'entity.too.large') return refuseTooLarge(req, res);
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 400;
    res.status(status).json({ error: error?.expose && typeof error.message === 'string' ? error.message : 'request could not be read' });
  }) as express.ErrorRequestHandler);
  return { router, webhooks };
}
