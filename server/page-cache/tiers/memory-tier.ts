import { LRUCache } from 'lru-cache';
import { freshnessLeftMs } from '../entry/cache-entry';
import type { PreparedPage } from '../entry/prepared-page';

/** Turns a Redis glob (`*`, `?`, `[...]`, `\` escapes) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let index = 0; index < glob.length; index += 1) {
    const char = glob[index] as string;
    if (char === '\\' && index + 1 < glob.length) {
      index += 1;
      source += (glob[index] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '[') {
      const end = glob.indexOf(']', index + 1);
      if (end === -1) source += '\\[';
      else {
        const body = glob.slice(index + 1, end).replace(/\\/g, '\\\\');
        source += body.startsWith('^') ? `[^${body.slice(1)}]` : `[${body}]`;
        index = end;
      }
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * The in-process tier: decoded, prepared pages in an LRU bounded by bytes, each kept no longer
 * than its remaining freshness. A hit here costs no Redis round trip.
 */
export class MemoryTier {
  private readonly lru: LRUCache<string, PreparedPage>;
  /** tag -> keys held here, kept in step with the LRU (sets, deletes, evictions, expiries). */
  private readonly keysByTag = new Map<string, Set<string>>();

  constructor(maxBytes: number) {
    this.lru = new LRUCache<string, PreparedPage>({
      maxSize: maxBytes,
      sizeCalculation: (page) => page.byteSize,
      ttlAutopurge: false,
      dispose: (page, key) => this.unindex(key, page),
    });
  }

  private unindex(key: string, page: PreparedPage): void {
    for (const tag of page.entry.tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
  }

  get(key: string): PreparedPage | undefined {
    return this.lru.get(key);
  }

  /** Keeps the page while it is fresh; a stale or oversized page is not kept. */
  set(key: string, page: PreparedPage): void {
    const ttl = freshnessLeftMs(page.entry);
    if (ttl <= 0) {
      this.lru.delete(key);
      return;
    }
    this.lru.set(key, page, { ttl });
    if (this.lru.get(key) !== page) return;
    for (const tag of page.entry.tags) {
      let keys = this.keysByTag.get(tag);
      if (!keys) this.keysByTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Drops every page carrying any of the tags; costs as many pages as carry them. */
  deleteTags(tags: readonly string[]): number {
    const keys = new Set<string>();
    for (const tag of tags) for (const key of this.keysByTag.get(tag) ?? []) keys.add(key);
    return this.delete([...keys]);
  }

  delete(keys: readonly string[]): number {
    let deleted = 0;
    for (const key of keys) if (this.lru.delete(key)) deleted += 1;
    return deleted;
  }

  deletePattern(pattern: string): number {
    const matcher = globToRegExp(pattern);
    const matching = [...this.lru.keys()].filter((key) => matcher.test(key));
    return this.delete(matching);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
