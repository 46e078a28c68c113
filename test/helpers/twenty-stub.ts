import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TwentyStub {
  url: string;
  requests: { path: string; query: URLSearchParams; authorization?: string }[];
  /** Replaces how the stub answers; default: the records given at start. */
  respond: (req: IncomingMessage, path: string, query: URLSearchParams) => { status: number; body?: unknown; delayMs?: number };
  close(): Promise<void>;
}

export function twentyRecord(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `Listing ${id}`,
    description: { markdown: `Description of listing ${id}.`, blocknote: null },
    price: { amountMicros: 250_000_000_000 + Number.parseInt(id.replace(/\D/g, '') || '0', 10) * 1_000_000, currencyCode: 'EUR' },
    city: 'Lisbon',
    address: { addressStreet1: '1 Harbour Street', addressCity: 'Lisbon' },
    bedrooms: 2,
    bathrooms: 1,
    areaSqm: 70,
    photos: { primaryLinkUrl: `https://cdn.example.com/${id}/1.jpg`, secondaryLinks: [{ url: `https://cdn.example.com/${id}/2.jpg` }] },
    featured: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-02-01T00:00:00.000Z',
    ...overrides,
  };
}

/**
 * A local stand-in for Twenty's REST API: `GET /rest/listings/:id` and `GET /rest/listings`
 * with cursor pages (`limit`, `starting_after`), in Twenty's response shapes.
 */
export async function startTwentyStub(records: Record<string, unknown>[]): Promise<TwentyStub> {
  const stub: TwentyStub = {
    url: '',
    requests: [],
    respond: (_req, path, query) => {
      const one = /^\/rest\/listings\/([^/]+)$/.exec(path);
      if (one) {
        const record = records.find((candidate) => candidate.id === decodeURIComponent(one[1]!));
        return record ? { status: 200, body: { data: { listing: record } } } : { status: 404, body: { error: 'NotFound' } };
      }
      if (path === '/rest/listings') {
        const limit = Number(query.get('limit') ?? 60);
        const after = query.get('starting_after');
        const start = after ? records.findIndex((record) => record.id === after) + 1 : 0;
        const page = records.slice(start, start + limit);
        return {
          status: 200,
          body: {
            data: { listings: page },
            pageInfo: { hasNextPage: start + limit < records.length, endCursor: page.at(-1)?.id, startCursor: page[0]?.id },
            totalCount: records.length,
          },
        };
      }
      // The metadata API names the object's singular, as Twenty's own `GET /rest/metadata/objects` does.
      if (path === '/rest/metadata/objects') {
        return {
          status: 200,
          body: {
            data: {
              objects: [
                {
                  id: '7c1e0a3e-1f5d-4a39-9c1e-5b2a7f0c9d11',
                  nameSingular: 'listing',
                  namePlural: 'listings',
                  labelSingular: 'Listing',
                  labelPlural: 'Listings',
                  isCustom: true,
                  isActive: true,
                },
              ],
            },
            pageInfo: { hasNextPage: false },
            totalCount: 1,
          },
        };
      }
      return { status: 404, body: { error: 'NotFound' } };
    },
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    stub.requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    const answer = stub.respond(req, url.pathname, url.searchParams);
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
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
