import type { IncomingMessage } from 'node:http';
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';

/** Whether a User-Agent is a crawler's. */
export type BotTest = (userAgent: string | undefined) => boolean;

/**
 * The bot test of one cache instance (isbot's list unless the host brings its own). Crawlers
 * send a few distinct User-Agent strings over and over: each one is tested once.
 */
export function createBotTest(isBot: (userAgent: string) => boolean = isbot): BotTest {
  const verdicts = new LRUCache<string, boolean>({ max: 2000 });
  return (userAgent) => {
    if (!userAgent) return false;
    let verdict = verdicts.get(userAgent);
    if (verdict === undefined) {
      verdict = isBot(userAgent);
      if (userAgent.length <= 512) verdicts.set(userAgent, verdict);
    }
    return verdict;
  };
}

/** recv: may this request be answered from, and stored into, the shared cache? */
export function isCacheableRequest(req: IncomingMessage, isBot: BotTest, allAgents: boolean): boolean {
  if (!allAgents && !isBot(req.headers['user-agent'])) return false;
  // Credentials mean a page made for one user: never shared (Varnish's built-in rule).
  return req.headers.authorization === undefined && req.headers.cookie === undefined;
}
