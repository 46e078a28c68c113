/**
 * The requests that produced the recordings of a real Twenty 2.21.0 in
 * test/fixtures/twenty-2.21/rest/, one entry a file, in file order: rebuilt from each file's name
 * and answer (the recorder kept answers, not requests). The contract test sends each to the
 * stand-in, in order, on the recorded workspace, and compares the answers.
 *
 * Where the recorded request is not in the file's name (a limit, a filter's exact text), the
 * value chosen is one that gives the recorded answer and that a client would send. Ids Twenty
 * generated on a write (the created record, the webhooks) are sent in the body so that the later
 * requests, answers and webhooks name the same ids; the clock is set to the recorded time of
 * each write (`at`), so timestamps are the recorded ones.
 */

export const PROPERTY = '/rest/properties';
/** The records the recorded requests name. */
export const IDS = {
  gaia29: '04a26150-9f36-4fe5-9997-41f050927b9e',
  coimbra3: 'a011148f-806a-4d19-963f-aadd58c7971a',
  braga4: 'ebcd95f0-401c-448a-a3a6-453e5dbc161f',
  faro12: '43d94873-fb34-4390-a3bf-669c5311b7ea',
  porto17: '893ea82d-318a-4696-94cd-a6b865df73a6',
  porto20: '105f0a18-6097-4fc3-9485-f4196869c150',
  created: '83f2f6c5-2f70-430a-b578-be172071fc4b',
  unknown: '6f9619ff-8b86-4d01-b42d-00cf4fc964ff',
  hookWebhook: 'fdefdc44-19d7-46c5-92e5-259473839e0e',
  listingsWebhook: '5998f19c-edff-4c12-8e0a-b3563dedeaeb',
  deadWebhook: '53685c23-f65d-4a5f-ab68-615376681084',
} as const;

/** The webhook targets of the recording (the contract test points them at its own receivers). */
export const TARGETS = {
  hook: 'http://127.0.0.1:3999/hook',
  listings: 'http://127.0.0.1:3998/api/cache/invalidate',
  dead: 'http://127.0.0.1:3997/dead',
} as const;
export const SECRET = 'whsec_feasibility_0123456789abcdef';

const PRICE_ASC = 'price.amountMicros[AscNullsLast]';
const NEWEST = 'createdAt[DescNullsLast]';
/** The cursors the recorded answers gave (01-, 18-, 28-, 53-), sent back as `starting_after`. */
const CURSOR = {
  after01: 'eyJwcmljZSI6eyJhbW91bnRNaWNyb3MiOjIyMDAwMDAwMDAwMH0sImlkIjoiYTAxMTE0OGYtODA2YS00ZDE5LTk2M2YtYWFkZDU4Yzc5NzFhIn0=',
  after18: 'eyJwcmljZSI6eyJhbW91bnRNaWNyb3MiOm51bGx9LCJpZCI6IjJmNDg3Y2QxLTVlZDctNGU3My1iZWUzLWE5NWVkYmI5NDM4YyJ9',
  after28: 'eyJwcmljZSI6eyJhbW91bnRNaWNyb3MiOjY0MDAwMDAwMDAwMH0sImlkIjoiZDNhYTZiNGYtMTBhOC00YWU0LWIyMjItMzBhNzM2NTlmNzY4In0=',
  after53: 'eyJjcmVhdGVkQXQiOiIyMDI2LTEyLTA2VDE0OjQ1OjA1LjQwOFoiLCJpZCI6ImJmMzZiZWUyLWE0N2EtNGQyMi05NDdiLTZjNGU0MjA5NzkxMyJ9',
};
/** The BlockNote Twenty made of the created record's markdown (its block id is Twenty's random one). */
const CREATED_BLOCKNOTE =
  '[{"id":"dc7d0a7d-f62d-433d-8e6e-9b08d0eabd17","type":"paragraph","props":{"backgroundColor":"default","textColor":"default","textAlignment":"left"},"content":[{"type":"text","text":"Hook ","styles":{}},{"type":"text","text":"test","styles":{"bold":true}}],"children":[]}]';

