import { createHash } from 'node:crypto';
import type { CachePolicy, PolicyTable } from './policy';

export const CACHE_KEY_NAMESPACE = 'ssr:';
/** Keys longer than this keep a readable head and end in a hash of the whole URL. */
export const MAX_KEY_LENGTH = 512;
const HASHED_KEY_HEAD = 200;

/** A cacheable request resolved to the one URL its page is rendered and stored under. */
export interface ResolvedPage {
  policy: CachePolicy;
  /** Canonical `path[?query]` the route renders (the request is rewritten to it). */
  url: string;
  key: string;
}

/**
 * Keeps the route's own parameters, in sorted order, normalised; drops everything else
 * (tracking tags, junk), empty values and repeats (the first non-empty value wins), and
 * values equal to the route's default (the page is the same without them).
 */
export function normaliseQuery(rawQuery: string, allowed: CachePolicy['query'], defaults: CachePolicy['queryDefaults'] = {}): string {
  if (rawQuery === '') return '';
  const values = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    const normalise = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (!normalise || values.has(name)) continue;
    const normalised = normalise(value);
    if (normalised !== '') values.set(name, normalised);
  }
  for (const [name, fallback] of Object.entries(defaults)) if (values.get(name) === fallback) values.delete(name);
  return [...values.keys()]
    .sort()
    .map((name) => `${name}=${encodeURIComponent(values.get(name) as string)}`)
    .join('&');
}

export function cacheKeyForUrl(canonicalUrl: string): string {
  const key = CACHE_KEY_NAMESPACE + canonicalUrl;
  if (key.length <= MAX_KEY_LENGTH) return key;
  const digest = createHash('sha256').update(canonicalUrl).digest('hex');
  return `${CACHE_KEY_NAMESPACE}${canonicalUrl.slice(0, HASHED_KEY_HEAD)}#${digest}`;
}

/** Resolves a request URL (`req.url`) against the policy table; undefined when no cached route matches. */
export function resolvePage(requestUrl: string, table: PolicyTable): ResolvedPage | undefined {
  if (!requestUrl.startsWith('/')) return undefined;
  const queryStart = requestUrl.indexOf('?');
  const pathname = queryStart === -1 ? requestUrl : requestUrl.slice(0, queryStart);
  const matched = table.match(pathname);
  if (!matched) return undefined;
  const query = queryStart === -1 ? '' : normaliseQuery(requestUrl.slice(queryStart + 1), matched.policy.query, matched.policy.queryDefaults);
  const url = query === '' ? matched.path : `${matched.path}?${query}`;
  return { policy: matched.policy, url, key: cacheKeyForUrl(url) };
}

/** `ssr:{path}[?{sorted, normalised query}]`, or undefined when the route is not cached. */
export function generateCacheKey(req: { url: string }, table: PolicyTable): string | undefined {
  return resolvePage(req.url, table)?.key;
}
