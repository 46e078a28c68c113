import type { BodyEncoding, CacheEntry } from './cache-entry';
import { brotliSync, decodeBodySync, gzipSync } from './content-encoding';

/** One representation of a cached page, with the headers of a hit computed once. */
export interface PageVariant {
  body: Buffer;
  etag: string;
  /** Flat [name, value, ...] list for res.writeHead; per-request headers are appended. */
  headers: readonly (string | number | string[])[];
}

const ETAG_SUFFIX: Record<BodyEncoding, string> = { identity: '', br: '-br', gzip: '-gz' };

/** A strong ETag names one representation: the identity tag with the coding appended. */
function variantEtag(identityEtag: string, encoding: BodyEncoding): string {
  return ETAG_SUFFIX[encoding] === '' ? identityEtag : `${identityEtag.slice(0, -1)}${ETAG_SUFFIX[encoding]}"`;
}

/** The entity-tags of an If-None-Match list (RFC 9110 8.8.3), weak or strong; a comma may sit inside the quotes. */
const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;

/**
 * When a page last changed, epoch ms: the date its entry carries (kept from the entry it
 * replaced), else the route's own Last-Modified (never after the render, RFC 9110 8.8.2.1), else
 * the render time.
 */
export function lastModifiedOf(entry: CacheEntry): number {
  if (entry.lastModified !== undefined) return entry.lastModified;
  const own = entry.headers.find(([name]) => name === 'last-modified')?.[1];
  const ownMs = own === undefined ? Number.NaN : Date.parse(own);
  return Number.isNaN(ownMs) ? entry.storedAt : Math.min(ownMs, entry.storedAt);
}

/**
 * A decoded entry ready to deliver: the stored representation at once, the others (identity
 * for clients that accept no compression, gzip for those without brotli) derived on first
 * use and kept, so a hit never re-compresses, re-hashes or re-serialises.
 */
export class PreparedPage {
  private readonly variants = new Map<BodyEncoding, PageVariant>();
  private readonly etags: Readonly<Record<BodyEncoding, string>>;
  /** The same tags marked weak (`W/"x"`), which If-None-Match may send. */
  private readonly weakEtags: Readonly<Record<BodyEncoding, string>>;
  /** The page's Last-Modified, as sent and as epoch ms (see lastModifiedOf). */
  readonly lastModified: string;
  readonly lastModifiedMs: number;

  constructor(readonly entry: CacheEntry) {
    this.lastModifiedMs = lastModifiedOf(entry);
    this.lastModified = new Date(this.lastModifiedMs).toUTCString();
    this.etags = { identity: variantEtag(entry.etag, 'identity'), br: variantEtag(entry.etag, 'br'), gzip: variantEtag(entry.etag, 'gzip') };
    this.weakEtags = { identity: `W/${this.etags.identity}`, br: `W/${this.etags.br}`, gzip: `W/${this.etags.gzip}` };
    this.variants.set(entry.encoding, this.buildVariant(entry.encoding, entry.body));
  }

  /** If-Modified-Since (epoch ms of an HTTP-date): not modified when the page is no newer than it (HTTP dates have whole seconds). */
  notModifiedSince(since: number): boolean {
    return Math.floor(this.lastModifiedMs / 1000) * 1000 <= since;
  }

  /** Bytes held, for the in-process tier's size bound. */
  get byteSize(): number {
    let size = 512 + this.entry.contentType.length;
    for (const variant of this.variants.values()) size += variant.body.length + 64;
    return size;
  }

  variant(encoding: BodyEncoding): PageVariant {
    let variant = this.variants.get(encoding);
    if (!variant) {
      const identity = this.variants.get('identity')?.body ?? decodeBodySync(this.entry.body, this.entry.encoding);
      this.variants.set('identity', this.buildVariant('identity', identity));
      if (encoding === 'gzip') this.variants.set('gzip', this.buildVariant('gzip', gzipSync(identity)));
      if (encoding === 'br') this.variants.set('br', this.buildVariant('br', brotliSync(identity)));
      variant = this.variants.get(encoding) as PageVariant;
    }
    return variant;
  }

  hasVariant(encoding: BodyEncoding): boolean {
    return this.variants.has(encoding);
  }

  /**
   * If-None-Match (RFC 9110 13.1.2): `*`, or the tag of the representation this request gets,
   * by the weak comparison (`W/"x"` matches `"x"`). Another coding's tag names other bytes.
   */
  matchesIfNoneMatch(header: string, encoding: BodyEncoding): boolean {
    if (header.trim() === '*') return true;
    const etag = this.etags[encoding];
    const weak = this.weakEtags[encoding];
    for (const [candidate] of header.matchAll(ENTITY_TAG)) if (candidate === etag || candidate === weak) return true;
    return false;
  }

  private buildVariant(encoding: BodyEncoding, body: Buffer): PageVariant {
    const etag = this.etags[encoding];
    const headers: (string | number | string[])[] = [];
    // A header sent more than once (Link, say) goes as one list: writeHead keeps one value per name.
    const values = new Map<string, string[]>();
    for (const [name, value] of this.entry.headers) values.set(name, [...(values.get(name) ?? []), value]);
    values.delete('last-modified');
    for (const [name, list] of values) headers.push(name, list.length === 1 ? (list[0] as string) : list);
    headers.push(
      'Last-Modified',
      this.lastModified,
      'Content-Type',
      this.entry.contentType,
      'Content-Length',
      body.length,
      'ETag',
      etag,
      'Vary',
      'Accept-Encoding',
    );
    if (encoding !== 'identity') headers.push('Content-Encoding', encoding);
    return { body, etag, headers };
  }
}
