import type { ListingSourceConfig } from '../config';
import { createEmbeddedCatalog } from './embedded-catalog';
import type { ListingSource } from './listing';
import { withListingCache } from './listing-cache';
import type { TwentyObjectName } from './twenty-object';
import { createTwentySource } from './twenty-source';

/** `object`: the listing object's names and option labels as Twenty tells them (labels shown for SELECT values). */
export function createListingSource(config: ListingSourceConfig, object?: TwentyObjectName): ListingSource {
  if (config.kind === 'embedded') return createEmbeddedCatalog(config.catalogSize);
  const twenty = createTwentySource({
    apiUrl: config.apiUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    objectNamePlural: config.objectNamePlural,
    objectNameSingular: config.objectNameSingular,
    cityField: config.cityField,
    priceField: config.priceField,
    labelOf: object ? (field, value) => object.labelOf(field, value) : undefined,
  });
  return config.dataCacheSeconds > 0 ? withListingCache(twenty, { ttlMs: config.dataCacheSeconds * 1000 }) : twenty;
}
