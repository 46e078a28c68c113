import { createHash } from 'node:crypto';

/**
 * The stored entry: one Redis value = magic, format version, invalidatedAt, header length,
 * JSON header, body. The body stays raw bytes (never JSON-wrapped). invalidatedAt sits at a
 * fixed offset so a soft invalidation marks an entry stale in place (SETRANGE), atomically and
 * without reading it. New optional header fields keep the version; a change that old readers
 * cannot ignore bumps ENTRY_FORMAT_VERSION, and old values become misses.
 */
export const ENTRY_FORMAT_VERSION = 3;
const MAGIC = Buffer.from('SSRC', 'latin1');
/** Byte offset of invalidatedAt (float64, big-endian, epoch ms; 0 = never). */
export const INVALIDATED_AT_OFFSET = MAGIC.length + 1;
const HEADER_LENGTH_OFFSET = INVALIDATED_AT_OFFSET + 8;
const PREFIX_LENGTH = HEADER_LENGTH_OFFSET + 4;
/** Byte offset of the header's `{"status":NNN`: what a script reads to tell a negative entry from a page. */
export const STATUS_OFFSET = PREFIX_LENGTH;

export type BodyEncoding = 'identity' | 'gzip' | 'br';

/** A response header as the route sent it: name (lower case) and value. */
export type StoredHeader = readonly [name: string, value: string];

export interface CacheEntry {
  status: number;
  contentType: string;
  /**
   * The end-to-end headers the route and earlier middleware set (Cache-Control, Link,
   * Content-Language, security headers, ...), sent again on every hit.
   */
  headers: StoredHeader[];
  /** Strong validator, computed once at store time. */
  etag: string;
  encoding: BodyEncoding;
  /** Epoch milliseconds. */
  storedAt: number;
  /**
   * Epoch ms of the page's Last-Modified when the cache dated it against the entry it replaces:
   * that entry's date for the same bytes, storedAt for other bytes the route dated no later.
   * Absent otherwise (the route's own date, or storedAt), and in entries of earlier releases.
   */
  lastModified?: number;
  /** Seconds the entry is fresh after storedAt. */
  freshTtl: number;
  /** Seconds after freshness during which the entry may still be served stale. */
  grace: number;
  /**
   * Seconds after grace during which the entry is kept only to be served if a re-render fails
   * (stale-if-error); 0 or absent: none.
   */
  keep?: number;
  /** The build that rendered it (package version and build id); another build's entry is stale. */
  build?: string;
  /**
   * The invalidation record's number in force when the render began (absent in entries of
   * earlier releases): an invalidation numbered above it that names the page makes it stale.
   */
  seq?: number;
  tags: string[];
  /** Epoch ms of a soft invalidation (the entry is stale from then on); 0 when none. */
  invalidatedAt: number;
  body: Buffer;
}

export type EntryHeader = Omit<CacheEntry, 'body'>;
type StoredFields = Omit<EntryHeader, 'invalidatedAt'>;

export function computeEtag(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
}

/**
 * A new entry. `etag` defaults to a hash of `body`; a compressed body passes the tag of its
 * identity bytes, so every representation derives from one validator.
 */
export function createEntry(
  fields: Pick<CacheEntry, 'status' | 'contentType' | 'freshTtl' | 'body'> &
    Partial<Pick<CacheEntry, 'etag' | 'encoding' | 'storedAt' | 'lastModified' | 'grace' | 'keep' | 'build' | 'seq' | 'tags' | 'invalidatedAt' | 'headers'>>,
): CacheEntry {
  return {
    headers: [],
    encoding: 'identity',
    storedAt: Date.now(),
    grace: 0,
    tags: [],
    invalidatedAt: 0,
    ...fields,
    etag: fields.etag ?? computeEtag(fields.body),
  };
}

/** The 8 bytes written at INVALIDATED_AT_OFFSET to mark an entry stale. */
export function encodeInvalidatedAt(epochMs: number): Buffer {
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeDoubleBE(epochMs);
  return bytes;
}

/** The Content-Security-Policy headers (a page's own, stored with it, or as a route sets them). */
export const CSP_HEADERS = ['content-security-policy', 'content-security-policy-report-only'] as const;

/**
 * Whether a CSP header value holds a nonce: a source good for one response only. Shared with
 * people, it would let a script injected elsewhere run; such a page is never shared with them.
 */
export function cspHasNonce(value: string): boolean {
  return /'nonce-/i.test(value);
}

/** Whether an entry's stored CSP holds a nonce. */
export function carriesCspNonce(entry: Pick<CacheEntry, 'headers'>): boolean {
  return entry.headers.some(([name, value]) => (CSP_HEADERS as readonly string[]).includes(name) && cspHasNonce(value));
}

