import { LRUCache } from 'lru-cache';
import type { Listing, ListingPage, ListingQuery, ListingSource } from './listing';

export interface ListingCacheOptions {
  /** How long a record or a list answer is reused (TWENTY_DATA_CACHE_SECONDS); webhooks forget them at once. */
  ttlMs: number;
  maxRecords?: number;
  maxLists?: number;
}

const listKey = ({ page, pageSize, sort, city }: ListingQuery) => `${sort}|${city ?? ''}|${pageSize}|${page}`;

/**
 * Listing data shared by the pages that render it, so a crawl costs few calls to a rate-limited
 * CRM: every record a list answer brings serves its detail page, and list answers (a city's
 * "more homes" section, a browse page) serve every page that asks the same. A change the CRM
 * reports (`forget`) drops the record and every list, before the pages are invalidated.
 */
export function withListingCache(source: ListingSource, options: ListingCacheOptions): ListingSource & { forget(id?: string): void } {
  const records = new LRUCache<string, Listing>({ max: options.maxRecords ?? 50_000, ttl: options.ttlMs });
  const lists = new LRUCache<string, ListingPage>({ max: options.maxLists ?? 5_000, ttl: options.ttlMs });
  const featured = new LRUCache<number, Listing[]>({ max: 10, ttl: options.ttlMs });
  // A read that began before a change was reported may bring the old data: it is not kept.
  let generation = 0;
  const learn = (items: readonly Listing[], since: number) => {
    if (since !== generation) return;
    for (const item of items) records.set(item.id, item);
  };

  return {
    async getListing(id) {
      const known = records.get(id);
      if (known) return known;
      const since = generation;
      const listing = await source.getListing(id);
      if (listing) learn([listing], since);
      return listing;
    },

    async listListings(query) {
      const key = listKey(query);
      const known = lists.get(key);
      if (known) return known;
      const since = generation;
      const page = await source.listListings(query);
      if (since === generation) lists.set(key, page);
      learn(page.items, since);
      return page;
    },

    async listFeatured(limit) {
      const known = featured.get(limit);
      if (known) return known;
      const since = generation;
      const items = await source.listFeatured(limit);
      if (since === generation) featured.set(limit, items);
      learn(items, since);
      return items;
    },

    eachBatch: source.eachBatch
      ? async function* eachBatch() {
          const since = generation;
          for await (const batch of source.eachBatch!()) {
            learn(batch, since);
            yield batch;
          }
        }
      : undefined,

    forget(id) {
      generation += 1;
      if (id === undefined) records.clear();
      else records.delete(id);
      // Any list may hold the record, at any position: they all go, and the cursors with them.
      lists.clear();
      featured.clear();
      source.forget?.(id);
    },
  };
}