export interface RecordedRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** In order, as the client put them in the URL. */
  query?: [string, string][];
  body?: unknown;
  /** Authorization: `key` (the workspace's API key, the default), `none`, or `wrong` (another key). */
  auth?: 'key' | 'none' | 'wrong';
}

/** What happened between two recordings that no REST recording shows (seen in hooks/ and later answers). */
export type Step =
  | ({ kind: 'request'; at: string; why: string } & RecordedRequest)
  | { kind: 'addField'; at: string; name: string; type: 'TEXT'; label: string; why: string }
  | { kind: 'safeMode'; on: boolean; why: string };

export interface ManifestEntry {
  /** How the file is compared: an HTTP answer; a JSON capture of part of one (06b-, 06c-, 49-); a rate-limit run (30-, 31-). */
  kind: 'http' | 'extract' | 'body' | 'ratelimit-headers' | 'ratelimit-refusal';
  request: RecordedRequest;
  /** The recording's time of a write: the stand-in's clock is set to it. */
  at?: string;
  /** Steps before the request. */
  before?: Step[];
  /** The status of a recording that kept only the body. */
  status?: number;
  /** Values Twenty draws at random and the stand-in cannot have: compared by JSON type only. */
  volatile?: string[];
  /** 06-, 57-: the standard objects' fields are Twenty's own: their shape is compared, and these values exactly. */
  exact?: (body: MetadataList) => unknown;
  /** 06b-, 06c-: the part of the metadata answer the capture holds. */
  extract?: (body: MetadataList) => unknown;
  note?: string;
}

export interface MetadataList {
  data: { objects: (Record<string, unknown> & { fields: Record<string, unknown>[] })[] };
  pageInfo: unknown;
  totalCount: number;
}

const list = (...query: [string, string][]): RecordedRequest => ({ method: 'GET', path: PROPERTY, query });
const one = (id: string): RecordedRequest => ({ method: 'GET', path: `${PROPERTY}/${id}` });
const metadataPage = (body: MetadataList) => ({
  ids: body.data.objects.map((object) => object.id),
  plurals: body.data.objects.map((object) => object.namePlural),
  pageInfo: body.pageInfo,
  totalCount: body.totalCount,
  property: body.data.objects.find((object) => object.namePlural === 'properties') ?? null,
});
const propertyObject = (body: MetadataList) => body.data.objects.find((object) => object.namePlural === 'properties');

