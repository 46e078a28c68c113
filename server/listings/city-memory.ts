import type { Redis, Cluster } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Listing, ListingSource } from './listing';

/**
 * The cities each listing was read with since its last change, kept so a webhook can tell a move
 * (Twenty sends the record after the change, never the one before): the pages a listing was shown
 * on carry the city it had then. Shared by every instance in one Redis hash (no TTL, so
 * `volatile-*` eviction never drops it); this instance remembers what it wrote, to write each
 * (listing, city) once. When neither knows, the change is treated as a move from anywhere.
 */
export interface CityMemory {
  /** Listings read from the CRM: their cities are where pages may now show them. */
  saw(listings: readonly Listing[]): void;
  /**
   * The cities pages may show the listing under (lower case), and from now on only `city` (its
   * city after the change; none: deleted). Undefined when nothing is known.
   */
  recallAndReset(id: string, city: string | undefined): Promise<string[] | undefined>;
  /** Another instance's change reached this one: what it wrote about the listing is no longer known to be in Redis. */
  forget(id?: string): void;
}

/** Cities of one listing as a hash value: newline separated (a city has no newline: cards show it on one line). */
const SEPARATOR = '\n';
/** A listing shown under more cities than this (a CRM renaming it back and forth) is treated as unknown: a wide invalidation. */
const MAX_CITIES = 8;

// KEYS[1] hash; ARGV[1] id; ARGV[2] city: adds it to the listing's cities.
const ADD_CITY = `
local known = redis.call('HGET', KEYS[1], ARGV[1])
if not known then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
for city in string.gmatch(known, '[^\\n]+') do if city == ARGV[2] then return 0 end end
return redis.call('HSET', KEYS[1], ARGV[1], known .. '\\n' .. ARGV[2])
`;
// KEYS[1] hash; ARGV[1] id; ARGV[2] the city after the change ('' = none): returns what was known, keeps only it.
const RECALL_AND_RESET = `
local known = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return known
`;

type Scripted = (Redis | Cluster) & {
  ssrAddCity(key: string, id: string, city: string): Promise<number>;
  ssrRecallCities(key: string, id: string, city: string): Promise<string | null>;
};

const lower = (city: string) => city.trim().toLowerCase();

export function createCityMemory(options: { redis?: Redis | Cluster; key: string; timeoutMs?: number; onError?(error: unknown): void }): CityMemory {
  const { key, timeoutMs = 250 } = options;
  const redis = options.redis as Scripted | undefined;
  if (redis && typeof redis.ssrAddCity !== 'function') {
    redis.defineCommand('ssrAddCity', { numberOfKeys: 1, lua: ADD_CITY });
    redis.defineCommand('ssrRecallCities', { numberOfKeys: 1, lua: RECALL_AND_RESET });
  }
  /** What this instance wrote to Redis (or, while Redis is away, all it knows). */
  const local = new LRUCache<string, Set<string>>({ max: 100_000 });
  const bounded = <T>(promise: Promise<T>): Promise<T> =>
    Promise.race([promise, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error('city memory: Redis did not answer')), timeoutMs).unref())]);
  const usable = () => redis !== undefined && redis.status === 'ready';

  return {
    saw(listings) {
      for (const listing of listings) {
        const city = lower(listing.city);
        if (city === '' || city.includes(SEPARATOR)) continue;
        const cities = local.get(listing.id) ?? new Set<string>();
        if (cities.has(city)) continue;
        cities.add(city);
        local.set(listing.id, cities);
        if (usable()) {
          redis!.ssrAddCity(key, listing.id, city).catch((error: unknown) => {
            // Not known to be in Redis: written again next time.
            local.get(listing.id)?.delete(city);
            options.onError?.(error);
          });
        }
      }
    },

    async recallAndReset(id, city) {
      const after = city === undefined ? '' : lower(city);
      const known = new Set(local.get(id) ?? []);
      let answered = redis === undefined;
      if (usable()) {
        try {
          const fromRedis = await bounded(redis!.ssrRecallCities(key, id, after));
          for (const name of fromRedis?.split(SEPARATOR) ?? []) if (name !== '') known.add(name);
          answered = true;
        } catch (error) {
          options.onError?.(error);
        }
      }
      // Kept here as written to Redis only when it was: else the next read writes it there.
      if (after === '' || !answered) local.delete(id);
      else local.set(id, new Set([after]));
      // Another instance may have shown it elsewhere: without Redis's word, unknown.
      if (!answered || known.size === 0 || known.size > MAX_CITIES) return undefined;
      return [...known];
    },

    forget(id) {
      if (id === undefined) local.clear();
      else local.delete(id);
    },
  };
}

/** The source with every listing it gives reported to the memory (the cities pages show them under). */
export function withCityMemory<S extends ListingSource>(source: S, memory: CityMemory): S {
  const seen = <T extends Listing | undefined>(listing: T): T => {
    if (listing) memory.saw([listing]);
    return listing;
  };
  return {
    ...source,
    getListing: async (id) => seen(await source.getListing(id)),
    listListings: async (query) => {
      const page = await source.listListings(query);
      memory.saw(page.items);
      return page;
    },
    listFeatured: async (limit) => {
      const items = await source.listFeatured(limit);
      memory.saw(items);
      return items;
    },
    forget: (id?: string) => {
      memory.forget(id);
      source.forget?.(id);
    },
  };
}
