import zlib from 'node:zlib';
import { compressForStorage, decodeSentBody, preferredEncoding } from '../../src/entry/content-encoding';
import { createEntry } from '../../src/entry/cache-entry';
import { PreparedPage } from '../../src/entry/prepared-page';

const html = Buffer.from(`<!DOCTYPE html><html><body>${'<p>post</p>'.repeat(500)}</body></html>`);

describe('preferredEncoding', () => {
  it.each([
    ['gzip, deflate, br', 'br'],
    ['br;q=1.0, gzip;q=0.8, *;q=0.1', 'br'],
    ['gzip, deflate', 'gzip'],
    ['gzip;q=1, br;q=0', 'gzip'],
    ['identity', 'identity'],
    ['*', 'br'],
    ['*;q=0, identity', 'identity'],
    ['', 'identity'],
    [undefined, 'identity'],
    ['gzip;q=abc, br;q=0', 'identity'],
  ])('chooses for %p: %s', (header, expected) => {
    expect(preferredEncoding(header)).toBe(expected);
  });
});

describe('stored compression', () => {
  it('stores a page as brotli well under a third of its size, and decodes it back', async () => {
    const stored = await compressForStorage(html);
    expect(stored.length).toBeLessThan(html.length * 0.3);
    expect(zlib.brotliDecompressSync(stored).equals(html)).toBe(true);
  });

  it('decodes what a handler or compression middleware sent, and refuses what does not decode', async () => {
    expect((await decodeSentBody(zlib.gzipSync(html), 'gzip'))?.equals(html)).toBe(true);
    expect((await decodeSentBody(zlib.deflateSync(html), 'deflate'))?.equals(html)).toBe(true);
    expect((await decodeSentBody(zlib.brotliCompressSync(html), 'br'))?.equals(html)).toBe(true);
    expect((await decodeSentBody(html, 'identity'))?.equals(html)).toBe(true);
    expect(await decodeSentBody(html, 'gzip')).toBeUndefined();
    expect(await decodeSentBody(html, 'compress')).toBeUndefined();
  });
});

describe('PreparedPage', () => {
  it('serves each coding from one stored body, each with its own strong ETag', async () => {
    const identityEtag = '"abc"';
    const page = new PreparedPage(
      createEntry({ status: 200, contentType: 'text/html', freshTtl: 60, etag: identityEtag, encoding: 'br', body: await compressForStorage(html) }),
    );
    expect(page.hasVariant('identity')).toBe(false);
    const identity = page.variant('identity');
    const gzip = page.variant('gzip');
    const br = page.variant('br');
    expect(identity.body.equals(html)).toBe(true);
    expect(zlib.gunzipSync(gzip.body).equals(html)).toBe(true);
    expect(zlib.brotliDecompressSync(br.body).equals(html)).toBe(true);
    expect([identity.etag, br.etag, gzip.etag]).toEqual(['"abc"', '"abc-br"', '"abc-gz"']);
    expect(br.headers).toEqual(expect.arrayContaining(['Content-Encoding', 'br', 'Vary', 'Accept-Encoding', 'Content-Length', br.body.length]));
    expect(identity.headers).not.toContain('Content-Encoding');
    // If-None-Match names one representation (weakly compared): another coding's tag is other bytes.
    expect(page.matchesIfNoneMatch('"other", W/"abc-br"', 'br')).toBe(true);
    expect(page.matchesIfNoneMatch('"abc-br"', 'identity')).toBe(false);
    expect(page.matchesIfNoneMatch('"abc", "abc-br"', 'gzip')).toBe(false);
    expect(page.matchesIfNoneMatch('"abcd"', 'identity')).toBe(false);
    expect(page.matchesIfNoneMatch('*', 'gzip')).toBe(true);
  });

  it.each(['identity', 'gzip'] as const)('serves every coding of an entry stored as %s (one written through the Redis tier by hand)', (stored) => {
    const body = stored === 'gzip' ? zlib.gzipSync(html) : html;
    const page = new PreparedPage(createEntry({ status: 200, contentType: 'text/html', freshTtl: 60, etag: '"abc"', encoding: stored, body }));
    for (const encoding of ['br', 'gzip', 'identity'] as const) {
      const variant = page.variant(encoding);
      expect(variant).toBeDefined();
      expect(decode(encoding, variant.body).equals(html)).toBe(true);
    }
  });
});

function decode(encoding: 'br' | 'gzip' | 'identity', body: Buffer): Buffer {
  if (encoding === 'br') return zlib.brotliDecompressSync(body);
  if (encoding === 'gzip') return zlib.gunzipSync(body);
  return body;
}
