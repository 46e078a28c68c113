import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares secrets in constant time; hashing first hides the length of the expected one. */
export function secretsMatch(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Lets a request through only with `Authorization: Bearer <token>`. With no token configured,
 * every call is refused: an endpoint that changes the cache is never open by default.
 */
export function requireBearerToken(token: string | undefined, disabledMessage: string): RequestHandler {
  return (req, res, next) => {
    if (token === undefined) {
      res.status(403).json({ error: disabledMessage });
      return;
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer').status(401).json({ error: 'missing bearer token: send Authorization: Bearer <token>' });
      return;
    }
    if (!secretsMatch(match[1] as string, token)) {
      res.set('WWW-Authenticate', 'Bearer error="invalid_token"').status(401).json({ error: 'invalid bearer token' });
      return;
    }
    next();
  };
}
