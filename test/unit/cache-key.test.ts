import { loadConfig, pageCacheRoutes } from '../../server/config';
import { compileRoutes } from '../../packages/ssr-page-cache/src/options';
import { generateCacheKey, MAX_KEY_LENGTH, resolvePage } from '../../packages/ssr-page-cache/src/key';

const table = compileRoutes(pageCacheRoutes(loadConfig({}).cache));
const key = (url: string) => generateCacheKey({ url }, table);

describe('generateCacheKey', () => {
  // The story spelled `/listings?page=1` as `ssr:/listings?page=1`; page 1 is the page without
  // the parameter, so it shares `/listings`'s entry (one page rendered, stored and invalidated once).
  it.each([
    ['/', 'ssr:/'],
    ['/listings?page=1', 'ssr:/listings'],
    ['/listings/123', 'ssr:/listings/123'],
    ['/listings?sort=price_asc&page=2', 'ssr:/listings?page=2&sort=price_asc'],
  ])('maps the story example %s to %s', (url, expected) => {
    expect(key(url)).toBe(expected);
  });

  it('folds parameters spelled to the route default into the page without them (one page, one key)', () => {
    for (const url of [
      '/listings',
      '/listings?page=1',
      '/listings?sort=newest',
      '/listings?page=1&sort=newest',
      '/listings?page=01&sort=NEWEST',
      '/listings?sort=%20Newest%20',
    ]) {
      expect([url, key(url)]).toEqual([url, 'ssr:/listings']);
    }
    for (const url of ['/listings?city=porto', '/listings?city=Porto&page=1', '/listings?sort=newest&city=porto', '/listings?page=1&sort=newest&city=PORTO']) {
      expect([url, key(url)]).toEqual([url, 'ssr:/listings?city=porto']);
    }
    // Not a default: kept. The first non-empty value still wins, a default included.
    expect(key('/listings?page=2&sort=newest')).toBe('ssr:/listings?page=2');
    expect(key('/listings?page=1&page=2')).toBe('ssr:/listings');
    expect(resolvePage('/listings?page=1&sort=newest&utm_source=x', table)?.url).toBe('/listings');
  });

  it('refuses a default for a parameter the route does not keep, naming it', () => {
    expect(() => compileRoutes({ '/list': { ttl: 60, query: ['page'], queryDefaults: { sort: 'newest' } } })).toThrow(
      '"/list": queryDefaults.sort names a parameter that is not in query',
    );
  });

  it('gives one key to every spelling of one page', () => {
    const variants = [
      '/listings?city=New%20York&page=2',
      '/listings?city=new+york&page=2',
      '/listings?page=2&city=NEW%20YORK',
      '/listings?page=02&city=%20new%20%20york%20',
      '/listings?page=2&city=new%20york&page=3',
      '/listings?page=&page=2&city=new%20york',
      '/listings?page=2&city=new%20york&utm_source=google&utm_medium=cpc&gclid=abc&fbclid=xyz',
      '/listings?page=2&city=new%20york&junk=1&sessionid=42',
      '/listings/?page=2&city=new%20york',
      '/LISTINGS?page=2&city=new%20york',
    ];
    expect(new Set(variants.map(key))).toEqual(new Set(['ssr:/listings?city=new%20york&page=2']));
  });

  it('drops empty values and unknown parameters entirely', () => {
    expect(key('/listings?page=&sort=&city=')).toBe('ssr:/listings');
    expect(key('/?utm_campaign=x&ref=y')).toBe('ssr:/');
    expect(key('/listings/123?page=4')).toBe('ssr:/listings/123');
  });

  it('folds any run of leading zeros in a page number, however long, into one key', () => {
    expect(key('/listings?page=0000000002')).toBe('ssr:/listings?page=2');
    expect(key(`/listings?page=${'0'.repeat(500)}2`)).toBe('ssr:/listings?page=2');
    expect(key(`/listings?page=${'0'.repeat(40)}1`)).toBe('ssr:/listings');
    // Digits, not a Number: a value past 2^53 keeps every digit (the route rejects it).
    expect(key('/listings?page=0099999999999999999999')).toBe('ssr:/listings?page=99999999999999999999');
    expect(key('/listings?page=0000000000000')).toBe('ssr:/listings?page=0');
  });

  it('keeps page values it cannot canonicalise, so the route can reject them', () => {
    expect(key('/listings?page=abc')).toBe('ssr:/listings?page=abc');
  });

  it('spells path parameters canonically', () => {
    expect(key('/listings/%31%32%33')).toBe('ssr:/listings/123');
    expect(key('/listings/a%20b')).toBe('ssr:/listings/a%20b');
  });

  it('returns undefined for routes without a cache policy and for malformed paths', () => {
    expect(key('/health')).toBeUndefined();
    expect(key('/listings/1/photos')).toBeUndefined();
    expect(key('/listings/%E0%A4%A')).toBeUndefined();
    expect(key('http://evil.example/listings')).toBeUndefined();
  });

  it('hashes over-long keys into a bounded, stable, distinct key', () => {
    const long = (city: string) => `/listings?city=${city.repeat(600)}`;
    const first = key(long('a'));
    const second = key(long('b'));
    expect(first).toMatch(/^ssr:\/listings\?city=a+#[0-9a-f]{64}$/);
    expect(first!.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    expect(key(long('a'))).toBe(first);
    expect(second).not.toBe(first);
  });

  it('resolves the canonical URL the route is rewritten to', () => {
    expect(resolvePage('/listings?b=1&sort=PRICE_ASC&page=003&utm_source=x', table)).toMatchObject({
      url: '/listings?page=3&sort=price_asc',
      policy: { route: 'browse', ttlSeconds: 1800 },
    });
  });
});
