import type { ListingSourceConfig } from '../config';
import { createEmbeddedCatalog } from './embedded-catalog';
import type { ListingSource } from './listing';
import { withListingCache } from './listing-cache';
import type { TwentyClient } from './twenty-client';
import type { TwentyObjectName } from './twenty-object';
import { currentTwentyPriority } from './twenty-priority';
import { createTwentySource } from './twenty-source';

export interface TwentyParts {
  /** The listing object's names, field mapping and option labels as Twenty tells them. */
  object: TwentyObjectName;
  /** The instance's one paced client to Twenty. */
  client: TwentyClient;
}

export function createListingSource(config: ListingSourceConfig, twenty?: TwentyParts): ListingSource {
  if (config.kind === 'embedded') return createEmbeddedCatalog(config.catalogSize);
  if (!twenty) throw new Error('createListingSource: a Twenty source needs its object and client');
  const source = createTwentySource({
    client: twenty.client,
    timeoutMs: config.timeoutMs,
    objectNamePlural: config.objectNamePlural,
    objectNameSingular: config.objectNameSingular,
    object: twenty.object,
    priority: currentTwentyPriority,
  });
  return config.dataCacheSeconds > 0 ? withListingCache(source, { ttlMs: config.dataCacheSeconds * 1000 }) : source;
}