/** The content type most entries have: the default when an entry's header has none. */
export const DEFAULT_CONTENT_TYPE = 'text/html; charset=utf-8';

export function encodeEntry(entry: CacheEntry): Buffer {
  const { body, invalidatedAt, status, contentType, headers, keep, ...header } = entry;
  // bodyLength lets a reader tell a whole value from a truncated one. The status comes first, at
  // a fixed offset (STATUS_OFFSET), so a Redis script can tell a negative entry from a page.
  // contentType and headers are always written: the previous release needs them to read an
  // entry (a rolling deploy runs both); this one reads entries without them as the defaults.
  const stored = { status, contentType, headers, ...(keep ? { keep } : {}), ...header, bodyLength: body.length };
  const headerBytes = Buffer.from(JSON.stringify(stored), 'utf8');
  const prefix = Buffer.allocUnsafe(PREFIX_LENGTH);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt8(ENTRY_FORMAT_VERSION, MAGIC.length);
  prefix.writeDoubleBE(invalidatedAt, INVALIDATED_AT_OFFSET);
  prefix.writeUInt32BE(headerBytes.length, HEADER_LENGTH_OFFSET);
  return Buffer.concat([prefix, headerBytes, body]);
}

function isStoredFields(value: unknown): value is StoredFields {
  if (typeof value !== 'object' || value === null) return false;
  const header = value as Record<string, unknown>;
  return (
    Number.isInteger(header.status) &&
    (header.contentType === undefined || typeof header.contentType === 'string') &&
    typeof header.etag === 'string' &&
    (header.encoding === 'identity' || header.encoding === 'gzip' || header.encoding === 'br') &&
    typeof header.storedAt === 'number' &&
    (header.lastModified === undefined || typeof header.lastModified === 'number') &&
    typeof header.freshTtl === 'number' &&
    typeof header.grace === 'number' &&
    (header.keep === undefined || typeof header.keep === 'number') &&
    (header.build === undefined || typeof header.build === 'string') &&
    (header.seq === undefined || Number.isSafeInteger(header.seq)) &&
    Array.isArray(header.tags) &&
    header.tags.every((tag) => typeof tag === 'string') &&
    (header.headers === undefined ||
      (Array.isArray(header.headers) &&
        header.headers.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && typeof pair[1] === 'string')))
  );
}

/** Returns undefined for anything that is not a whole entry of this format version. */
export function decodeEntry(value: Buffer | null | undefined): CacheEntry | undefined {
  if (!value || value.length < PREFIX_LENGTH) return undefined;
  if (!value.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (value.readUInt8(MAGIC.length) !== ENTRY_FORMAT_VERSION) return undefined;
  const invalidatedAt = value.readDoubleBE(INVALIDATED_AT_OFFSET);
  if (!Number.isFinite(invalidatedAt) || invalidatedAt < 0) return undefined;
  const headerEnd = PREFIX_LENGTH + value.readUInt32BE(HEADER_LENGTH_OFFSET);
  if (headerEnd > value.length) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(value.toString('utf8', PREFIX_LENGTH, headerEnd));
  } catch {
    return undefined;
  }
  if (!isStoredFields(header)) return undefined;
  const { bodyLength, ...fields } = header as StoredFields & { bodyLength?: unknown };
  if (bodyLength !== value.length - headerEnd) return undefined;
  return { ...fields, contentType: fields.contentType ?? DEFAULT_CONTENT_TYPE, headers: fields.headers ?? [], invalidatedAt, body: value.subarray(headerEnd) };
}

/** Milliseconds of freshness left at `now`; zero or less once stale (expired or soft-invalidated). */
export function freshnessLeftMs(entry: EntryHeader, now = Date.now()): number {
  if (entry.invalidatedAt > 0) return -1;
  return entry.storedAt + entry.freshTtl * 1000 - now;
}

/** Milliseconds the entry may still be served stale at `now`, a re-render running behind it. */
export function graceLeftMs(entry: EntryHeader, now = Date.now()): number {
  return entry.storedAt + (entry.freshTtl + entry.grace) * 1000 - now;
}

/** Milliseconds the entry is still kept at `now` to stand in for a failed render (its Redis key lives as long). */
export function keepLeftMs(entry: EntryHeader, now = Date.now()): number {
  return entry.storedAt + (entry.freshTtl + entry.grace + (entry.keep ?? 0)) * 1000 - now;
}

/** Seconds a stored copy is kept in Redis: fresh, then grace, then stale-if-error. */
export function lifetimeSeconds(entry: EntryHeader): number {
  return entry.freshTtl + entry.grace + (entry.keep ?? 0);
}

/** 404, 410 and permanent redirects: stored on short TTLs of their own and capped in number. */
export function isNegative(entry: Pick<EntryHeader, 'status'>): boolean {
  return entry.status !== 200;
}
