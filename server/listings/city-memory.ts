import type { Redis, Cluster } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { withinMs } from '../utils/deadline';
import type { Listing, ListingSource } from './listing';

/**
 * The cities each listing was read with since its last change, kept so a webhook can tell a move
 * (Twenty sends the record after the change, never the one before): the pages a listing was shown
 * on carry the city it had then. Shared by every instance in one Redis hash (no TTL, so
 * `volatile-*` eviction never drops it); each instance remembers what it wrote for a while, to
 * write each (listing, city) once, and keeps the writes Redis could not take until it can.
 *
 * An entry is known to be complete when a webhook's reset wrote it (every read adds to it after),
 * or when the hash is older than any stored page (`longestPageMs`, and the time an instance trusts
 * its own writes): then every page alive was rendered while the hash recorded its reads. Otherwise (a new or lost hash) it may lack a city
 * an older page shows, and counts as unknown: the change then reaches every list. Unknown is
 * always the wider invalidation, never a narrower one.
 */
export interface CityMemory {
  /** Listings read from the CRM: their cities are where pages may now show them. */
  saw(listings: readonly Listing[]): void;
  /** The cities (as shown) pages may show the listing under; undefined when not known for sure. */
  recall(id: string): Promise<string[] | undefined>;
  /** After a change was applied: from now on pages show it under `city` only (none: deleted). */
  reset(id: string, city: string | undefined): Promise<void>;
  /** Another instance's change reached this one: what this one wrote is no longer known to be in Redis. */
  forget(id?: string): void;
}

export interface CityMemoryOptions {
  redis?: Redis | Cluster;
  key: string;
  /** The longest a stored page lives (fresh, grace and stale-if-error): a hash older than that (and WRITTEN_TTL_MS) has seen every page alive rendered. */
  longestPageMs: number;
  /** Bound on each Redis call (default 250 ms). */
  timeoutMs?: number;
  onError?(error: unknown): void;
}

/** Cities of one listing as a hash value: a mark, then newline-separated cities (a city has no newline: cards show it on one line). */
const SEPARATOR = '\n';
/** Written by a webhook's reset: holds every city since. */
const COMPLETE = '!';
/** Made by a read: may miss a city pages showed before the entry was made, unless the hash is old enough. */
const PARTIAL = '?';
/** The hash field holding when the hash was made (Redis's clock, ms). */
const SINCE = '~since';
/** A listing shown under more cities than this (a CRM renaming it back and forth) is treated as unknown: a wide invalidation. */
const MAX_CITIES = 8;
/** How long an instance trusts that what it wrote is still in the hash (then it writes again when it reads the listing). */
const WRITTEN_TTL_MS = 10 * 60_000;
/** Writes kept while Redis cannot take them. */
const MAX_PENDING = 10_000;

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[1], '${SINCE}', now)`;
// KEYS[1] hash; ARGV[1] id; ARGV[2] city: adds it to the listing's cities (a new entry is partial).
const ADD_CITY = `${NOW_MS}
local known = redis.call('HGET', KEYS[1], ARGV[1])
if not known then return redis.call('HSET', KEYS[1], ARGV[1], '${PARTIAL}' .. ARGV[2]) end
local cities = string.sub(known, 2)
for city in string.gmatch(cities, '[^\\n]+') do if city == ARGV[2] then return 0 end end
if cities == '' then return redis.call('HSET', KEYS[1], ARGV[1], known .. ARGV[2]) end
return redis.call('HSET', KEYS[1], ARGV[1], known .. '\\n' .. ARGV[2])
`;
// KEYS[1] hash; ARGV[1] id; ARGV[2] city ('' = deleted): the entry is that city alone, complete.
const RESET_CITY = `${NOW_MS}
if ARGV[2] == '' then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return redis.call('HSET', KEYS[1], ARGV[1], '${COMPLETE}' .. ARGV[2])
`;
// KEYS[1] hash; ARGV[1] id: the entry, and how old the hash is (ms; -1: no hash).
const RECALL_CITIES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local found = redis.call('HMGET', KEYS[1], ARGV[1], '${SINCE}')
local age = -1
if found[2] then age = now - tonumber(found[2]) end
return { found[1] or '', age }
`;

