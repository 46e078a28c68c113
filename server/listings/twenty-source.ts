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
}

type TwentyRecord = Record<string, unknown>;

/** The most records Twenty's REST API returns in one list page. */
const TWENTY_PAGE_LIMIT = 60;

const ORDER_BY: Record<ListingSort, string> = {
  newest: 'createdAt[DescNullsLast]',
  price_asc: 'price[AscNullsLast]',
  price_desc: 'price[DescNullsLast]',
};

function text(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  // Twenty's rich text fields carry a markdown rendering.
  if (value && typeof value === 'object' && typeof (value as TwentyRecord).markdown === 'string') {
    return (value as TwentyRecord).markdown as string;
  }
  return fallback;
}

function numberFrom(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return 0;
}

/** A Currency field is `{amountMicros, currencyCode}`; a Number field is the amount itself. */
function price(value: unknown): { price: number; currency: string } {
  if (value && typeof value === 'object') {
    const currency = value as TwentyRecord;
    return { price: numberFrom(currency.amountMicros) / 1_000_000, currency: text(currency.currencyCode, 'EUR') };
  }
  return { price: numberFrom(value), currency: 'EUR' };
}

function address(record: TwentyRecord): { address: string; city: string } {
  const value = record.address;
  if (value && typeof value === 'object') {
    const parts = value as TwentyRecord;
    const street = [text(parts.addressStreet1), text(parts.addressStreet2)].filter(Boolean).join(' ');
    const city = text(record.city) || text(parts.addressCity);
    return { address: [street, city].filter(Boolean).join(', '), city };
  }
  return { address: text(value), city: text(record.city) };
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

export function listingFromTwentyRecord(record: TwentyRecord): Listing {
  const features = Array.isArray(record.features) ? record.features.filter((f): f is string => typeof f === 'string') : [];
  return {
    id: text(record.id),
    title: text(record.title) || text(record.name) || 'Untitled listing',
    description: text(record.description),
    ...price(record.price),
    ...address(record),
    propertyType: text(record.propertyType, 'property').toLowerCase(),
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

/** Listings read from Twenty's REST API (`/rest/{namePlural}`), with a timeout on every call. */
export function createTwentySource(options: TwentySourceOptions): ListingSource {
  const { apiUrl, apiKey, timeoutMs, objectNamePlural, objectNameSingular: singular, maxPage = 50 } = options;

  async function getJson(path: string, allowNotFound = false): Promise<unknown> {
    const url = `${apiUrl}/rest/${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw sourceError(error, `Twenty API request failed: GET /rest/${path}`);
    }
    if (allowNotFound && (response.status === 404 || response.status === 400)) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ListingSourceError('unavailable', `Twenty API answered ${response.status} to GET /rest/${path}`);
    }
    try {
      return await response.json();
    } catch (error) {
      throw sourceError(error, `Twenty API sent an unreadable body for GET /rest/${path}`);
    }
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
      // The one-record answer is keyed by the singular name; take the only value if it differs.
      const data = body?.data ?? {};
      const record = (singular === undefined ? undefined : data[singular]) ?? Object.values(data)[0];
      return record && typeof record === 'object' ? listingFromTwentyRecord(record as TwentyRecord) : undefined;
    },

    async listListings({ page, pageSize, sort, city }) {
      const params = new URLSearchParams({ limit: String(pageSize), order_by: ORDER_BY[sort] });
      if (city !== undefined) {
        if (/["\\]/.test(city)) return { items: [], total: 0 };
        params.set('filter', `city[ilike]:"${city}"`);
      }
      if (page > maxPage) return { items: [], total: 0 };
      // Twenty pages by cursor: walk to the requested page one page at a time.
      let result = await list(params);
      for (let current = 1; current < page; current += 1) {
        if (!result.hasNextPage || !result.endCursor) return { items: [], total: result.totalCount };
        params.set('starting_after', result.endCursor);
        result = await list(params);
      }
      return { items: result.records.map(listingFromTwentyRecord), total: result.totalCount };
    },

    /** Every record by cursor, a page of TWENTY_PAGE_LIMIT at a time: one walk, not one per page. */
    async *eachBatch() {
      const params = new URLSearchParams({ limit: String(TWENTY_PAGE_LIMIT), order_by: ORDER_BY.newest });
      for (;;) {
        const result = await list(params);
        if (result.records.length > 0) yield result.records.map(listingFromTwentyRecord);
        if (!result.hasNextPage || !result.endCursor) return;
        params.set('starting_after', result.endCursor);
      }
    },

    async listFeatured(limit) {
      const params = new URLSearchParams({
        limit: String(limit),
        order_by: ORDER_BY.newest,
        filter: 'featured[eq]:true',
      });
      return (await list(params)).records.map(listingFromTwentyRecord);
    },
  };
}

function sourceError(error: unknown, message: string): ListingSourceError {
  // fetch's abort errors are DOMExceptions, which need not be `instanceof Error` in every realm.
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  const failure = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unavailable';
  return new ListingSourceError(failure, failure === 'timeout' ? `${message}: timed out` : message, { cause: error });
}
