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

/** Why a request on a cached route is rendered for itself, past the shared cache (`X-Cache-Reason` of a BYPASS). */
export type BypassReason = 'method' | 'human-agent' | 'credentials' | 'cookie';

/** Cookie names that do not make a request private (the ignoreCookies option), compiled once. */
export interface IgnoredCookies {
  /** True when every cookie of a Cookie header is one of them. */
  onlyIgnored(header: string): boolean;
  matches(name: string): boolean;
}

/** Undefined when there are none: then any Cookie header makes a request private. */
export function compileIgnoredCookies(names: readonly (string | RegExp)[]): IgnoredCookies | undefined {
  if (names.length === 0) return undefined;
  const exact = new Set(names.filter((name): name is string => typeof name === 'string'));
  // A global or sticky RegExp remembers where it matched last: a copy without those flags never does.
  const patterns = names.filter((name): name is RegExp => name instanceof RegExp).map((re) => new RegExp(re.source, re.flags.replace(/[gy]/g, '')));
  const matches = (name: string) => exact.has(name) || patterns.some((re) => re.test(name));
  return {
    matches,
    onlyIgnored(header) {
      for (const pair of header.split(';')) {
        const equals = pair.indexOf('=');
        const name = (equals === -1 ? pair : pair.slice(0, equals)).trim();
        if (name !== '' && !matches(name)) return false;
      }
      return true;
    },
  };
}

/**
 * recv: why this request may not be answered from, nor stored into, the shared cache; undefined
 * when it may. Credentials mean a page made for one user: never shared (Varnish's built-in rule),
 * unless every cookie is one the host named as not personal (analytics, consent).
 */
export function bypassReason(req: IncomingMessage, fromBot: boolean, allAgents: boolean, ignored: IgnoredCookies | undefined): BypassReason | undefined {
  if (!allAgents && !fromBot) return 'human-agent';
  if (req.headers.authorization !== undefined) return 'credentials';
  const cookie = req.headers.cookie;
  if (cookie !== undefined && !ignored?.onlyIgnored(cookie)) return 'cookie';
  return undefined;
}

/**
 * The route renders a shared page as if the ignored cookies had not been sent, so nothing
 * it renders for the cache can depend on them (also when cookie-parser ran before the cache).
 */
export function dropIgnoredCookies(req: IncomingMessage, ignored: IgnoredCookies): void {
  delete req.headers.cookie;
  for (const parsed of ['cookies', 'signedCookies'] as const) {
    const jar = (req as IncomingMessage & Partial<Record<typeof parsed, unknown>>)[parsed];
    if (typeof jar !== 'object' || jar === null) continue;
    for (const name of Object.keys(jar)) if (ignored.matches(name)) delete (jar as Record<string, unknown>)[name];
  }
}