type Scripted = (Redis | Cluster) & {
  ssrAddCity(key: string, id: string, city: string): Promise<number>;
  ssrResetCity(key: string, id: string, city: string): Promise<number>;
  ssrRecallCities(key: string, id: string): Promise<[string, number]>;
};

const clean = (city: string) => city.trim();

export function createCityMemory(options: CityMemoryOptions): CityMemory {
  const { key, timeoutMs = 250 } = options;
  const trustAfterMs = options.longestPageMs + WRITTEN_TTL_MS;
  const redis = options.redis as Scripted | undefined;
  if (redis && typeof redis.ssrAddCity !== 'function') {
    redis.defineCommand('ssrAddCity', { numberOfKeys: 1, lua: ADD_CITY });
    redis.defineCommand('ssrResetCity', { numberOfKeys: 1, lua: RESET_CITY });
    redis.defineCommand('ssrRecallCities', { numberOfKeys: 1, lua: RECALL_CITIES });
  }
  /** With Redis: what this instance wrote there lately. Without (tests): all it knows, complete. */
  const written = new LRUCache<string, Set<string>>({ max: 100_000, ...(redis ? { ttl: WRITTEN_TTL_MS } : {}) });
  /** Reads Redis could not record yet: written as soon as it answers. */
  let pending: [string, string][] = [];
  const usable = () => redis !== undefined && redis.status === 'ready';

  const write = (id: string, city: string) => {
    const cities = written.get(id) ?? new Set<string>();
    cities.add(city);
    written.set(id, cities);
    redis!.ssrAddCity(key, id, city).catch((error: unknown) => {
      written.get(id)?.delete(city);
      if (pending.length < MAX_PENDING) pending.push([id, city]);
      options.onError?.(error);
    });
  };
  const flush = () => {
    if (pending.length === 0 || !usable()) return;
    const queued = pending;
    pending = [];
    for (const [id, city] of queued) write(id, city);
  };

  return {
    saw(listings) {
      flush();
      for (const listing of listings) {
        const city = clean(listing.city);
        if (city === '' || city.includes(SEPARATOR) || written.get(listing.id)?.has(city)) continue;
        if (redis === undefined) written.set(listing.id, new Set([...(written.get(listing.id) ?? []), city]));
        else if (usable()) write(listing.id, city);
        else if (pending.length < MAX_PENDING) pending.push([listing.id, city]);
      }
    },

    async recall(id) {
      if (redis === undefined) {
        const known = written.get(id);
        return known && known.size > 0 ? [...known] : undefined;
      }
      // A read not yet recorded: the entry may lack its city.
      if (!usable() || pending.some(([pendingId]) => pendingId === id)) return undefined;
      try {
        const [entry, age] = await withinMs(redis.ssrRecallCities(key, id), timeoutMs, 'city memory: Redis');
        const complete = entry.startsWith(COMPLETE) || (entry.startsWith(PARTIAL) && age >= trustAfterMs);
        const cities = entry.slice(1).split(SEPARATOR).filter(Boolean);
        return complete && cities.length > 0 && cities.length <= MAX_CITIES ? cities : undefined;
      } catch (error) {
        options.onError?.(error);
        return undefined;
      }
    },

    async reset(id, city) {
      const after = city === undefined ? '' : clean(city);
      written.delete(id);
      if (redis === undefined) {
        if (after !== '') written.set(id, new Set([after]));
        return;
      }
      if (!usable()) return;
      try {
        await withinMs(redis.ssrResetCity(key, id, after), timeoutMs, 'city memory: Redis');
        if (after !== '') written.set(id, new Set([after]));
      } catch (error) {
        // The entry may still hold the cities from before: a superset, never too little.
        options.onError?.(error);
      }
    },

    forget(id) {
      if (id === undefined) written.clear();
      else written.delete(id);
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
