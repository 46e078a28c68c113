import { createEntry, decodeEntry, encodeEntry, ENTRY_FORMAT_VERSION, freshnessLeftMs } from '../../src/entry/cache-entry';

const body = Buffer.concat([Buffer.from('<!DOCTYPE html><p>héllo</p>'), Buffer.from([0, 255, 1])]);
const entry = createEntry({ status: 200, contentType: 'text/html; charset=utf-8', freshTtl: 60, body, tags: ['listing:1'] });

/** An envelope written by hand around a header of the test's choosing: magic, version, invalidatedAt, header length, header, body. */
function envelope(header: object, invalidatedAt: number, entryBody: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(17);
  prefix.write('SSRC', 0, 'latin1');
  prefix.writeUInt8(ENTRY_FORMAT_VERSION, 4);
  prefix.writeDoubleBE(invalidatedAt, 5);
  prefix.writeUInt32BE(json.length, 13);
  return Buffer.concat([prefix, json, entryBody]);
}

describe('the stored entry envelope', () => {
  it('round-trips every field and the body byte for byte', () => {
    const decoded = decodeEntry(encodeEntry(entry));
    expect(decoded).toEqual(entry);
    expect(decoded!.body.equals(body)).toBe(true);
  });

  it('round-trips every field, reads a header without contentType or headers as their defaults, and reads older entries', () => {
    const full = createEntry({
      status: 404,
      contentType: 'application/xml',
      freshTtl: 60,
      grace: 5,
      keep: 600,
      build: '1.2.3+abc',
      headers: [['link', '</a>; rel=preload']],
      body,
    });
    expect(decodeEntry(encodeEntry(full))).toEqual(full);
    // The status first (a script reads it at a fixed offset); no stale-if-error is not written.
    const header = encodeEntry(entry).toString('latin1');
    expect(header).toContain('{"status":200,');
    expect(header).not.toContain('"keep"');
    // A header without contentType and headers reads as the defaults (a later release may leave them out).
    const { body: bare, invalidatedAt, contentType: _type, headers: _headers, status, ...rest } = entry;
    expect(decodeEntry(envelope({ status, ...rest, bodyLength: bare.length }, invalidatedAt, bare))).toEqual(entry);
    // An entry written before this change (every field present, status not first) still reads.
    const { body: _body, invalidatedAt: _at, ...fields } = entry;
    expect(decodeEntry(envelope({ ...fields, bodyLength: bare.length }, invalidatedAt, bare))).toEqual(entry);
  });

  it('carries a strong ETag computed from the body at store time', () => {
    expect(entry.etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    const other = createEntry({ status: 200, contentType: 'text/html', freshTtl: 60, body: Buffer.from('other') });
    expect(other.etag).not.toBe(entry.etag);
  });

  it('treats a truncated value as no entry', () => {
    const encoded = encodeEntry(entry);
    expect(decodeEntry(encoded.subarray(0, encoded.length - 1))).toBeUndefined();
    expect(decodeEntry(encoded.subarray(0, 12))).toBeUndefined();
  });

  it('treats another format version, foreign data and a broken header as no entry', () => {
    const encoded = Buffer.from(encodeEntry(entry));
    encoded.writeUInt8(ENTRY_FORMAT_VERSION + 1, 4);
    expect(decodeEntry(encoded)).toBeUndefined();
    expect(decodeEntry(Buffer.from('{"status":200,"body":"<html>"}'))).toBeUndefined();
    expect(decodeEntry(Buffer.from('SSRC\u0001\u0000\u0000\u0000\u0003{x}'))).toBeUndefined();
    expect(decodeEntry(null)).toBeUndefined();
  });

  it('reports freshness left from storedAt and the fresh TTL', () => {
    expect(freshnessLeftMs({ ...entry, storedAt: 1_000 }, 31_000)).toBe(30_000);
    expect(freshnessLeftMs({ ...entry, storedAt: 1_000 }, 62_000)).toBeLessThan(0);
  });
});
