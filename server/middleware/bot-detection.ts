import type { RequestHandler } from 'express';
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';

// Crawlers send a few distinct User-Agent strings over and over: test each one once.
const verdicts = new LRUCache<string, boolean>({ max: 2000 });

/** True for crawlers (Googlebot, Bingbot, facebookexternalhit, ...), per the isbot list. */
export function isBotAgent(userAgent: string | undefined): boolean {
  if (!userAgent) return false;
  let verdict = verdicts.get(userAgent);
  if (verdict === undefined) {
    verdict = isbot(userAgent);
    if (userAgent.length <= 512) verdicts.set(userAgent, verdict);
  }
  return verdict;
}

/** Sets `req.isBot` from the User-Agent header. */
export const botDetection: RequestHandler = (req, _res, next) => {
  req.isBot = isBotAgent(req.headers['user-agent']);
  next();
};
