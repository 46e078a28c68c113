import { defaultFieldMapping, discoverFields, type FieldMapping, type FieldOverrides, type ListingFields, type MetadataField } from './twenty-fields';

/**
 * The listing object's names in Twenty: the plural of its REST paths (TWENTY_LISTING_OBJECT) and
 * the singular of its records and events, which is Twenty's own (`property` for `properties`),
 * never derived by rule. Set by TWENTY_LISTING_OBJECT_SINGULAR, or learnt from Twenty's metadata
 * API; until it is known, an event matches when its `objectMetadata.nameSingular` is one of the
 * plural's possible singulars. Also which of its fields hold what the pages show (the field
 * mapping: found by type in the metadata, see twenty-fields.ts), and its SELECT options' labels.
 */
export class TwentyObjectName {
  private singularName: string | undefined;
  /** SELECT and MULTI_SELECT option labels by field and value, from Twenty's metadata. */
  private labels = new Map<string, Map<string, string>>();
  private current: FieldMapping;
  private settled = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly plural: string,
    singular?: string,
    private readonly overrides: FieldOverrides = {},
  ) {
    this.singularName = singular;
    this.current = defaultFieldMapping(overrides);
  }

  get singular(): string | undefined {
    return this.singularName;
  }

  /** Which field holds what (found in the metadata, or the defaults until then). */
  get mapping(): FieldMapping {
    return this.current;
  }

  get fields(): ListingFields {
    return this.current.fields;
  }

  learn(singular: string, metadata?: Pick<ObjectMetadata, 'labels' | 'fields' | 'labelIdentifierFieldMetadataId'>): void {
    this.singularName = singular;
    if (metadata) {
      this.labels = metadata.labels;
      this.current = discoverFields(metadata.fields, this.overrides, metadata.labelIdentifierFieldMetadataId);
    }
    this.settle();
  }

  /** The metadata could not be read (this time): the defaults stay, and waiting pages go on with them. */
  gaveUp(note: string): void {
    if (this.current.from === 'defaults') this.current = defaultFieldMapping(this.overrides, note);
    this.settle();
  }

  /** Resolves once the metadata was read or given up on, or after `waitMs`: the first pages wait for the right field names. */
  whenKnown(waitMs: number): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      timer.unref();
      this.waiters.add(done);
    });
  }

  private settle(): void {
    this.settled = true;
    for (const waiter of [...this.waiters]) waiter();
  }

  /** An option's label as the workspace names it (`SEA_VIEW` -> `Ocean view`), if Twenty said. */
  labelOf(field: string, value: string): string | undefined {
    return this.labels.get(field)?.get(value);
  }

  labelledFields(): Iterable<string> {
    return this.labels.keys();
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

export interface ObjectMetadata {
  singular: string;
  /** Option labels of the object's SELECT and MULTI_SELECT fields: field -> value -> label. */
  labels: Map<string, Map<string, string>>;
  /** Its fields as the metadata API lists them (for discovery by type). */
  fields: MetadataField[];
  /** The field Twenty shows as the record's name. */
  labelIdentifierFieldMetadataId?: string;
}

function optionLabels(fields: readonly MetadataField[]): Map<string, Map<string, string>> {
  const labels = new Map<string, Map<string, string>>();
  for (const field of fields as (MetadataField & { options?: unknown })[]) {
    if (typeof field?.name !== 'string' || !Array.isArray(field.options)) continue;
    const options = new Map<string, string>();
    for (const option of field.options as { value?: unknown; label?: unknown }[]) {
      if (typeof option?.value === 'string' && typeof option.label === 'string') options.set(option.value, option.label);
    }
    if (options.size > 0) labels.set(field.name, options);
  }
  return labels;
}

/** GET a path of Twenty's REST API (the pacing client's `get`, at page priority). */
export type TwentyGet = (path: string) => Promise<Response>;

interface MetadataObject {
  namePlural?: unknown;
  nameSingular?: unknown;
  fields?: unknown;
  labelIdentifierFieldMetadataId?: unknown;
}

/** The most metadata pages read (60 objects a page: 6,000 objects). */
const MAX_METADATA_PAGES = 100;

/**
 * Asks Twenty's metadata API (`GET /rest/metadata/objects`, paged like records: 60 objects a
 * page) for the object, reading page after page until it is found or the last page is read.
 * Undefined when Twenty answers but has no such object; throws when Twenty does not answer.
 */
export async function learnObjectMetadata(get: TwentyGet, plural: string): Promise<ObjectMetadata | undefined> {
  let after: string | undefined;
  for (let page = 0; page < MAX_METADATA_PAGES; page += 1) {
    const response = await get(`metadata/objects${after ? `?starting_after=${encodeURIComponent(after)}` : ''}`);
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new Error(`Twenty's metadata API answered ${response.status}: ${text.slice(0, 200)}`);
    }
    const body = (await response.json()) as { data?: { objects?: MetadataObject[] }; pageInfo?: { hasNextPage?: unknown; endCursor?: unknown } };
    const objects = Array.isArray(body?.data?.objects) ? body.data.objects : [];
    const object = objects.find((candidate) => candidate?.namePlural === plural);
    if (object && typeof object.nameSingular === 'string') {
      const fields = Array.isArray(object.fields) ? (object.fields as MetadataField[]) : [];
      return {
        singular: object.nameSingular,
        labels: optionLabels(fields),
        fields,
        labelIdentifierFieldMetadataId: typeof object.labelIdentifierFieldMetadataId === 'string' ? object.labelIdentifierFieldMetadataId : undefined,
      };
    }
    const next = body?.pageInfo?.endCursor;
    if (body?.pageInfo?.hasNextPage !== true || typeof next !== 'string' || next === '' || objects.length === 0) return undefined;
    after = next;
  }
  return undefined;
}

