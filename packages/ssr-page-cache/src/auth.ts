import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares secrets in constant time; hashing first hides the length of the expected one. */
export function secretsMatch(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export type BearerCheck = { ok: true } | { ok: false; status: 401 | 403; error: string; challenge?: string };

/**
 * `Authorization: Bearer <token>` against the configured token. With no token configured every
 * call is refused: an endpoint that changes the cache is never open by default.
 */
export function checkBearer(req: IncomingMessage, token: string | undefined, disabledMessage: string): BearerCheck {
  if (token === undefined) return { ok: false, status: 403, error: disabledMessage };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return { ok: false, status: 401, error: 'missing bearer token: send Authorization: Bearer <token>', challenge: 'Bearer' };
  if (!secretsMatch(match[1] as string, token)) return { ok: false, status: 401, error: 'invalid bearer token', challenge: 'Bearer error="invalid_token"' };
  return { ok: true };
}
