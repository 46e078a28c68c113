import zlib from 'node:zlib';
import type { TestAppHandle } from '../helpers/app';
import { GOOGLEBOT, useAppOnRealRedis, waitForStored } from '../helpers/app';
import { listen, rawRequest } from '../helpers/raw-http';

/** What a crawler compares between two fetches of a page: everything but the per-answer headers. */
const PER_ANSWER = new Set(['x-cache', 'x-cache-reason', 'age', 'date', 'server-timing', 'connection', 'keep-alive']);
const endToEnd = (headers: Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_ANSWER.has(name)));

describe('a MISS sends what every later HIT sends', () => {
  const context = useAppOnRealRedis('miss-representation');
  let handle: TestAppHandle;
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    handle = context.handle;
    const server = await listen(handle.handler);
    url = server.url;
    close = server.close;
  });
  afterAll(async () => close());

  it.each([
    ['br', 'gzip, deflate, br', 'br', '/listings/31'],
    ['gzip', 'gzip', 'gzip', '/listings/32'],
    ['identity', 'identity', undefined, '/listings/33'],
  ])('the same bytes, strong ETag and headers on MISS and HIT for a %s client', async (_name, acceptEncoding, coding, path) => {
    const headers = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': acceptEncoding };
    const miss = await rawRequest(`${url}${path}`, headers);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['content-encoding']).toBe(coding);
    expect(miss.headers.etag).toMatch(/^"[^"]+"$/);
    expect(miss.headers.vary).toBe('Accept-Encoding');
    await waitForStored(handle, `ssr:${path}`);
    const hit = await rawRequest(`${url}${path}`, headers);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.equals(miss.body)).toBe(true);
    expect(endToEnd(hit.headers)).toEqual(endToEnd(miss.headers));
    const html = coding === 'br' ? zlib.brotliDecompressSync(miss.body) : coding === 'gzip' ? zlib.gunzipSync(miss.body) : miss.body;
    expect(html.toString()).toContain('</html>');
  });

  it('answers a revalidation on a MISS with 304 when the page rendered again is the same', async () => {
    const headers = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'br' };
    await rawRequest(`${url}/listings/44`, headers);
    await waitForStored(handle, 'ssr:/listings/44');
    // The validator a crawler holds from a HIT.
    const first = await rawRequest(`${url}/listings/44`, headers);
    expect(first.headers['x-cache']).toBe('HIT');
    await handle.pageCache.invalidate({ paths: ['/listings/44'] });
    const again = await rawRequest(`${url}/listings/44`, { ...headers, 'If-None-Match': first.headers.etag as string });
    expect(again.headers['x-cache']).toBe('MISS');
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(first.headers.etag);
  });

  it('sends one Last-Modified on MISS and HIT, and answers If-Modified-Since, If-None-Match winning when both come', async () => {
    const headers = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'br' };
    const miss = await rawRequest(`${url}/listings/45`, headers);
    const lastModified = miss.headers['last-modified'] as string;
    expect(Date.parse(lastModified)).not.toBeNaN();
    await waitForStored(handle, 'ssr:/listings/45');
    const hit = await rawRequest(`${url}/listings/45`, headers);
    expect(hit.headers['last-modified']).toBe(lastModified);
    const revalidated = await rawRequest(`${url}/listings/45`, { ...headers, 'If-Modified-Since': lastModified });
    expect([revalidated.status, revalidated.headers['last-modified'], revalidated.body.length]).toEqual([304, lastModified, 0]);
    const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    expect((await rawRequest(`${url}/listings/45`, { ...headers, 'If-Modified-Since': older })).status).toBe(200);
    // A validator that does not match wins over a date that would.
    expect((await rawRequest(`${url}/listings/45`, { ...headers, 'If-Modified-Since': lastModified, 'If-None-Match': '"other"' })).status).toBe(200);
    const head = await rawRequest(`${url}/listings/45`, headers, 'HEAD');
    expect(endToEnd(head.headers)).toEqual(endToEnd(hit.headers));
  });

  it('sends a response that may not be shared as the route wrote it', async () => {
    const res = await rawRequest(`${url}/listings?page=0`, { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'br' });
    expect(res.status).toBe(400);
    expect(res.headers['x-cache']).toBe('MISS');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString()).toContain('page must be a whole number');
  });

  it('sends a stored 404 on its MISS as on its HIT: the same bytes, encoding and validators', async () => {
    const headers = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'br' };
    const miss = await rawRequest(`${url}/listings/no-such-listing`, headers);
    expect([miss.status, miss.headers['x-cache'], miss.headers['content-encoding']]).toEqual([404, 'MISS', 'br']);
    await waitForStored(handle, 'ssr:/listings/no-such-listing');
    const hit = await rawRequest(`${url}/listings/no-such-listing`, headers);
    expect([hit.status, hit.headers['x-cache']]).toEqual([404, 'HIT']);
    expect(hit.body.equals(miss.body)).toBe(true);
    expect(endToEnd(hit.headers)).toEqual(endToEnd(miss.headers));
    // A 404 has nothing to revalidate: If-None-Match gets the 404 again, never a 304.
    expect((await rawRequest(`${url}/listings/no-such-listing`, { ...headers, 'If-None-Match': hit.headers.etag as string })).status).toBe(404);
  });
});
