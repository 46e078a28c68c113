import { createEntry, decodeEntry, encodeEntry, ENTRY_FORMAT_VERSION, freshnessLeftMs } from '../../server/page-cache/entry/cache-entry';

const body = Buffer.concat([Buffer.from('<!DOCTYPE html><p>héllo</p>'), Buffer.from([0, 255, 1])]);
const entry = createEntry({ status: 200, contentType: 'text/html; charset=utf-8', freshTtl: 60, body, tags: ['listing:1'] });

describe('the stored entry envelope', () => {
  it('round-trips every field and the body byte for byte', () => {
    const decoded = decodeEntry(encodeEntry(entry));
    expect(decoded).toEqual(entry);
    expect(decoded!.body.equals(body)).toBe(true);
  });

  it('round-trips the fields it leaves out when they hold their defaults, and everything else', () => {
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
    // The default content type, no headers and no stale-if-error are not written: fewer bytes per page in Redis.
    const header = encodeEntry(entry).toString('latin1');
    expect(header).not.toContain('contentType');
    expect(header).not.toContain('"headers"');
    expect(header).toContain('{"status":200,');
    expect(decodeEntry(encodeEntry(entry))).toMatchObject({ contentType: 'text/html; charset=utf-8', headers: [] });
    // An entry written before this change (every field present, status not first) still reads.
    const { body: oldBody, invalidatedAt, ...fields } = entry;
    const json = Buffer.from(JSON.stringify({ ...fields, bodyLength: oldBody.length }));
    const prefix = Buffer.alloc(17);
    prefix.write('SSRC', 0, 'latin1');
    prefix.writeUInt8(ENTRY_FORMAT_VERSION, 4);
    prefix.writeDoubleBE(invalidatedAt, 5);
    prefix.writeUInt32BE(json.length, 13);
    expect(decodeEntry(Buffer.concat([prefix, json, oldBody]))).toEqual(entry);
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
