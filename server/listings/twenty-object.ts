/**
 * The listing object's names in Twenty: the plural of its REST paths (TWENTY_LISTING_OBJECT) and
 * the singular of its records and events, which is Twenty's own (`property` for `properties`),
 * never derived by rule. Set by TWENTY_LISTING_OBJECT_SINGULAR, or learnt from Twenty's metadata
 * API; until it is known, an event matches when its `objectMetadata.nameSingular` is one of the
 * plural's possible singulars.
 */
export class TwentyObjectName {
  private singularName: string | undefined;

  constructor(
    readonly plural: string,
    singular?: string,
  ) {
    this.singularName = singular;
  }

  get singular(): string | undefined {
    return this.singularName;
  }

  learn(singular: string): void {
    this.singularName = singular;
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

/** Asks Twenty's metadata API (`GET /rest/metadata/objects`) for the object's singular name. */
export async function learnSingularName(options: { apiUrl: string; apiKey: string; timeoutMs: number; plural: string }): Promise<string | undefined> {
  const response = await fetch(`${options.apiUrl}/rest/metadata/objects`, {
    headers: { Authorization: `Bearer ${options.apiKey}`, Accept: 'application/json' },
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  if (!response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  const body = (await response.json()) as { data?: { objects?: { namePlural?: unknown; nameSingular?: unknown }[] } };
  const object = body?.data?.objects?.find((candidate) => candidate?.namePlural === options.plural);
  return typeof object?.nameSingular === 'string' ? object.nameSingular : undefined;
}
