import { createEntry, decodeEntry, encodeEntry } from '../../src/entry/cache-entry';
import { PreparedPage } from '../../src/entry/prepared-page';

const storedAt = Date.parse('2026-03-10T12:00:00.250Z');
const page = (fields: Partial<Parameters<typeof createEntry>[0]> = {}) =>
  createEntry({ status: 200, contentType: 'text/html', freshTtl: 60, storedAt, body: Buffer.from('<p>page</p>'), ...fields });

describe("a page's Last-Modified", () => {
  it('is the render time when the route sends none', () => {
    expect(new PreparedPage(page()).lastModified).toBe('Tue, 10 Mar 2026 12:00:00 GMT');
  });

  it("is the route's own date, as an IMF-fixdate", () => {
    const own = page({ headers: [['last-modified', 'Sunday, 01-Mar-26 08:30:00 GMT']] });
    expect(new PreparedPage(own).lastModified).toBe('Sun, 01 Mar 2026 08:30:00 GMT');
  });

  it("is never after the render (RFC 9110 8.8.2.1): a route's date in the future is the render time", () => {
    const ahead = page({ headers: [['last-modified', 'Fri, 10 Apr 2026 12:00:00 GMT']] });
    expect(new PreparedPage(ahead).lastModified).toBe('Tue, 10 Mar 2026 12:00:00 GMT');
  });

  it('is the date the entry carries (kept from the page it replaced) before any other', () => {
    const kept = page({ lastModified: Date.parse('2026-02-01T00:00:00Z'), headers: [['last-modified', 'Sun, 01 Mar 2026 08:30:00 GMT']] });
    const prepared = new PreparedPage(kept);
    expect(prepared.lastModified).toBe('Sun, 01 Feb 2026 00:00:00 GMT');
    expect(prepared.variant('identity').headers.filter((value) => value === 'Last-Modified')).toHaveLength(1);
    expect(prepared.notModifiedSince(Date.parse('Sun, 01 Feb 2026 00:00:00 GMT'))).toBe(true);
  });

  it('is stored in the entry and read back; an entry without it (an earlier release) still reads', () => {
    const kept = page({ lastModified: Date.parse('2026-02-01T00:00:00Z') });
    expect(decodeEntry(encodeEntry(kept))?.lastModified).toBe(kept.lastModified);
    const plain = decodeEntry(encodeEntry(page()));
    expect(plain).toBeDefined();
    expect(plain).not.toHaveProperty('lastModified');
    expect(encodeEntry(page()).toString('latin1')).not.toContain('lastModified');
  });
});