export const MANIFEST: Record<string, ManifestEntry> = {
  '01-list-price-asc.http': { kind: 'http', request: list(['limit', '5'], ['order_by', PRICE_ASC]) },
  '02-list-porto-ilike-pct.http': {
    kind: 'http',
    request: list(['limit', '5'], ['order_by', PRICE_ASC], ['filter', 'addressCustom.addressCity[ilike]:"%porto%"']),
  },
  '02b-list-address-field-as-listings-default.http': {
    kind: 'http',
    request: list(['limit', '24'], ['order_by', PRICE_ASC], ['filter', 'address.addressCity[ilike]:"porto"']),
    note: "the listings server's default city field, `address`, which a custom object cannot have",
  },
  '02c-list-porto-ilike-exact-as-listings.http': {
    kind: 'http',
    request: list(['limit', '24'], ['order_by', PRICE_ASC], ['filter', 'addressCustom.addressCity[ilike]:"porto"']),
  },
  '03-get-one.http': { kind: 'http', request: one(IDS.gaia29) },
  '04-get-unknown-uuid.http': { kind: 'http', request: one(IDS.unknown) },
  '05-get-not-a-uuid.http': { kind: 'http', request: one('not-a-uuid') },
  '06-metadata-objects.http': { kind: 'http', request: { method: 'GET', path: '/rest/metadata/objects' }, exact: metadataPage },
  '06b-metadata-property-object.json': {
    kind: 'extract',
    request: { method: 'GET', path: '/rest/metadata/objects' },
    extract: (body) => {
      const object = { ...propertyObject(body) } as Record<string, unknown>;
      delete object.fields;
      return object;
    },
  },
  '06c-metadata-property-fields.json': {
    kind: 'extract',
    request: { method: 'GET', path: '/rest/metadata/objects' },
    extract: (body) => propertyObject(body)?.fields.filter((field) => ['ADDRESS', 'RICH_TEXT', 'SELECT', 'MULTI_SELECT'].includes(String(field.type))),
    note: 'the capture holds the ADDRESS, RICH_TEXT, SELECT and MULTI_SELECT fields, one JSON object after the other',
  },
  '07-bad-order-by-composite.http': { kind: 'http', request: list(['order_by', 'price[AscNullsLast]']) },
  '08-order-by-unknown-field.http': { kind: 'http', request: list(['order_by', 'nosuchfield[AscNullsFirst]']) },
  '09-filter-unknown-field.http': { kind: 'http', request: list(['filter', 'nosuchfield[eq]:1']) },
  '10-filter-unknown-subfield.http': { kind: 'http', request: list(['filter', 'addressCustom.city[eq]:Porto']) },
  '11-page2-starting-after-cursor.http': { kind: 'http', request: list(['limit', '5'], ['order_by', PRICE_ASC], ['starting_after', CURSOR.after01]) },
  '12-starting-after-raw-id.http': { kind: 'http', request: list(['limit', '5'], ['order_by', PRICE_ASC], ['starting_after', IDS.coimbra3]) },
  '13-all-limit-200-price-asc.http': { kind: 'http', request: list(['limit', '200'], ['order_by', PRICE_ASC]) },
  '14-price-desc-limit-3.http': { kind: 'http', request: list(['limit', '3'], ['order_by', 'price.amountMicros[DescNullsLast]']) },
  '15-companies-limit-500.http': { kind: 'http', request: { method: 'GET', path: '/rest/companies', query: [['limit', '500']] } },
  '16-companies-no-limit.http': { kind: 'http', request: { method: 'GET', path: '/rest/companies' } },
  '17-featured-newest.http': { kind: 'http', request: list(['limit', '4'], ['order_by', NEWEST], ['filter', 'featured[eq]:true']) },
  '18-limit29.http': { kind: 'http', request: list(['limit', '29'], ['order_by', PRICE_ASC]) },
  '19-after-null-cursor.http': { kind: 'http', request: list(['limit', '29'], ['order_by', PRICE_ASC], ['starting_after', CURSOR.after18]) },
  '20-ilike-gaia-spaces.http': {
    kind: 'http',
    request: list(['limit', '24'], ['order_by', PRICE_ASC], ['filter', 'addressCustom.addressCity[ilike]:"%nova de gaia%"']),
  },
  '21-ilike-escaped-underscore.http': { kind: 'http', request: list(['filter', 'addressCustom.addressCity[ilike]:"Port\\_"']) },
  '21b-ilike-unescaped-underscore.http': { kind: 'http', request: list(['filter', 'addressCustom.addressCity[ilike]:"Port_"']) },
  '22-ilike-comma-value.http': {
    kind: 'http',
    request: list(['limit', '24'], ['order_by', PRICE_ASC], ['filter', 'addressCustom.addressCity[ilike]:"Porto, Lisbon"']),
  },
  '23-no-auth.http': { kind: 'http', request: { ...list(['limit', '1']), auth: 'none' } },
  '24-bad-key.http': { kind: 'http', request: { ...list(['limit', '1']), auth: 'wrong' } },
  '25-unknown-plural.http': { kind: 'http', request: { method: 'GET', path: '/rest/listings', query: [['limit', '1']] } },
  '26-limit-invalid.http': { kind: 'http', request: list(['limit', 'abc']) },
  '27-limit-zero.http': { kind: 'http', request: list(['limit', '0'], ['order_by', PRICE_ASC]) },
  '28-limit28.http': { kind: 'http', request: list(['limit', '28'], ['order_by', PRICE_ASC]) },
  '29-after-last-nonnull-cursor.http': { kind: 'http', request: list(['limit', '28'], ['order_by', PRICE_ASC], ['starting_after', CURSOR.after28]) },
  '30-ratelimit-first-ok-headers.json': { kind: 'ratelimit-headers', request: one(IDS.gaia29), note: 'the headers of the first answer of a run of get-ones' },
  '30-ratelimit-first-refusal.json': { kind: 'ratelimit-refusal', request: one(IDS.gaia29), note: 'the run: `i` queries admitted, the next refused at `t` ms' },
  '31-ratelimit2-first-ok-headers.json': { kind: 'ratelimit-headers', request: one(IDS.porto20), note: 'a second run, five minutes later' },
  '31-ratelimit2-first-refusal.json': { kind: 'ratelimit-refusal', request: one(IDS.porto20) },
  '40-create-webhook.http': {
    kind: 'http',
    at: '2026-12-06T14:46:16.469Z',
    request: {
      method: 'POST',
      path: '/rest/webhooks',
      body: { id: IDS.hookWebhook, targetUrl: TARGETS.hook, operations: ['*.*'], description: 'feasibility capture', secret: SECRET },
    },
  },
  '41-patch-safe-mode.http': {
    kind: 'http',
    status: 200,
    at: '2026-12-06T14:46:20.047Z',
    before: [
      {
        kind: 'safeMode',
        on: true,
        why: "the worker's default OUTBOUND_HTTP_SAFE_MODE_ENABLED=true: no webhook to 127.0.0.1 for this patch (hooks/ starts at the create)",
      },
    ],
    request: { method: 'PATCH', path: `${PROPERTY}/${IDS.gaia29}`, body: { bedrooms: 5 } },
    note: 'the recording kept the body only',
  },
  '42-create-one.http': {
    kind: 'http',
    at: '2026-12-06T14:47:20.425Z',
    before: [{ kind: 'safeMode', on: false, why: 'the worker restarted with OUTBOUND_HTTP_SAFE_MODE_ENABLED=false: hooks/002- onwards' }],
    request: {
      method: 'POST',
      path: PROPERTY,
      body: {
        id: IDS.created,
        name: 'Webhook test flat',
        price: { amountMicros: 123_000_000_000, currencyCode: 'EUR' },
        bedrooms: 2,
        addressCustom: { addressStreet1: '9 Rua Nova', addressCity: 'Porto', addressCountry: 'Portugal' },
        description: { markdown: 'Hook **test**', blocknote: CREATED_BLOCKNOTE },
        propertyType: 'APARTMENT',
        features: [],
      },
    },
  },
  '43-patch-one.http': {
    kind: 'http',
    at: '2026-12-06T14:47:24.645Z',
    request: {
      method: 'PATCH',
      path: `${PROPERTY}/${IDS.created}`,
      body: {
        price: { amountMicros: 99_000_000_000, currencyCode: 'EUR' },
        addressCustom: { addressStreet1: '1 Avenida', addressCity: 'Lisbon', addressCountry: 'Portugal' },
      },
    },
  },
  '44-delete-default-is-hard-destroy.http': { kind: 'http', at: '2026-12-06T14:47:28.850Z', request: { method: 'DELETE', path: `${PROPERTY}/${IDS.created}` } },
  '45-delete-soft-true.http': {
    kind: 'http',
    at: '2026-12-06T14:47:52.433Z',
    request: { method: 'DELETE', path: `${PROPERTY}/${IDS.braga4}`, query: [['soft_delete', 'true']] },
  },
  '46-get-soft-deleted.http': { kind: 'http', request: one(IDS.braga4) },
  '46b-list-after-soft-delete.http': { kind: 'http', request: list(['limit', '200'], ['order_by', PRICE_ASC]) },
  '47-restore.http': { kind: 'http', request: { method: 'PATCH', path: `/rest/restore/properties/${IDS.braga4}` } },
  '48-get-destroyed.http': { kind: 'http', request: one(IDS.created) },
  '49-restore-graphql.json': {
    kind: 'body',
    status: 200,
    at: '2026-12-06T14:48:09.113Z',
    request: { method: 'POST', path: '/graphql', body: { query: `mutation { restoreProperty(id: "${IDS.braga4}") { id deletedAt } }` } },
    note: 'REST 2.21 has no restore (47-): GraphQL does it',
  },
  '50-get-restored.http': { kind: 'http', request: one(IDS.braga4) },
  '51-create-webhook-listings.http': {
    kind: 'http',
    at: '2026-12-06T14:49:29.208Z',
    before: [
      {
        kind: 'addField',
        at: '2026-12-06T14:48:19.737Z',
        name: 'agentNotes',
        type: 'TEXT',
        label: 'Agent notes',
        why: 'hooks/007- to 009-: a TEXT field added',
      },
    ],
    request: {
      method: 'POST',
      path: '/rest/webhooks',
      body: { id: IDS.listingsWebhook, targetUrl: TARGETS.listings, operations: ['*.*'], description: 'listings SSR', secret: SECRET },
    },
  },
  '52-patch-target.http': {
    kind: 'http',
    status: 200,
    at: '2026-12-06T14:49:39.711Z',
    request: {
      method: 'PATCH',
      path: `${PROPERTY}/${IDS.porto20}`,
      body: {
        price: { amountMicros: 199_000_000_000, currencyCode: 'EUR' },
        addressCustom: { addressStreet1: '77 Rua Augusta', addressCity: 'Lisbon', addressPostcode: '1100-048' },
      },
    },
    note: 'the recording kept the body only',
  },
  '53-newest-p1.http': {
    kind: 'http',
    before: [
      {
        kind: 'request',
        at: '2026-12-06T14:50:01.747Z',
        why: 'hooks/011-: a soft delete (not recorded as REST); 53- and 54- list 29 records',
        method: 'DELETE',
        path: `${PROPERTY}/${IDS.faro12}`,
        query: [['soft_delete', 'true']],
      },
      { kind: 'addField', at: '2026-12-06T14:50:01.898Z', name: 'internalRef', type: 'TEXT', label: 'Internal ref', why: 'hooks/012- to 014-' },
    ],
    request: list(['limit', '24'], ['order_by', NEWEST]),
  },
  '54-newest-p2.http': { kind: 'http', request: list(['limit', '24'], ['order_by', NEWEST], ['starting_after', CURSOR.after53]) },
  '55-create-webhook-dead.http': {
    kind: 'http',
    status: 201,
    at: '2026-12-06T14:51:01.891Z',
    request: {
      method: 'POST',
      path: '/rest/webhooks',
      body: { id: IDS.deadWebhook, targetUrl: TARGETS.dead, operations: ['property.*'], description: 'dead target', secret: SECRET },
    },
    note: 'the recording kept the body only',
  },
  '56-upsert-existing.http': {
    kind: 'http',
    at: '2026-12-06T14:51:03.959Z',
    request: { method: 'POST', path: PROPERTY, query: [['upsert', 'true']], body: { id: IDS.porto17, bedrooms: 4 } },
  },
  '57-metadata-objects-limit5.http': { kind: 'http', request: { method: 'GET', path: '/rest/metadata/objects', query: [['limit', '5']] }, exact: metadataPage },
  '58-ilike-empty-city.http': { kind: 'http', request: list(['limit', '24'], ['order_by', PRICE_ASC], ['filter', 'addressCustom.addressCity[ilike]:""']) },
};
