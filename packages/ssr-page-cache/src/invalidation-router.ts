import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkBearer } from './auth';
import type { Middleware } from './flow/page-flow';
import { BodyError, jsonObjectOf, readBody, sendJson, type RequestBody } from './http-json';
import { describeValidationError, invalidateRequestSchema, type InvalidateRequest, type InvalidateResult } from './invalidate';

export const DEFAULT_INVALIDATION_PATH = '/api/cache/invalidate';
export const DEFAULT_INVALIDATION_BODY_BYTES = 64 * 1024;

/** A host's own body form turned into the standard one, with fields for the answer and the log. */
export type BodyRewrite = (body: Record<string, unknown>) => { body: Record<string, unknown>; context?: Record<string, unknown> } | { error: string };

export interface InvalidationRouterOptions {
  /** Bearer token callers send; unset, every call is refused with 403 (nothing that changes the cache is open by default). */
  token?: string;
  /** Default `/api/cache/invalidate`. */
  path?: string;
  /** Larger bodies get 413; default 64 KiB. */
  maxBodyBytes?: number;
  /** Lets a host accept a body form of its own (e.g. `{"type":"post","slug":"hello"}`) beside the standard one. */
  rewrite?: BodyRewrite;
  /** The 403 text while no token is configured (say which setting enables it). */
  disabledMessage?: string;
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/** Node's own reading of an `Expect` header that asks for `100 Continue`. */
const EXPECTS_CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * Asks a client that sent `Expect: 100-continue` for its body, once it is authenticated. A server
 * with a 'checkContinue' listener leaves the 100 to its routes; without one Node has sent it
 * already (`_sent100`), and a second would be noise, as it would be after a body parser read the body.
 */
function continueIfExpected(req: IncomingMessage, res: ServerResponse): void {
  if (!EXPECTS_CONTINUE.test(req.headers.expect ?? '') || (res as ServerResponse & { _sent100?: boolean })._sent100 || req.readableEnded) return;
  res.writeContinue();
}

/**
 * POST {path}: invalidation over HTTP for a CMS, a CRM or an operator. Authenticated before the
 * body is read; every bad input is a JSON 4xx naming the problem; 503 when Redis did not take it.
 */
export function createInvalidationRouter(
  options: InvalidationRouterOptions,
  invalidate: (request: InvalidateRequest) => Promise<InvalidateResult>,
): Middleware {
  const path = options.path ?? DEFAULT_INVALIDATION_PATH;
  const limit = options.maxBodyBytes ?? DEFAULT_INVALIDATION_BODY_BYTES;
  const disabledMessage = options.disabledMessage ?? 'cache invalidation is disabled: give invalidationRouter a token to enable it';
  const { token, rewrite } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = checkBearer(req, token, disabledMessage);
    if (!auth.ok) {
      // Refused before a byte of the body is read, and the connection closed after the answer:
      // an unauthenticated upload, however slow, holds no socket.
      sendJson(res, auth.status, { error: auth.error }, { Connection: 'close', ...(auth.challenge ? { 'WWW-Authenticate': auth.challenge } : {}) });
      return;
    }
    continueIfExpected(req, res);
    let read: RequestBody;
    try {
      read = await readBody(req, limit);
    } catch (error) {
      if (error instanceof BodyError) return sendJson(res, error.status, { error: error.message });
      return sendJson(res, 400, { error: 'request body could not be read' });
    }
    const parsed = jsonObjectOf(read, '{"tags":["post:hello"]}');
    if ('error' in parsed) return sendJson(res, 400, { error: parsed.error });
    let body = parsed.value;
    let context: Record<string, unknown> = {};
    if (rewrite) {
      const rewritten = rewrite(body);
      if ('error' in rewritten) return sendJson(res, 400, { error: rewritten.error });
      body = rewritten.body;
      context = rewritten.context ?? {};
    }
    const checked = invalidateRequestSchema.safeParse(body);
    if (!checked.success) return sendJson(res, 400, { error: describeValidationError(checked.error) });
    const result = await invalidate({ ...checked.data, source: 'api' });
    const { ok, changed, ...rest } = result;
    const summary = { source: 'api', ...context, ...rest, [countName(result)]: changed };
    // Accepted, and sure to take effect: applied here now, and in Redis as soon as it answers.
    if (result.queued) return sendJson(res, 202, summary);
    if (!ok) return sendJson(res, 503, { error: refusalText(result.note), ...summary });
    sendJson(res, 200, summary);
  }

  const notAllowed = { error: `${path} takes POST only, with a JSON body such as {"tags":["post:hello"]}` };
  return (req, res, next) => {
    if (pathOf(req.url) !== path) return next();
    // The path is this router's whatever the method: a GET is told what the endpoint takes, not the app's 404.
    if (req.method !== 'POST') return sendJson(res, 405, notAllowed, { Allow: 'POST' });
    handle(req, res).catch(next);
  };
}

/** The 503's text: Redis answered, and refused; its own words when known. */
export function refusalText(note: string | undefined): string {
  return `Redis refused the invalidation, it did not complete (${note ?? 'no reason given'}); retry later`;
}

/** The answer's count: pages `deleted`, or `markedStale` (what a soft or refresh invalidation does, queued or not). */
export function countName(result: Pick<InvalidateResult, 'applied' | 'mode'>): 'deleted' | 'markedStale' {
  if (result.applied === 'deleted') return 'deleted';
  if (result.applied === 'marked-stale') return 'markedStale';
  return result.mode === 'hard' ? 'deleted' : 'markedStale';
}
