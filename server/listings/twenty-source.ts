import { LRUCache } from 'lru-cache';
import { ListingSourceError, type Listing, type ListingSort, type ListingSource } from './listing';
import { sourceError, type TwentyClient, type TwentyPriority } from './twenty-client';
import { DEFAULT_LISTING_FIELDS, type ListingFields } from './twenty-fields';
import type { TwentyObjectName } from './twenty-object';

export interface TwentySourceOptions {
  /** The instance's one client to Twenty (paced by its token bucket). */
  client: Pick<TwentyClient, 'get'>;
  /** How long the first pages wait for the field mapping (Twenty's metadata) before using the defaults. */
  timeoutMs: number;
  /** Plural API name of the listing object, e.g. `listings`. */
  objectNamePlural: string;
  /** Its singular name, which keys the one-record answer, e.g. `listing` (absent: the answer's only key). */
  objectNameSingular?: string;
  /** Browse pages deeper than this answer as empty (404) instead of walking that many cursors. */
  maxPage?: number;
  /**
   * Which fields hold what (found by type in Twenty's metadata, TWENTY_CITY_FIELD and
   * TWENTY_PRICE_FIELD overriding) and the SELECT options' labels. Absent: the default names.
   */
  object?: Pick<TwentyObjectName, 'fields' | 'labelOf' | 'whenKnown'>;
  /** Whose call this is: a page a visitor or crawler waits for, or a background walk/refresh. */
  priority?: () => TwentyPriority;
}

export type OptionLabel = (field: string, value: string) => string;

type TwentyRecord = Record<string, unknown>;

/** The most records a list call asks for: current Twenty's clamp (older ones clamp to 60, and the cursor walk does not care). */
const TWENTY_PAGE_LIMIT = 200;

/** The path to sort and filter prices by: a Currency field's amount, or a Number field. */
function pricePath(fields: ListingFields): string {
  return fields.priceKind === 'currency' ? `${fields.price}.amountMicros` : fields.price;
}

function orderBy(sort: ListingSort, fields: ListingFields): string {
  if (sort === 'newest') return 'createdAt[DescNullsLast]';
  return `${pricePath(fields)}[${sort === 'price_asc' ? 'AscNullsLast' : 'DescNullsLast'}]`;
}

/** `ilike` matches `%` and `_` as wildcards: a city is matched as itself. */
function ilikeLiteral(value: string): string {
  return value.replace(/[\\%_]/g, '\\$&');
}

/** A value at a dotted path of a record (`address.addressCity`). */
function at(record: TwentyRecord, path: string): unknown {
  let value: unknown = record;
  for (const part of path.split('.')) value = value && typeof value === 'object' ? (value as TwentyRecord)[part] : undefined;
  return value;
}

