import { GOOGLEBOT, useAppOnRealRedis, waitForStored } from '../helpers/app';
import { listen, rawRequest, type RawResponse } from '../helpers/raw-http';

const PATH = '/listings/61';
const KEY = `ssr:${PATH}`;

/** The Accept-Encoding a client sends for each representation (none at all: identity). */
const ACCEPTS = { identity: undefined, gzip: 'gzip', br: 'gzip, deflate, br' } as const;
type Coding = keyof typeof ACCEPTS;

describe('If-None-Match is compared with the representation this request gets (RFC 9110 13.1.2)', () => {
  const context = useAppOnRealRedis('validators');
  let url: string;
  let close: () => Promise<void>;
  /** The ETag of each representation of the page, as a crawler saw it. */
  let etags: Record<Coding, string>;

  const get = (coding: Coding, ifNoneMatch?: string): Promise<RawResponse> =>
    rawRequest(`${url}${PATH}`, {
      'User-Agent': GOOGLEBOT,
      ...(ACCEPTS[coding] === undefined ? {} : { 'Accept-Encoding': ACCEPTS[coding] }),
      ...(ifNoneMatch === undefined ? {} : { 'If-None-Match': ifNoneMatch }),
    });

  beforeAll(async () => {
    ({ url, close } = await listen(context.handle.handler));
  });
  afterAll(async () => close());

  beforeEach(async () => {
    const identity = await get('identity');
    await waitForStored(context.handle, KEY);
    etags = { identity: identity.headers.etag as string, gzip: (await get('gzip')).headers.etag as string, br: (await get('br')).headers.etag as string };
    expect(new Set(Object.values(etags)).size).toBe(3);
  });

  describe.each(['MISS', 'HIT'] as const)('on a %s', (outcome) => {
    it.each<{ request: string; coding: Coding; tag: (tags: Record<Coding, string>) => string; status: number }>([
      { request: 'an identity request with the gzip tag', coding: 'identity', tag: (tags) => tags.gzip, status: 200 },
      { request: 'an identity request with the br tag', coding: 'identity', tag: (tags) => tags.br, status: 200 },
      { request: 'an identity request with its own tag', coding: 'identity', tag: (tags) => tags.identity, status: 304 },
      { request: 'a br request with its own tag', coding: 'br', tag: (tags) => tags.br, status: 304 },
      { request: 'a br request with the identity tag', coding: 'br', tag: (tags) => tags.identity, status: 200 },
      { request: 'a gzip request with the br tag', coding: 'gzip', tag: (tags) => tags.br, status: 200 },
      { request: 'an identity request with its own tag, weak', coding: 'identity', tag: (tags) => `W/${tags.identity}`, status: 304 },
      { request: 'a br request with its own tag, weak, in a list', coding: 'br', tag: (tags) => `"other", W/${tags.br}`, status: 304 },
      { request: 'an identity request with the other codings’ tags', coding: 'identity', tag: (tags) => `${tags.gzip}, ${tags.br}`, status: 200 },
      { request: 'a gzip request with *', coding: 'gzip', tag: () => '*', status: 304 },
    ])('answers $request with $status', async ({ coding, tag, status }) => {
      // A MISS renders the page again (the same bytes); a HIT serves the stored one.
      if (outcome === 'MISS') await context.handle.pageCache.invalidate({ paths: [PATH] });
      const res = await get(coding, tag(etags));
      expect([res.headers['x-cache'], res.status]).toEqual([outcome, status]);
      // Either way the answer names this request's representation.
      expect(res.headers.etag).toBe(etags[coding]);
      expect(res.headers['content-encoding']).toBe(status === 304 || coding === 'identity' ? undefined : coding);
      if (status === 200) expect(res.body.length).toBeGreaterThan(1000);
      else expect(res.body.length).toBe(0);
    });
  });
});
