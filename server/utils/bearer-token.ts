import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Why `Authorization` does not carry the bearer token, or undefined when it does. Compared in
 * constant time; hashing first hides the token's length.
 */
export function bearerProblem(authorization: string | undefined, token: string): { error: string; challenge: string } | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return { error: 'missing bearer token: send Authorization: Bearer <token>', challenge: 'Bearer' };
  if (!timingSafeEqual(digest(match[1] as string), digest(token))) return { error: 'invalid bearer token', challenge: 'Bearer error="invalid_token"' };
  return undefined;
}