/** `APARTMENT` -> `Apartment`, `SEA_VIEW` -> `Sea view`: a SELECT value as a label, when Twenty's labels are not at hand. */
export function humanise(value: string): string {
  if (!/^[A-Z0-9_]+$/.test(value)) return value;
  const words = value.toLowerCase().split('_').filter(Boolean).join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function text(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object') return richText(value as TwentyRecord) || fallback;
  return fallback;
}

interface BlockNoteBlock {
  content?: unknown;
  children?: unknown;
}

/** The text of BlockNote blocks, a paragraph each (inline styles and links kept as their text). */
function blockText(blocks: unknown): string[] {
  if (!Array.isArray(blocks)) return [];
  return blocks.flatMap((block: BlockNoteBlock) => {
    const inline = Array.isArray(block?.content) ? block.content : [];
    const own = inline
      .map((item: { text?: unknown; content?: unknown }) =>
        typeof item?.text === 'string'
          ? item.text
          : Array.isArray(item?.content)
            ? item.content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join('')
            : '',
      )
      .join('');
    return [own, ...blockText(block?.children)].filter((line) => line.trim() !== '');
  });
}

/** Markdown without its markers: headings, emphasis, code, list bullets, links as their text. */
function markdownText(markdown: string): string {
  return markdown
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+\.\s+)/gm, '')
    .replace(/(\*\*|__|~~|`)(.+?)\1/g, '$2')
    .replace(/(^|[^\w*])[*_]([^*_\s][^*_]*?)[*_](?=[^\w*]|$)/g, '$1$2')
    .trim();
}

/**
 * A RICH_TEXT field (`{blocknote, markdown}`; RICH_TEXT_V2 in some versions) as plain text, paragraphs separated by blank
 * lines: BlockNote's blocks when present, else the markdown without its markers. The page
 * escapes it like any text, so no markup or script from the CRM reaches the HTML.
 */
function richText(value: TwentyRecord): string {
  if (typeof value.blocknote === 'string' && value.blocknote.trim() !== '') {
    try {
      const paragraphs = blockText(JSON.parse(value.blocknote));
      if (paragraphs.length > 0) return paragraphs.join('\n\n');
    } catch {
      // not JSON: the markdown rendering below
    }
  }
  return typeof value.markdown === 'string' ? markdownText(value.markdown) : '';
}

/** A number, or null when the field is empty (null, absent, blank) or not a number. */
function optionalNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

/**
 * A Currency field is `{amountMicros, currencyCode}`; a Number field is the amount itself. An
 * empty amount (`amountMicros: null`) is no price (null), never 0; an empty code is EUR.
 */
function price(value: unknown): { price: number | null; currency: string } {
  if (value && typeof value === 'object') {
    const currency = value as TwentyRecord;
    const micros = optionalNumber(currency.amountMicros);
    return { price: micros === null ? null : micros / 1_000_000, currency: text(currency.currencyCode).trim().toUpperCase() || 'EUR' };
  }
  return { price: optionalNumber(value), currency: 'EUR' };
}

/** The address as the pages show it (street lines, postcode and city; the country apart), from an ADDRESS field or a text city. */
function address(record: TwentyRecord, fields: ListingFields): Pick<Listing, 'address' | 'city' | 'street' | 'postcode' | 'country'> {
  const value = fields.address ? record[fields.address] : undefined;
  const parts = value && typeof value === 'object' ? (value as TwentyRecord) : {};
  const city = text(at(record, fields.city)).trim() || text(parts.addressCity).trim();
  const street = [text(parts.addressStreet1), text(parts.addressStreet2)]
    .map((line) => line.trim())
    .filter(Boolean)
    .join(', ');
  const postcode = text(parts.addressPostcode).trim();
  const country = text(parts.addressCountry).trim();
  const locality = [postcode, city].filter(Boolean).join(' ');
  return { address: [street, locality].filter(Boolean).join(', '), city, street, postcode, country };
}

/** A Links field is `{primaryLinkUrl, secondaryLinks:[{url}]}`; an array field is the URLs. */
function photos(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((url): url is string => typeof url === 'string');
  if (value && typeof value === 'object') {
    const links = value as TwentyRecord;
    const secondary = Array.isArray(links.secondaryLinks) ? links.secondaryLinks : [];
    return [links.primaryLinkUrl, ...secondary.map((link) => (link as TwentyRecord)?.url)].filter(
      (url): url is string => typeof url === 'string' && url !== '',
    );
  }
  return [];
}

/** A field's value by role (undefined when the workspace has no field for it). */
function valueOf(record: TwentyRecord, field: string | undefined): unknown {
  return field === undefined ? undefined : record[field];
}

export function listingFromTwentyRecord(
  record: TwentyRecord,
  fields: ListingFields = DEFAULT_LISTING_FIELDS,
  label: OptionLabel = (_field, value) => humanise(value),
): Listing {
  // SELECT and MULTI_SELECT values come as their API values (`BALCONY`): shown by their labels.
  const featureValues = valueOf(record, fields.features);
  const features = Array.isArray(featureValues)
    ? featureValues.filter((f): f is string => typeof f === 'string').map((value) => label(fields.features as string, value))
    : [];
  const type = text(valueOf(record, fields.propertyType), 'property');
  return {
    id: text(record.id),
    title: text(record[fields.title]).trim() || text(record.title).trim() || 'Untitled listing',
    description: text(valueOf(record, fields.description)),
    ...price(record[fields.price]),
    ...address(record, fields),
    propertyType: (fields.propertyType ? label(fields.propertyType, type) : humanise(type)).toLowerCase(),
    bedrooms: optionalNumber(valueOf(record, fields.bedrooms)) ?? 0,
    bathrooms: optionalNumber(valueOf(record, fields.bathrooms)) ?? 0,
    areaSqm: optionalNumber(valueOf(record, fields.areaSqm)) ?? 0,
    photos: photos(valueOf(record, fields.photos)),
    features,
    featured: valueOf(record, fields.featured) === true,
    createdAt: text(record.createdAt),
    updatedAt: text(record.updatedAt) || text(record.createdAt),
  };
}

interface TwentyListResponse {
  records: TwentyRecord[];
  endCursor?: string;
  hasNextPage: boolean;
  totalCount: number;
}

/** Get-one answers that mean "no such record" across Twenty versions (404; older 400 "Record not found"; a malformed id). */
const NOT_FOUND_MESSAGE = /^record not found|invalid input syntax for type uuid|is not a valid uuid|invalid uuid/i;
/** An older Twenty answered its rate limit with 400 "Limit reached". */
const RATE_LIMIT_MESSAGE = /limit reached|too many requests|rate limit/i;

async function messageOf(response: Response): Promise<string> {
  const body = await response.text().catch(() => '');
  try {
    const json = JSON.parse(body) as { messages?: unknown; message?: unknown; error?: unknown };
    const parts = [json.messages, json.message, json.error].flat().filter((part): part is string => typeof part === 'string');
    return parts.join('; ') || body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

const ID_ORDER = 'id[AscNullsFirst]';
/** Records a call asks for when reading the null-priced records on their own. */
const NULL_BATCH = 200;

/** Listings read from Twenty's REST API (`/rest/{namePlural}`) through the instance's paced client. */
export function createTwentySource(options: TwentySourceOptions): ListingSource {
  const { client, timeoutMs, objectNamePlural, objectNameSingular: singular, maxPage = 50, object } = options;
  const fieldsNow = (): ListingFields => object?.fields ?? DEFAULT_LISTING_FIELDS;
  const label: OptionLabel = (field, value) => object?.labelOf(field, value) ?? humanise(value);
  const toListing = (record: TwentyRecord) => listingFromTwentyRecord(record, fieldsNow(), label);
  const priorityNow = (): TwentyPriority => options.priority?.() ?? 'page';
  /** The cursor after page N of a list (sort, city, page size): browse page N+1 then costs one call, not N+1. */
  const cursors = new LRUCache<string, string>({ max: 20_000 });
  /** Bumped by `forget`: a walk that began before it does not remember its cursors. */
  let generation = 0;

  /** The JSON of a call; undefined when a get-one says the record does not exist. */
  async function getJson(path: string, priority: TwentyPriority, getOne = false): Promise<unknown> {
    const response = await client.get(path, priority);
    if (response.ok) {
      try {
        return await response.json();
      } catch (error) {
        throw sourceError(error, `Twenty API sent an unreadable body for GET /rest/${path}`);
      }
    }
    const message = await messageOf(response);
    // The client waits out 429s itself; an older Twenty answered its limit with 400 "Limit reached".
    if (response.status === 400 && RATE_LIMIT_MESSAGE.test(message)) {
      throw new ListingSourceError('rate-limited', `Twenty API rate limit (${response.status}) on GET /rest/${path}`);
    }
    // Only Twenty's own "no such record" answers: a 404 or 400 of anything else (a wrong plural, a proxy, a migration) is an outage, never a deletion.
    if (getOne && (response.status === 404 || response.status === 400) && NOT_FOUND_MESSAGE.test(message)) return undefined;
    throw new ListingSourceError('unavailable', `Twenty API answered ${response.status} to GET /rest/${path}: ${message}`);
  }

  async function list(params: URLSearchParams, priority: TwentyPriority = priorityNow()): Promise<TwentyListResponse> {
    const body = (await getJson(`${objectNamePlural}?${params}`, priority)) as {
      data?: Record<string, unknown>;
      pageInfo?: { hasNextPage?: boolean; endCursor?: string | null };
      totalCount?: number;
    };
    const records = body?.data?.[objectNamePlural];
    if (!Array.isArray(records)) {
      throw new ListingSourceError('unavailable', `Twenty API list response has no data.${objectNamePlural} array`);
    }
    return {
      records: records as TwentyRecord[],
      endCursor: body.pageInfo?.endCursor ?? undefined,
      hasNextPage: body.pageInfo?.hasNextPage === true,
      totalCount: typeof body.totalCount === 'number' ? body.totalCount : records.length,
    };
  }

  function cityFilter(fields: ListingFields, city: string): string {
    return `${fields.city}[ilike]:"${ilikeLiteral(city)}"`;
  }

  /**
   * The records of a price ordering's page [offset, offset + pageSize) that have no price, read
   * on their own ordered by id and put after the priced ones, where NullsLast puts them: Twenty
   * 2.21's cursors never reach them (fixed in later versions, which never get here).
   */
  async function nullPriced(fields: ListingFields, city: string | undefined, total: number, offset: number, pageSize: number): Promise<TwentyRecord[]> {
    const isNull = `${pricePath(fields)}[is]:NULL`;
    const filter = city === undefined ? isNull : `and(${isNull},${cityFilter(fields, city)})`;
    const params = new URLSearchParams({ limit: String(NULL_BATCH), order_by: ID_ORDER, filter });
    let result = await list(params);
    const start = Math.max(offset, total - result.totalCount);
    const from = start - (total - result.totalCount);
    const wanted = offset + pageSize - start;
    const found: TwentyRecord[] = [];
    for (let seen = 0; wanted > 0;) {
      for (const record of result.records) {
        if (seen >= from && found.length < wanted) found.push(record);
        seen += 1;
      }
      if (found.length >= wanted || !result.hasNextPage || !result.endCursor || result.records.length === 0) break;
      params.set('starting_after', result.endCursor);
      result = await list(params);
    }
    return found;
  }

  return {
    async getListing(id) {
      // The first calls of each kind wait (briefly) for the field names Twenty's metadata gives.
      if (object) await object.whenKnown(timeoutMs);
      const body = (await getJson(`${objectNamePlural}/${encodeURIComponent(id)}`, priorityNow(), true)) as { data?: Record<string, unknown> } | undefined;
      // The one-record answer is keyed by the singular name (Twenty's own); without it, its only key.
      const data = body?.data ?? {};
      const record = (singular === undefined ? undefined : data[singular]) ?? Object.values(data)[0];
      // The oldest Twenty answers an unknown id with 200 and a null record.
      return record && typeof record === 'object' ? toListing(record as TwentyRecord) : undefined;
    },

    async listListings({ page, pageSize, sort, city }) {
      if (object) await object.whenKnown(timeoutMs);
      const fields = fieldsNow();
      const params = new URLSearchParams({ limit: String(pageSize), order_by: orderBy(sort, fields) });
      if (city !== undefined) {
        if (/["\\]/.test(city)) return { items: [], total: 0 };
        params.set('filter', cityFilter(fields, city));
      }
      if (page > maxPage) return { items: [], total: 0 };
      // Twenty pages by cursor: start from the nearest page whose cursor is known, walk the rest.
      const memo = (n: number) => `${sort}|${city ?? ''}|${pageSize}|${n}`;
      let current = 1;
      for (let known = page - 1; known >= 1; known -= 1) {
        const cursor = cursors.get(memo(known));
        if (cursor === undefined) continue;
        params.set('starting_after', cursor);
        current = known + 1;
        break;
      }
      const since = generation;
      let result = await list(params);
      for (;;) {
        const short = result.records.length < pageSize;
        if (result.endCursor && !short && since === generation) cursors.set(memo(current), result.endCursor);
        if (current >= page || short || !result.hasNextPage || !result.endCursor) break;
        params.set('starting_after', result.endCursor);
        result = await list(params);
        current += 1;
      }
      const offset = (page - 1) * pageSize;
      const items = current === page ? result.records : [];
      const reached = (current - 1) * pageSize + result.records.length;
      // Twenty 2.21 pages past the last non-null price to nothing while totalCount counts the
      // null-priced records: they are read on their own and put last, where NullsLast puts them.
      if (sort !== 'newest' && items.length < pageSize && reached < result.totalCount && params.has('starting_after')) {
        const rest = await nullPriced(fields, city, result.totalCount, offset, pageSize);
        return { items: [...items, ...rest].map(toListing), total: result.totalCount };
      }
      if (current < page) return { items: [], total: result.totalCount };
      return { items: items.map(toListing), total: result.totalCount };
    },

    /**
     * Every record by cursor, as many a call as Twenty gives (200 now, 60 in older versions): one
     * walk, at the priority of the request it serves (a stored sitemap's refresh: background).
     */
    async *eachBatch() {
      if (object) await object.whenKnown(timeoutMs);
      const priority = priorityNow();
      const params = new URLSearchParams({ limit: String(TWENTY_PAGE_LIMIT), order_by: orderBy('newest', fieldsNow()) });
      for (;;) {
        const result = await list(params, priority);
        if (result.records.length > 0) yield result.records.map(toListing);
        if (!result.hasNextPage || !result.endCursor) return;
        params.set('starting_after', result.endCursor);
      }
    },

    async listFeatured(limit) {
      if (object) await object.whenKnown(timeoutMs);
      const fields = fieldsNow();
      if (!fields.featured) return [];
      const params = new URLSearchParams({ limit: String(limit), order_by: orderBy('newest', fields), filter: `${fields.featured}[eq]:true` });
      return (await list(params)).records.map(toListing);
    },

    forget() {
      // A change can move records between pages: a remembered cursor may now skip or repeat one.
      generation += 1;
      cursors.clear();
    },
  };
}
