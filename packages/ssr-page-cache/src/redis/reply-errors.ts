/**
 * Redis answered, with an error about this command or key (WRONGTYPE, NOSCRIPT, OOM, ERR ...):
 * Redis itself is healthy. Recognised by shape, not `instanceof`, because the host may bring
 * another copy of ioredis (and so of its ReplyError class) than the one the cache was built with.
 */
export function isReplyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ReplyError') return true;
  // A reply error's message starts with Redis' upper-case error code.
  return /^[A-Z][A-Z_-]{1,31} /.test(error.message) && (error as { command?: unknown }).command !== undefined;
}
