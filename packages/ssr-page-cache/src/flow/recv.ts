import type { IncomingMessage } from 'node:http';
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';

/** Who asked, as the metrics count it: Google's and Bing's crawlers, any other bot, people. */
export type AgentFamily = 'googlebot' | 'bingbot' | 'other-bot' | 'human';

/** Whether a User-Agent is a crawler's, and which family it belongs to. */
export interface BotTest {
  (userAgent: string | undefined): boolean;
  family(userAgent: string | undefined): AgentFamily;
}

/** Google's crawlers and fetchers by their product tokens (developers.google.com/search/docs/crawling-indexing/google-common-crawlers). */
const GOOGLE = /googlebot|google-inspectiontool|googleother|storebot-google|adsbot-google|mediapartners-google|apis-google|feedfetcher-google|google-extended/i;
const BING = /bingbot|bingpreview|msnbot|adidxbot/i;

/**
 * The bot test of one cache instance (isbot's list unless the host brings its own): bot or not
 * is its verdict; a bot's family is read from its product token. Crawlers send a few distinct
 * User-Agent strings over and over: each one is tested once.
 */
export function createBotTest(isBot: (userAgent: string) => boolean = isbot): BotTest {
  const families = new LRUCache<string, AgentFamily>({ max: 2000 });
  const family = (userAgent: string | undefined): AgentFamily => {
    if (!userAgent) return 'human';
    let known = families.get(userAgent);
    if (known === undefined) {
      known = !isBot(userAgent) ? 'human' : GOOGLE.test(userAgent) ? 'googlebot' : BING.test(userAgent) ? 'bingbot' : 'other-bot';
      if (userAgent.length <= 512) families.set(userAgent, known);
    }
    return known;
  };
  const test = (userAgent: string | undefined): boolean => family(userAgent) !== 'human';
  return Object.assign(test, { family });
}

/** recv: may this request be answered from, and stored into, the shared cache? */
export function isCacheableRequest(req: IncomingMessage, fromBot: boolean, allAgents: boolean): boolean {
  if (!allAgents && !fromBot) return false;
  // Credentials mean a page made for one user: never shared (Varnish's built-in rule).
  return req.headers.authorization === undefined && req.headers.cookie === undefined;
}
