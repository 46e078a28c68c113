import type { ListingSourceConfig } from '../config';
import { createEmbeddedCatalog } from './embedded-catalog';
import type { ListingSource } from './listing';
import { withListingCache } from './listing-cache';
import { createTwentySource } from './twenty-source';

export function createListingSource(config: ListingSourceConfig): ListingSource {
  if (config.kind === 'embedded') return createEmbeddedCatalog(config.catalogSize);
  const twenty = createTwentySource({
    apiUrl: config.apiUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    objectNamePlural: config.objectNamePlural,
    objectNameSingular: config.objectNameSingular,
    cityField: config.cityField,
    priceField: config.priceField,
  });
  return config.dataCacheSeconds > 0 ? withListingCache(twenty, { ttlMs: config.dataCacheSeconds * 1000 }) : twenty;
}
