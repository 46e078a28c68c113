import type { IncomingMessage, ServerResponse } from 'node:http';
import { preferredEncoding } from '../entry/content-encoding';
import type { PreparedPage } from '../entry/prepared-page';
import type { TierStack } from '../tiers/tier-stack';
import type { CacheLogFields } from './context';

/** deliver: a stored representation with its precomputed headers; nothing hashed or re-encoded. */
export function deliverHit(req: IncomingMessage, res: ServerResponse, tiers: TierStack, key: string, page: PreparedPage, log: CacheLogFields): void {
  const extra = [
    'X-Cache',
    log.cache,
    'Age',
    Math.max(0, Math.floor((Date.now() - page.entry.storedAt) / 1000)),
    'Server-Timing',
    `cache;desc="${log.cache} ${log.tier}";dur=${log.lookupMs}`,
  ];
  if (log.tier === 'coalesced') extra.push('X-Cache-Coalesced', '1');
  const variant = tiers.variant(key, page, preferredEncoding(req.headers['accept-encoding']));
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && page.matchesIfNoneMatch(ifNoneMatch)) {
    res.writeHead(304, ['ETag', variant.etag, 'Vary', 'Accept-Encoding', ...extra]);
    res.end();
    return;
  }
  res.writeHead(page.entry.status, [...variant.headers, ...extra]);
  res.end(req.method === 'HEAD' ? undefined : variant.body);
}
