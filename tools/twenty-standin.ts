import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TwentyStub {
  url: string;
  requests: { path: string; query: URLSearchParams; authorization?: string }[];
  /** Replaces how the stub answers; default: Twenty's answers over the records given at start. */
  respond: (
    req: IncomingMessage,
    path: string,
    query: URLSearchParams,
  ) => { status: number; body?: unknown; delayMs?: number; headers?: Record<string, string> };
  /** The records it serves (tests may change them, as the CRM would). */
  records: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface TwentyStubOptions {
  /** The object's REST name and Twenty's own singular (`properties` / `property`). */
  plural?: string;
  singular?: string;
  /** Twenty clamps `limit` to this (200 now, 60 in older versions); 60 when absent. */
  maxLimit?: number;
  /** API-key requests allowed per window (Twenty's default: 100 a minute); over it: 429 with Retry-After. */
  rateLimit?: { requests: number; windowMs: number };
}

/**
 * A record as Twenty's REST API returns one, with the standard composite fields: Currency
 * (`price`), Address (`address`, the only place the city is), RICH_TEXT_V2 (`description`),
 * Links (`photos`), SELECT (`propertyType`) and MULTI_SELECT (`features`).
 */
export function twentyRecord(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `Listing ${id}`,
    description: {
      markdown: `Description of **listing ${id}**.`,
      blocknote: JSON.stringify([
        { id: 'b1', type: 'paragraph', props: {}, content: [{ type: 'text', text: `Description of listing ${id}.`, styles: {} }], children: [] },
      ]),
    },
    price: { amountMicros: 250_000_000_000 + Number.parseInt(id.replace(/\D/g, '') || '0', 10) * 1_000_000, currencyCode: 'EUR' },
    address: { addressStreet1: '1 Harbour Street', addressStreet2: '', addressCity: 'Lisbon', addressPostcode: '1100-001', addressCountry: 'Portugal' },
    propertyType: 'APARTMENT',
    features: ['BALCONY', 'SEA_VIEW'],
    bedrooms: 2,
    bathrooms: 1,
    areaSqm: 70,
    photos: {
      primaryLinkUrl: `https://cdn.example.com/${id}/1.jpg`,
      primaryLinkLabel: '',
      secondaryLinks: [{ url: `https://cdn.example.com/${id}/2.jpg`, label: '' }],
    },
    featured: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-02-01T00:00:00.000Z',
    deletedAt: null,
    ...overrides,
  };
}

/** The object's fields as Twenty types them: composite ones are addressed by subfield in order_by and filter. */
const COMPOSITE: Record<string, readonly string[]> = {
  price: ['amountMicros', 'currencyCode'],
  address: ['addressStreet1', 'addressStreet2', 'addressCity', 'addressPostcode', 'addressState', 'addressCountry', 'addressLat', 'addressLng'],
  photos: ['primaryLinkUrl', 'primaryLinkLabel', 'secondaryLinks'],
  description: ['markdown', 'blocknote'],
};
const PLAIN = new Set([
  'id',
  'name',
  'propertyType',
  'features',
  'bedrooms',
  'bathrooms',
  'areaSqm',
  'featured',
  'status',
  'createdAt',
  'updatedAt',
  'deletedAt',
]);

/** The object's SELECT and MULTI_SELECT fields with their options, as the metadata API lists them. */
const METADATA_FIELDS = [
  {
    name: 'propertyType',
    type: 'SELECT',
    label: 'Property type',
    options: [
      { id: 'o1', value: 'APARTMENT', label: 'Apartment', color: 'blue', position: 0 },
      { id: 'o2', value: 'HOUSE', label: 'House', color: 'green', position: 1 },
    ],
  },
  {
    name: 'features',
    type: 'MULTI_SELECT',
    label: 'Features',
    options: [
      { id: 'o3', value: 'BALCONY', label: 'Balcony', color: 'red', position: 0 },
      { id: 'o4', value: 'SEA_VIEW', label: 'Ocean view', color: 'sky', position: 1 },
    ],
  },
  { name: 'name', type: 'TEXT', label: 'Name' },
];

function badRequest(message: string) {
  return { status: 400, body: { statusCode: 400, error: 'BadRequestException', messages: [message] } };
}

/** A field path as Twenty checks it: a plain field, or a composite field's subfield; an unknown field is a 400. */
function fieldProblem(path: string): string | undefined {
  const [field, subfield, ...rest] = path.split('.');
  if (!field || rest.length > 0) return `field '${path}' does not exist`;
  if (COMPOSITE[field]) {
    if (subfield === undefined) return `field '${field}' is a composite field: use one of its subfields (${COMPOSITE[field].join(', ')})`;
    return COMPOSITE[field].includes(subfield) ? undefined : `field '${path}' does not exist`;
  }
  return PLAIN.has(field) && subfield === undefined ? undefined : `field '${path}' does not exist`;
}

function valueAt(record: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((value, part) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined), record);
}

/** `ilike` as Postgres does it: case-insensitive, `%` any run, `_` one character, `\` escapes. */
function ilike(value: unknown, pattern: string): boolean {
  if (typeof value !== 'string') return false;
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] as string;
    if (char === '\\' && i + 1 < pattern.length) source += (pattern[(i += 1)] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is').test(value);
}

type Filter = (record: Record<string, unknown>) => boolean;

