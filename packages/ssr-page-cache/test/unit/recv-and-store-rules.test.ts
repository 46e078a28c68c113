import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { bypassReason, compileIgnoredCookies, dropIgnoredCookies } from '../../src/flow/recv';
import { headersToStore, notStoredHeaders, uncacheableReason, type StoreRules } from '../../src/flow/store';

function requestWith(headers: Record<string, string>): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = headers;
  return req;
}

function responseWith(status: number, headers: Record<string, string | string[]>): ServerResponse {
  const res = new ServerResponse(requestWith({}));
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  return res;
}

const LIVE = ['x-request-id', 'x-correlation-id', 'request-id', 'traceparent', 'tracestate'];
const page = { body: Buffer.from('<h1>page</h1>'), encoding: 'identity' };
const lifetime = { freshTtl: 60, grace: 10, keep: 0 };
const rules = (sharedWithPeople: boolean): StoreRules => ({ sharedWithPeople, notStored: notStoredHeaders(LIVE) });

describe('recv: who may share a page', () => {
  const ignored = compileIgnoredCookies(['_ga', /^_gid/g]);

  it('says why a request bypasses the cache', () => {
    expect(bypassReason(requestWith({}), false, false, undefined)).toBe('human-agent');
    expect(bypassReason(requestWith({}), false, true, undefined)).toBeUndefined();
    expect(bypassReason(requestWith({ authorization: 'Bearer x' }), true, false, ignored)).toBe('credentials');
    expect(bypassReason(requestWith({ cookie: '_ga=1' }), true, false, undefined)).toBe('cookie');
  });

  it('takes a request whose cookies are all ignored as one without cookies, however often a RegExp is asked', () => {
    for (let i = 0; i < 3; i += 1) expect(bypassReason(requestWith({ cookie: '_ga=GA1.2; _gid_1=x;' }), false, true, ignored)).toBeUndefined();
    expect(bypassReason(requestWith({ cookie: '_ga=1; sid=2' }), false, true, ignored)).toBe('cookie');
    expect(bypassReason(requestWith({ cookie: 'nameless' }), false, true, ignored)).toBe('cookie');
    expect(compileIgnoredCookies([])).toBeUndefined();
  });

  it('renders such a request without the ignored cookies, also when cookie-parser ran first', () => {
    const req = Object.assign(requestWith({ cookie: '_ga=1' }), { cookies: { _ga: '1' }, signedCookies: {} });
    dropIgnoredCookies(req, ignored!);
    expect([req.headers.cookie, req.cookies]).toEqual([undefined, {}]);
  });
});

describe('store: what may be shared', () => {
  it('stores no per-request header, whatever its case, and none that describes one answer', () => {
    const res = responseWith(200, {
      'X-Request-Id': '7',
      traceparent: '00-abc-def-01',
      'X-Cache': 'MISS',
      'X-Cache-Reason': 'absent',
      'Content-Length': '13',
      Link: ['</a.css>; rel=preload', '</b.js>; rel=preload'],
      'X-Robots-Tag': 'all',
    });
    expect(headersToStore(res, notStoredHeaders(['X-Request-Id', 'traceparent']))).toEqual([
      ['link', '</a.css>; rel=preload'],
      ['link', '</b.js>; rel=preload'],
      ['x-robots-tag', 'all'],
    ]);
  });

  it('refuses a CSP nonce only on pages shared with people, in either CSP header', () => {
    for (const name of ['Content-Security-Policy', 'Content-Security-Policy-Report-Only']) {
      const res = responseWith(200, { [name]: "script-src 'self' 'NONCE-abc'" });
      expect([uncacheableReason(res, page, lifetime, rules(true)), uncacheableReason(res, page, lifetime, rules(false))]).toEqual(['csp-nonce', undefined]);
    }
    expect(uncacheableReason(responseWith(200, { 'Content-Security-Policy': "script-src 'sha256-abc'" }), page, lifetime, rules(true))).toBeUndefined();
  });

  it("puts the route's own word first, then the status, cookies, Cache-Control and Vary", () => {
    const cookie = responseWith(200, { 'Set-Cookie': 'a=1', Vary: 'Origin' });
    expect(uncacheableReason(cookie, page, lifetime, rules(false), 'promo')).toBe('promo');
    expect(uncacheableReason(cookie, page, undefined, rules(false))).toBe('status');
    expect(uncacheableReason(cookie, page, lifetime, rules(false))).toBe('set-cookie');
    expect(uncacheableReason(responseWith(200, { 'Cache-Control': 'private' }), page, lifetime, rules(false))).toBe('cache-control');
    expect(uncacheableReason(responseWith(200, { Vary: 'Accept-Encoding, Origin' }), page, lifetime, rules(false))).toBe('vary');
    expect(uncacheableReason(responseWith(200, {}), { body: undefined, encoding: 'identity' }, lifetime, rules(false))).toBe('too-large');
  });
});
