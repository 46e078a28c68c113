/**
 * The listing object's names in Twenty: the plural of its REST paths (TWENTY_LISTING_OBJECT) and
 * the singular of its records and events, which is Twenty's own (`property` for `properties`),
 * never derived by rule. Set by TWENTY_LISTING_OBJECT_SINGULAR, or learnt from Twenty's metadata
 * API; until it is known, an event matches when its `objectMetadata.nameSingular` is one of the
 * plural's possible singulars.
 */
export class TwentyObjectName {
  private singularName: string | undefined;
  /** SELECT and MULTI_SELECT option labels by field and value, from Twenty's metadata. */
  private labels = new Map<string, Map<string, string>>();

  constructor(
    readonly plural: string,
    singular?: string,
  ) {
    this.singularName = singular;
  }

  get singular(): string | undefined {
    return this.singularName;
  }

  learn(singular: string, labels?: Map<string, Map<string, string>>): void {
    this.singularName = singular;
    if (labels) this.labels = labels;
  }

  /** An option's label as the workspace names it (`SEA_VIEW` -> `Ocean view`), if Twenty said. */
  labelOf(field: string, value: string): string | undefined {
    return this.labels.get(field)?.get(value);
  }

  /** Whether an event's object (its nameSingular, or the first part of its eventName) is the listing object. */
  matches(nameSingular: string): boolean {
    return this.singularName !== undefined ? nameSingular === this.singularName : singularCandidates(this.plural).includes(nameSingular);
  }

  describe(): string {
    return this.singularName ?? `a singular of "${this.plural}"`;
  }
}

/** The singulars an English plural may have (listings, properties, addresses, ...); only used until Twenty says. */
export function singularCandidates(plural: string): string[] {
  const candidates = new Set([plural]);
  if (plural.endsWith('ies')) candidates.add(`${plural.slice(0, -3)}y`);
  if (plural.endsWith('es')) candidates.add(plural.slice(0, -2));
  if (plural.endsWith('s')) candidates.add(plural.slice(0, -1));
  return [...candidates];
}

interface MetadataField {
  name?: unknown;
  options?: unknown;
}

export interface ObjectMetadata {
  singular: string;
  /** Option labels of the object's SELECT and MULTI_SELECT fields: field -> value -> label. */
  labels: Map<string, Map<string, string>>;
}

function optionLabels(fields: unknown): Map<string, Map<string, string>> {
  const labels = new Map<string, Map<string, string>>();
  for (const field of Array.isArray(fields) ? (fields as MetadataField[]) : []) {
    if (typeof field?.name !== 'string' || !Array.isArray(field.options)) continue;
    const options = new Map<string, string>();
    for (const option of field.options as { value?: unknown; label?: unknown }[]) {
      if (typeof option?.value === 'string' && typeof option.label === 'string') options.set(option.value, option.label);
    }
    if (options.size > 0) labels.set(field.name, options);
  }
  return labels;
}

/** Asks Twenty's metadata API (`GET /rest/metadata/objects`) for the object's singular name and its options' labels. */
export async function learnObjectMetadata(options: { apiUrl: string; apiKey: string; timeoutMs: number; plural: string }): Promise<ObjectMetadata | undefined> {
  const response = await fetch(`${options.apiUrl}/rest/metadata/objects`, {
    headers: { Authorization: `Bearer ${options.apiKey}`, Accept: 'application/json' },
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  if (!response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  const body = (await response.json()) as { data?: { objects?: { namePlural?: unknown; nameSingular?: unknown; fields?: unknown }[] } };
  const object = body?.data?.objects?.find((candidate) => candidate?.namePlural === options.plural);
  if (typeof object?.nameSingular !== 'string') return undefined;
  return { singular: object.nameSingular, labels: optionLabels(object.fields) };
}

/**
 * Learns the object's singular name and option labels from Twenty in the background: until it
 * answers, events match by the plural's possible singulars and SELECT values are humanised. A
 * rate limit or an outage at start is asked again with backoff, at most 6 times, 1 s to 32 s apart.
 */
export function learnListingObject(
  listingObject: TwentyObjectName,
  source: { apiUrl: string; apiKey: string; timeoutMs: number },
  logger: { info(fields: object, message: string): void; warn(fields: object, message: string): void },
): void {
  const ask = (attempt: number): void => {
    learnObjectMetadata({ ...source, plural: listingObject.plural }).then(
      (metadata) => {
        if (metadata) listingObject.learn(listingObject.singular ?? metadata.singular, metadata.labels);
        else if (attempt < 5) return retry(attempt);
        logger.info(
          { object: listingObject.plural, singular: listingObject.singular ?? null, labelledFields: metadata ? [...metadata.labels.keys()] : [] },
          'twenty: listing object metadata',
        );
      },
      (error: unknown) => {
        logger.warn({ err: error, object: listingObject.plural, attempt }, 'twenty: metadata API did not answer, events match by plural meanwhile');
        if (attempt < 5) retry(attempt);
      },
    );
  };
  const retry = (attempt: number) => setTimeout(() => ask(attempt + 1), 1000 * 2 ** attempt).unref();
  ask(0);
}
