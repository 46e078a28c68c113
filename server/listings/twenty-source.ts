import { LRUCache } from 'lru-cache';
import { ListingSourceError, type Listing, type ListingSort, type ListingSource } from './listing';

export interface TwentySourceOptions {
  apiUrl: string;
  apiKey: string;
  timeoutMs: number;
  /** Plural API name of the listing object, e.g. `listings`. */
  objectNamePlural: string;
  /** Its singular name, which keys the one-record answer, e.g. `listing` (absent: the answer's only key). */
  objectNameSingular?: string;
  /** Browse pages deeper than this answer as empty (404) instead of walking that many cursors. */
  maxPage?: number;
  /**
   * Where the city is (TWENTY_CITY_FIELD): a subfield of a composite Address field
   * (`address.addressCity`, Twenty's standard) or a text field (`city`).
   */
  cityField?: string;
  /** How to sort by price (TWENTY_PRICE_FIELD): a Currency field's subfield (`price.amountMicros`) or a Number field (`price`). */
  priceField?: string;
  /** The longest wait for a 429's Retry-After before the call gives up (rate limited). */
  maxRetryWaitMs?: number;
  /** A SELECT option's label from Twenty's metadata; absent or unknown: the value humanised. */
  labelOf?(field: string, value: string): string | undefined;
}

export type OptionLabel = (field: string, value: string) => string;

type TwentyRecord = Record<string, unknown>;

/** The most records a list call asks for: current Twenty's clamp (older ones clamp to 60, and the cursor walk does not care). */
const TWENTY_PAGE_LIMIT = 200;

