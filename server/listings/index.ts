import type { ListingSourceConfig } from '../config';
import { createEmbeddedCatalog } from './embedded-catalog';
import type { ListingSource } from './listing';
import { createTwentySource } from './twenty-source';

export function createListingSource(config: ListingSourceConfig): ListingSource {
  if (config.kind === 'embedded') return createEmbeddedCatalog(config.catalogSize);
  return createTwentySource({
    apiUrl: config.apiUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    objectNamePlural: config.objectNamePlural,
    objectNameSingular: config.objectNameSingular,
    cityField: config.cityField,
    priceField: config.priceField,
  });
}