/** `field[op]:value`: eq and ilike, enough for what the listings server asks. */
function parseFilter(text: string): Filter | { error: string } {
  const match = /^([A-Za-z0-9.]+)\[(eq|ilike|neq)\]:(.*)$/.exec(text);
  if (!match) return { error: `invalid filter '${text}'` };
  const [, path, op, raw] = match as unknown as [string, string, string, string];
  const problem = fieldProblem(path);
  if (problem) return { error: problem };
  const value = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw === 'true' ? true : raw === 'false' ? false : raw;
  if (op === 'ilike') return (record) => ilike(valueAt(record, path), String(value));
  if (op === 'neq') return (record) => valueAt(record, path) !== value;
  return (record) => valueAt(record, path) === value;
}

/** `field[AscNullsLast]`, comma separated. */
function parseOrder(text: string): ((a: Record<string, unknown>, b: Record<string, unknown>) => number) | { error: string } {
  const keys: { path: string; sign: number }[] = [];
  for (const part of text.split(',')) {
    const match = /^([A-Za-z0-9.]+)\[(AscNullsFirst|AscNullsLast|DescNullsFirst|DescNullsLast)\]$/.exec(part.trim());
    if (!match) return { error: `invalid order_by '${part}'` };
    const problem = fieldProblem(match[1] as string);
    if (problem) return { error: problem };
    keys.push({ path: match[1] as string, sign: (match[2] as string).startsWith('Asc') ? 1 : -1 });
  }
  return (a, b) => {
    for (const { path, sign } of keys) {
      const x = valueAt(a, path);
      const y = valueAt(b, path);
      if (x === y) continue;
      return (x === undefined || x === null ? 1 : y === undefined || y === null ? -1 : x < y ? -1 : 1) * (x == null || y == null ? 1 : sign);
    }
    return 0;
  };
}

/**
 * A local stand-in for Twenty's REST API with its real shapes and limits: get-one
 * `{data:{<singular>:{...}}}` (404 for an unknown id), lists `{data:{<plural>:[...]}, pageInfo,
 * totalCount}` with cursor paging (`limit` defaulting to 60 and clamped, `starting_after`),
 * `order_by` and `filter` checked field by field (a composite field without its subfield, or an
 * unknown field, is a 400), the metadata API, and an optional per-key rate limit (429).
 */
export async function startTwentyStub(records: Record<string, unknown>[], options: TwentyStubOptions = {}): Promise<TwentyStub> {
  const { plural = 'listings', singular = 'listing', maxLimit = 60, rateLimit } = options;
  const calls: number[] = [];
  const stub: TwentyStub = {
    url: '',
    requests: [],
    records,
    respond: (_req, path, query) => {
      if (rateLimit) {
        const now = Date.now();
        while (calls.length > 0 && (calls[0] as number) <= now - rateLimit.windowMs) calls.shift();
        if (calls.length >= rateLimit.requests) {
          const retryAfter = Math.max(1, Math.ceil(((calls[0] as number) + rateLimit.windowMs - now) / 1000));
          return {
            status: 429,
            body: { statusCode: 429, error: 'TooManyRequests', messages: ['Limit reached'] },
            headers: { 'Retry-After': String(retryAfter) },
          };
        }
        calls.push(now);
      }
      if (path === '/rest/metadata/objects') {
        return {
          status: 200,
          body: {
            data: {
              objects: [
                {
                  id: '7c1e0a3e-1f5d-4a39-9c1e-5b2a7f0c9d11',
                  nameSingular: singular,
                  namePlural: plural,
                  labelSingular: 'Listing',
                  labelPlural: 'Listings',
                  isCustom: true,
                  isActive: true,
                  fields: METADATA_FIELDS,
                },
              ],
            },
            pageInfo: { hasNextPage: false },
            totalCount: 1,
          },
        };
      }
      const one = new RegExp(`^/rest/${plural}/([^/]+)$`).exec(path);
      if (one) {
        const record = stub.records.find((candidate) => candidate.id === decodeURIComponent(one[1] as string));
        return record
          ? { status: 200, body: { data: { [singular]: record } } }
          : { status: 404, body: { statusCode: 404, error: 'NotFoundException', messages: ['Record not found'] } };
      }
      if (path === `/rest/${plural}`) {
        let selected = stub.records;
        const filterText = query.get('filter');
        if (filterText) {
          const filter = parseFilter(filterText);
          if ('error' in filter) return badRequest(filter.error);
          selected = selected.filter(filter);
        }
        const orderText = query.get('order_by');
        if (orderText) {
          const compare = parseOrder(orderText);
          if ('error' in compare) return badRequest(compare.error);
          selected = [...selected].sort(compare);
        }
        const limit = Math.min(Number(query.get('limit') ?? 60), maxLimit);
        const after = query.get('starting_after');
        const start = after ? selected.findIndex((record) => record.id === after) + 1 : 0;
        const page = selected.slice(start, start + limit);
        return {
          status: 200,
          body: {
            data: { [plural]: page },
            pageInfo: { hasNextPage: start + limit < selected.length, endCursor: page.at(-1)?.id, startCursor: page[0]?.id },
            totalCount: selected.length,
          },
        };
      }
      return { status: 404, body: { statusCode: 404, error: 'NotFound', messages: [`Cannot GET ${path}`] } };
    },
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    stub.requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    const answer = stub.respond(req, url.pathname, url.searchParams);
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
    };
    if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stub;
}