interface LearnLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** What the start log and /health say about the mapping. */
export function describeMapping(object: TwentyObjectName): object {
  const { fields, from, overrides, notes } = object.mapping;
  return { object: object.plural, singular: object.singular ?? null, from, fields, overrides, notes, labelledFields: [...object.labelledFields()] };
}

export interface ObjectLearning {
  /** Read the metadata again soon (a `metadata.fieldMetadata.*` webhook): one read at a time, a last one if asked meanwhile. */
  refresh(): void;
  stop(): void;
}

/**
 * Learns the object's singular name, option labels and fields from Twenty: until it answers,
 * events match by the plural's possible singulars, SELECT values are humanised and the default
 * field names are used (pages wait for the first answer, at most `waitMs`: see `whenKnown`). A
 * rate limit or an outage is asked again with backoff, 1 s to 32 s apart, six times, then every
 * 5 minutes; an answer without the object is logged as the operator's mistake it is. Read again
 * every `refreshMs` (10 minutes) and on `refresh()`, at background priority: a field renamed or
 * added in Twenty reaches every instance, and `onChange` drops what was read with the old fields.
 */
export function learnListingObject(
  listingObject: TwentyObjectName,
  get: (path: string, priority: 'page' | 'background') => Promise<Response>,
  logger: LearnLogger,
  options: { refreshMs?: number; onChange?(): void } = {},
): ObjectLearning {
  const { refreshMs = 600_000 } = options;
  let reading = false;
  let again = false;
  let stopped = false;
  let learnt: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number, attempt: number) => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => ask(attempt), ms).unref();
  };
  const ask = (attempt: number): void => {
    if (stopped) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    const priority = learnt === undefined ? 'page' : 'background';
    learnObjectMetadata((path) => get(path, priority), listingObject.plural)
      .then(
        (metadata) => {
          if (stopped) return;
          if (!metadata) {
            listingObject.gaveUp(`Twenty has no object named "${listingObject.plural}" (TWENTY_LISTING_OBJECT): the default field names are used`);
            logger.warn({ object: listingObject.plural }, 'twenty: no such object in the metadata API; check TWENTY_LISTING_OBJECT');
            return schedule(refreshMs, 0);
          }
          listingObject.learn(listingObject.singular ?? metadata.singular, metadata);
          const now = JSON.stringify([listingObject.mapping.fields, [...metadata.labels].map(([field, labels]) => [field, [...labels]])]);
          if (now !== learnt) {
            logger.info(describeMapping(listingObject), 'twenty: listing object fields');
            if (learnt !== undefined) options.onChange?.();
            learnt = now;
          }
          schedule(refreshMs, 0);
        },
        (error: unknown) => {
          if (stopped) return;
          listingObject.gaveUp(`metadata API did not answer (${(error as Error).message}): the default field names are used meanwhile`);
          logger.warn({ err: error, object: listingObject.plural, attempt }, 'twenty: metadata API did not answer, default field names meanwhile');
          schedule(attempt < 6 ? 1000 * 2 ** attempt : 300_000, attempt + 1);
        },
      )
      .finally(() => {
        reading = false;
        if (again && !stopped) {
          again = false;
          ask(0);
        }
      });
  };
  ask(0);
  return {
    refresh: () => ask(0),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
