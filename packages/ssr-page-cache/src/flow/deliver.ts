import type { IncomingMessage, ServerResponse } from 'node:http';
import { preferredEncoding } from '../entry/content-encoding';
import type { PreparedPage } from '../entry/prepared-page';
import type { TierStack } from '../tiers/tier-stack';
import type { CacheLogFields } from './context';

/** What a stored page sends to this request: status, headers and body (none for 304 and HEAD). */
export interface Representation {
  status: number;
  headers: (string | number | string[])[];
  body: Buffer | undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must also accept.
const HTTP_DATES = [
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?<day>\d{2}) (?<month>\w{3}) (?<year>\d{4}) (?<h>\d{2}):(?<m>\d{2}):(?<s>\d{2}) GMT$/,
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (?<day>\d{2})-(?<month>\w{3})-(?<year>\d{2}) (?<h>\d{2}):(?<m>\d{2}):(?<s>\d{2}) GMT$/,
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?<month>\w{3}) (?<day>[ \d]\d) (?<h>\d{2}):(?<m>\d{2}):(?<s>\d{2}) (?<year>\d{4})$/,
];

/** RFC 850's two-digit year: one more than 50 years ahead is the most recent past year with those digits. */
function fullYear(digits: string, now: number): number {
  if (digits.length === 4) return Number(digits);
  const thisYear = new Date(now).getUTCFullYear();
  const year = thisYear - (thisYear % 100) + Number(digits);
  return year > thisYear + 50 ? year - 100 : year;
}

/**
 * An HTTP-date in milliseconds, or undefined when the value is none of its three forms (Date.parse
 * reads far more, `9999` or `Tuesday 1` among them, and asctime in local time).
 */
function parseHttpDate(value: string, now = Date.now()): number | undefined {
  let date: Record<string, string> | undefined;
  for (const form of HTTP_DATES) if ((date = form.exec(value)?.groups)) break;
  if (!date) return undefined;
  const month = MONTHS.indexOf(date.month as string);
  const [day, hours, minutes, seconds] = [date.day, date.h, date.m, date.s].map(Number) as [number, number, number, number];
  // 23:59:60 is a leap second; 31 February is no date.
  if (month === -1 || hours > 23 || minutes > 59 || seconds > 60) return undefined;
  const ms = Date.UTC(fullYear(date.year as string, now), month, day, hours, minutes, Math.min(seconds, 59));
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

/** Not modified since an If-Modified-Since date; a value that is not an HTTP-date is ignored (RFC 9110 13.1.3). */
function notModifiedSince(page: PreparedPage, header: string): boolean {
  const since = parseHttpDate(header);
  return since !== undefined && page.notModifiedSince(since);
}

/** The stored representation for this request's Accept-Encoding and validators, with its precomputed headers. */
export function representationFor(req: IncomingMessage, tiers: TierStack, key: string, page: PreparedPage, log: CacheLogFields): Representation {
  const timing = log.tier ? `cache;desc="${log.cache} ${log.tier}";dur=${log.lookupMs}` : `cache;desc="${log.cache}";dur=${log.lookupMs}`;
  const extra: (string | number)[] = ['X-Cache', log.cache, 'Age', Math.max(0, Math.floor((Date.now() - page.entry.storedAt) / 1000)), 'Server-Timing', timing];
  if (log.tier === 'coalesced') extra.push('X-Cache-Coalesced', '1');
  const encoding = preferredEncoding(req.headers['accept-encoding']);
  const variant = tiers.variant(key, page, encoding);
  // If-None-Match wins when both are sent (RFC 9110 13.1.3), matched against this representation's tag only.
  const ifNoneMatch = req.headers['if-none-match'];
  const ifModifiedSince = req.headers['if-modified-since'];
  const notModified =
    ifNoneMatch !== undefined ? page.matchesIfNoneMatch(ifNoneMatch, encoding) : ifModifiedSince !== undefined && notModifiedSince(page, ifModifiedSince);
  if (notModified && page.entry.status === 200) {
    return { status: 304, headers: ['ETag', variant.etag, 'Last-Modified', page.lastModified, 'Vary', 'Accept-Encoding', ...extra], body: undefined };
  }
  return { status: page.entry.status, headers: [...variant.headers, ...extra], body: req.method === 'HEAD' ? undefined : variant.body };
}

/** deliver: a stored representation with its precomputed headers; nothing hashed or re-encoded. Returns the status sent. */
export function deliverHit(req: IncomingMessage, res: ServerResponse, tiers: TierStack, key: string, page: PreparedPage, log: CacheLogFields): number {
  const { status, headers, body } = representationFor(req, tiers, key, page, log);
  res.writeHead(status, headers as (string | number)[]);
  res.end(body);
  return status;
}

/** Why nothing could be served: the render took too long, or the render budget is spent. */
export type UnavailableReason = 'render-timeout' | 'render-budget';

const UNAVAILABLE_PAGE = Buffer.from(
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Please try again</title></head>' +
    '<body><h1>This page cannot be shown right now</h1><p>Please try again in a moment.</p></body></html>',
);

/**
 * The one error crawlers read as "come back later" (Google slows down for any other 5xx): a 503
 * with Retry-After, never stored. `X-Cache-Reason` says why.
 */
export function unavailable(retryAfterSeconds: number, reason: UnavailableReason): Representation {
  return {
    status: 503,
    headers: [
      'Content-Type',
      'text/html; charset=utf-8',
      'Content-Length',
      UNAVAILABLE_PAGE.length,
      'Cache-Control',
      'no-store',
      'Retry-After',
      retryAfterSeconds,
      'X-Cache-Reason',
      reason,
    ],
    body: UNAVAILABLE_PAGE,
  };
}

/** Sends that 503 to a request nothing has answered yet. */
export function serviceUnavailable(req: IncomingMessage, res: ServerResponse, retryAfterSeconds: number, reason: UnavailableReason): void {
  const { status, headers, body } = unavailable(retryAfterSeconds, reason);
  res.writeHead(status, [...headers, 'X-Cache', 'MISS'] as (string | number)[]);
  res.end(req.method === 'HEAD' ? undefined : body);
}