function orderBy(sort: ListingSort, priceField: string): string {
  if (sort === 'newest') return 'createdAt[DescNullsLast]';
  return `${priceField}[${sort === 'price_asc' ? 'AscNullsLast' : 'DescNullsLast'}]`;
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
 * A RICH_TEXT_V2 field (`{blocknote, markdown}`) as plain text, paragraphs separated by blank
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

function numberFrom(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return 0;
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

function address(record: TwentyRecord, cityField: string): { address: string; city: string } {
  const value = record.address;
  const city = text(at(record, cityField)) || text(record.city) || text((value as TwentyRecord | undefined)?.addressCity);
  if (value && typeof value === 'object') {
    const parts = value as TwentyRecord;
    const street = [text(parts.addressStreet1), text(parts.addressStreet2)].filter(Boolean).join(' ');
    return { address: [street, city].filter(Boolean).join(', '), city };
  }
  return { address: text(value), city };
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

export function listingFromTwentyRecord(
  record: TwentyRecord,
  cityField = 'address.addressCity',
  label: OptionLabel = (_field, value) => humanise(value),
): Listing {
  // SELECT and MULTI_SELECT values come as their API values (`BALCONY`): shown by their labels.
  const features = Array.isArray(record.features)
    ? record.features.filter((f): f is string => typeof f === 'string').map((value) => label('features', value))
    : [];
  return {
    id: text(record.id),
    title: text(record.title) || text(record.name) || 'Untitled listing',
    description: text(record.description),
    ...price(record.price),
    ...address(record, cityField),
    propertyType: label('propertyType', text(record.propertyType, 'property')).toLowerCase(),
    bedrooms: numberFrom(record.bedrooms),
    bathrooms: numberFrom(record.bathrooms),
    areaSqm: numberFrom(record.areaSqm),
    photos: photos(record.photos),
    features,
    featured: record.featured === true,
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

/** Seconds a Retry-After header asks for (a number or an HTTP date), if it says. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Listings read from Twenty's REST API (`/rest/{namePlural}`), with a timeout on every call. */
export function createTwentySource(options: TwentySourceOptions): ListingSource {
  const { apiUrl, apiKey, timeoutMs, objectNamePlural, objectNameSingular: singular, maxPage = 50 } = options;
  const { cityField = 'address.addressCity', priceField = 'price.amountMicros', maxRetryWaitMs = 2000 } = options;
  const label: OptionLabel = (field, value) => options.labelOf?.(field, value) ?? humanise(value);
  const toListing = (record: TwentyRecord) => listingFromTwentyRecord(record, cityField, label);
  /** The cursor after page N of a list (sort, city, page size): browse page N+1 then costs one call, not N+1. */
  const cursors = new LRUCache<string, string>({ max: 20_000 });
  /** Bumped by `forget`: a walk that began before it does not remember its cursors. */
  let generation = 0;

  async function fetchOnce(path: string): Promise<Response> {
    try {
      return await fetch(`${apiUrl}/rest/${path}`, {
        headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw sourceError(error, `Twenty API request failed: GET /rest/${path}`);
    }
  }

  /** The JSON of a call; undefined when a get-one says the record does not exist. */
  async function getJson(path: string, getOne = false): Promise<unknown> {
    let response = await fetchOnce(path);
    // Twenty's rate limit (per workspace, shared by every integration): wait as asked, once, within a bound.
    if (response.status === 429) {
      const wait = retryAfterSeconds(response.headers.get('retry-after'));
      await response.body?.cancel();
      if (wait === undefined || wait * 1000 > maxRetryWaitMs) {
        throw new ListingSourceError('rate-limited', `Twenty API rate limit (429) on GET /rest/${path}`, { retryAfterSeconds: wait });
      }
      await sleep(wait * 1000);
      response = await fetchOnce(path);
    }
    if (response.ok) {
      try {
        return await response.json();
      } catch (error) {
        throw sourceError(error, `Twenty API sent an unreadable body for GET /rest/${path}`);
      }
    }
    const message = await messageOf(response);
    if (response.status === 429 || (response.status === 400 && RATE_LIMIT_MESSAGE.test(message))) {
      throw new ListingSourceError('rate-limited', `Twenty API rate limit (${response.status}) on GET /rest/${path}`, {
        retryAfterSeconds: retryAfterSeconds(response.headers.get('retry-after')),
      });
    }
    // Only Twenty's own "no such record" answers: a 404 or 400 of anything else (a wrong plural, a proxy, a migration) is an outage, never a deletion.
    if (getOne && (response.status === 404 || response.status === 400) && NOT_FOUND_MESSAGE.test(message)) return undefined;
    throw new ListingSourceError('unavailable', `Twenty API answered ${response.status} to GET /rest/${path}: ${message}`);
  }

  async function list(params: URLSearchParams): Promise<TwentyListResponse> {
    const body = (await getJson(`${objectNamePlural}?${params}`)) as {
      data?: Record<string, unknown>;
      pageInfo?: { hasNextPage?: boolean; endCursor?: string };
      totalCount?: number;
    };
    const records = body?.data?.[objectNamePlural];
    if (!Array.isArray(records)) {
      throw new ListingSourceError('unavailable', `Twenty API list response has no data.${objectNamePlural} array`);
    }
    return {
      records: records as TwentyRecord[],
      endCursor: body.pageInfo?.endCursor,
      hasNextPage: body.pageInfo?.hasNextPage === true,
      totalCount: typeof body.totalCount === 'number' ? body.totalCount : records.length,
    };
  }

  return {
    async getListing(id) {
      const body = (await getJson(`${objectNamePlural}/${encodeURIComponent(id)}`, true)) as { data?: Record<string, unknown> } | undefined;
      // The one-record answer is keyed by the singular name (Twenty's own); without it, its only key.
      const data = body?.data ?? {};
      const record = (singular === undefined ? undefined : data[singular]) ?? Object.values(data)[0];
      // The oldest Twenty answers an unknown id with 200 and a null record.
      return record && typeof record === 'object' ? toListing(record as TwentyRecord) : undefined;
    },

    async listListings({ page, pageSize, sort, city }) {
      const params = new URLSearchParams({ limit: String(pageSize), order_by: orderBy(sort, priceField) });
      if (city !== undefined) {
        if (/["\\]/.test(city)) return { items: [], total: 0 };
        params.set('filter', `${cityField}[ilike]:"${ilikeLiteral(city)}"`);
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
        if (result.endCursor && since === generation) cursors.set(memo(current), result.endCursor);
        if (current >= page) break;
        if (!result.hasNextPage || !result.endCursor) return { items: [], total: result.totalCount };
        params.set('starting_after', result.endCursor);
        result = await list(params);
        current += 1;
      }
      return { items: result.records.map(toListing), total: result.totalCount };
    },

    /** Every record by cursor, as many a call as Twenty gives (200 now, 60 in older versions): one walk. */
    async *eachBatch() {
      const params = new URLSearchParams({ limit: String(TWENTY_PAGE_LIMIT), order_by: orderBy('newest', priceField) });
      for (;;) {
        const result = await list(params);
        if (result.records.length > 0) yield result.records.map(toListing);
        if (!result.hasNextPage || !result.endCursor) return;
        params.set('starting_after', result.endCursor);
      }
    },

    async listFeatured(limit) {
      const params = new URLSearchParams({ limit: String(limit), order_by: orderBy('newest', priceField), filter: 'featured[eq]:true' });
      return (await list(params)).records.map(toListing);
    },

    forget() {
      // A change can move records between pages: a remembered cursor may now skip or repeat one.
      generation += 1;
      cursors.clear();
    },
  };
}

function sourceError(error: unknown, message: string): ListingSourceError {
  // fetch's abort errors are DOMExceptions, which need not be `instanceof Error` in every realm.
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  const failure = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unavailable';
  return new ListingSourceError(failure, failure === 'timeout' ? `${message}: timed out` : message, { cause: error });
}
