import { Agent, request as httpRequest } from 'node:http';
import { brotliDecompressSync } from 'node:zlib';
import request from 'supertest';
import { createEmbeddedCatalog, createRandom } from '../../server/listings/embedded-catalog';
import { LISTING_SORTS } from '../../server/listings/listing';
import { BROWSER, GOOGLEBOT, useAppOnRealRedis, waitFor, waitForStored } from '../helpers/app';
import { listen, rawExchange } from '../helpers/raw-http';
import { listKeys } from '../helpers/redis';

const PUBLIC_URL = 'https://listings.example.com';
const PAGE_SIZE = 24;

describe('hostile input', () => {
  // The render budget has its own test (negative-cache.test.ts): here every variant renders.
  const context = useAppOnRealRedis('hostile', { SSR_RENDER_BUDGET_PER_SECOND: '0' });
  let server: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    server = await listen(context.handle.handler);
  });
  afterAll(async () => {
    await server.close();
  });

  const storedKeys = async () => (await listKeys(context.redis, `${context.prefix}ssr:`)).map((key) => key.slice(context.prefix.length));
  const bot = (path: string) => request(context.handle.handler).get(path).set('User-Agent', GOOGLEBOT);

  /** Waits until the stores that follow the responses have all landed (the key count holds still). */
  async function settledKeys(): Promise<string[]> {
    let last = -1;
    return waitFor(
      async () => {
        const keys = await storedKeys();
        if (keys.length === last) return keys;
        last = keys.length;
        return undefined;
      },
      10_000,
      200,
    );
  }

  it('10,000 random query strings on the browse route store exactly one key per page variant (its 404 when it lists nothing)', async () => {
    const catalog = createEmbeddedCatalog(200);
    const random = createRandom(2026);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const allCities = [...new Set((await catalog.listListings({ page: 1, pageSize: 200, sort: 'newest' })).items.map((item) => item.city))];
    const cities = [...allCities.slice(0, 3), 'Atlantis'];
    const spell = (value: string) => {
      const cased = [...value].map((char) => (random() < 0.5 ? char.toUpperCase() : char.toLowerCase())).join('');
      const spaced = random() < 0.3 ? ` ${cased.replace(/ /g, '  ')} ` : cased;
      return encodeURIComponent(spaced).replace(/%20/g, random() < 0.5 ? '+' : '%20');
    };
    const pageValues = ['1', '01', ' 2', '2', '3', 'abc', '0', '-1', '999'];
    const sortValues = ['newest', 'PRICE_ASC', ' price_desc', 'Price_Desc', 'cheapest'];

    /** The test's own reading of a request: the canonical key it names, or why it stores nothing. */
    type Expectation = { key: string; city?: string; page: number; sort: string } | { rejected: string };
    function expectation(city: string | undefined, page: string | undefined, sort: string | undefined): Expectation {
      const cityName = city?.trim().replace(/\s+/g, ' ').toLowerCase();
      const pageText = page === undefined ? undefined : /^\d{1,9}$/.test(page.trim()) ? String(Number(page.trim())) : page.trim();
      const sortName = sort?.trim().replace(/\s+/g, ' ').toLowerCase();
      const pageNumber = pageText === undefined ? 1 : Number(pageText);
      if (!(Number.isInteger(pageNumber) && pageNumber >= 1)) return { rejected: 'page' };
      if (sortName !== undefined && !(LISTING_SORTS as readonly string[]).includes(sortName)) return { rejected: 'sort' };
      // A default (page 1, newest first) is the page without the parameter: dropped from the key.
      const params = [
        ...(cityName ? [`city=${encodeURIComponent(cityName)}`] : []),
        ...(pageText !== undefined && pageText !== '1' ? [`page=${pageText}`] : []),
        ...(sortName !== undefined && sortName !== 'newest' ? [`sort=${sortName}`] : []),
      ];
      return { key: `ssr:/listings${params.length ? `?${params.join('&')}` : ''}`, city: cityName, page: pageNumber, sort: sortName ?? 'newest' };
    }

    const requests: { path: string; expected: Expectation }[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      const city = random() < 0.7 ? pick(cities) : undefined;
      const page = random() < 0.7 ? pick(pageValues) : undefined;
      const sort = random() < 0.6 ? pick(sortValues) : undefined;
      const parts: string[] = [];
      if (city !== undefined) parts.push(`city=${spell(city)}`);
      if (page !== undefined) parts.push(random() < 0.2 ? `page=&page=${encodeURIComponent(page)}` : `page=${encodeURIComponent(page)}`);
      if (sort !== undefined) parts.push(`sort=${encodeURIComponent(sort)}`);
      // Junk a crawler or an attacker adds: tracking tags, random names, array syntax.
      for (let junk = Math.floor(random() * 4); junk > 0; junk -= 1) {
        parts.push(
          pick([
            `utm_source=${Math.floor(random() * 1e9)}`,
            `gclid=${random().toString(36).slice(2)}`,
            `x${Math.floor(random() * 1e6)}=1`,
            'page[]=7',
            'SORT=price_asc',
          ]),
        );
      }
      // Any order; a repeat of a parameter comes after it (the first non-empty value counts).
      const shuffled = parts
        .map((part) => ({ part, order: random() }))
        .sort((a, b) => a.order - b.order)
        .map(({ part }) => part);
      if (city !== undefined && random() < 0.2) shuffled.push(`city=${spell(pick(cities))}`);
      requests.push({ path: `/listings?${shuffled.join('&')}`, expected: expectation(city, page, sort) });
    }

    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const { path } = requests[next++]!;
        const status = await new Promise<number>((resolve, reject) => {
          const req = httpRequest(`${server.url}${path}`, { agent, headers: { 'User-Agent': GOOGLEBOT } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    try {
      await Promise.all(Array.from({ length: 32 }, worker));
    } finally {
      agent.destroy();
    }
    expect([...statuses.keys()].sort()).toEqual([200, 400, 404]);

    // The page variants the requests name: pages where the list has listings, 404s (stored
    // briefly) where it is empty; a rejected request (400) stores nothing.
    const expectedKeys = new Set<string>();
    const pageKeys = new Set<string>();
    for (const { expected } of requests) {
      if ('rejected' in expected || expectedKeys.has(expected.key)) continue;
      expectedKeys.add(expected.key);
      const found = await catalog.listListings({
        page: expected.page,
        pageSize: PAGE_SIZE,
        sort: expected.sort as (typeof LISTING_SORTS)[number],
        city: expected.city,
      });
      if (found.items.length > 0) pageKeys.add(expected.key);
    }
    expect(pageKeys.size).toBeGreaterThan(15);
    expect(pageKeys.size).toBeLessThan(150);
    expect(expectedKeys.size).toBeGreaterThan(pageKeys.size);
    expect(await settledKeys()).toEqual([...expectedKeys].sort());
  }, 120_000);

  it('never lets Host, X-Forwarded-Host/Proto or Forwarded into the stored or served page', async () => {
    const evil = 'evil-attacker.example.net';
    const poisoned = await bot('/listings/17')
      .set('Host', evil)
      .set('X-Forwarded-Host', evil)
      .set('X-Forwarded-Proto', 'http')
      .set('X-Forwarded-Port', '8443')
      .set('Forwarded', `host=${evil};proto=http`)
      .set('X-Original-URL', '/listings/18');
    expect(poisoned.status).toBe(200);
    expect(poisoned.headers['x-cache']).toBe('MISS');
    expect(poisoned.text).not.toContain(evil);
    expect(poisoned.text).toContain(`<link rel="canonical" href="${PUBLIC_URL}/listings/17"`);
    expect(poisoned.text).toContain(`<meta property="og:url" content="${PUBLIC_URL}/listings/17"`);

    await waitForStored(context.handle, 'ssr:/listings/17');
    const stored = (await context.handle.cache.get('ssr:/listings/17'))!;
    const html = (stored.encoding === 'br' ? brotliDecompressSync(stored.body) : stored.body).toString('utf8');
    expect(html).toContain(`${PUBLIC_URL}/listings/17`);
    expect(html).not.toContain(evil);
    expect(Object.values(poisoned.headers).join(' ')).not.toContain(evil);

    const served = await bot('/listings/17');
    expect(served.headers['x-cache']).toBe('HIT');
    expect(served.text).not.toContain(evil);
  });

  describe('malformed requests get a 4xx or a normalised key, never a 500 or an injected header', () => {
    const head = (line: string, headers: string[] = []) =>
      Buffer.from(
        `${line}\r\nHost: listings.example.com\r\nUser-Agent: ${GOOGLEBOT}\r\n${headers.map((header) => `${header}\r\n`).join('')}Connection: close\r\n\r\n`,
        'latin1',
      );
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));

    const cases: [string, Buffer, RegExp][] = [
      ['a 20 KB URL', head(`GET /listings?q=${'a'.repeat(20_000)} HTTP/1.1`), /^4\d\d$/],
      ['a 20 KB header', head('GET /listings/3 HTTP/1.1', [`X-Junk: ${'b'.repeat(20_000)}`]), /^4\d\d$/],
      // Read as a request for /listings/3 with a header line of the client's own: never echoed.
      ['a raw CR LF in the request line', head('GET /listings/3\r\nSet-Cookie: evil=1 HTTP/1.1'), /^(200|4\d\d)$/],
      ['an encoded CR LF in the path', head('GET /listings/3%0D%0ASet-Cookie:%20evil=1 HTTP/1.1'), /^404$/],
      ['an encoded CR LF in the query', head('GET /listings?city=x%0D%0ASet-Cookie:%20evil=1 HTTP/1.1'), /^404$/],
      ['an encoded NUL in the path', head('GET /listings/%00 HTTP/1.1'), /^404$/],
      ['a raw NUL in the path', bytes('GET /listings/', [0], ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^4\d\d$/],
      ['a NUL in a header value', bytes('GET /listings/3 HTTP/1.1\r\nHost: x\r\nUser-Agent: Googlebot', [0], 'x\r\nConnection: close\r\n\r\n'), /^4\d\d$/],
      ['malformed percent-encoding in the path', head('GET /listings/%E0%A4%A HTTP/1.1'), /^400$/],
      ['non-UTF-8 bytes, encoded, in the path', head('GET /listings/%FF%FE HTTP/1.1'), /^400$/],
      ['non-UTF-8 bytes, encoded, in the query', head('GET /listings?city=%FF%FE HTTP/1.1'), /^404$/],
      [
        'non-UTF-8 bytes, raw, in the path',
        bytes('GET /listings/', [0xff, 0xfe], ' HTTP/1.1\r\nHost: x\r\nUser-Agent: Googlebot\r\nConnection: close\r\n\r\n'),
        /^4\d\d$/,
      ],
      [
        'a garbage Accept-Encoding and If-None-Match',
        head('GET /listings/4 HTTP/1.1', ['Accept-Encoding: br;q=abc, gzip;q=NaN, *;q=-1, ' + 'x,'.repeat(500), 'If-None-Match: "' + '"'.repeat(300)]),
        /^200$/,
      ],
      ['an absolute-form URL naming another host', head('GET http://evil-attacker.example.net/listings/5 HTTP/1.1'), /^(200|4\d\d)$/],
    ];

    it.each(cases)('%s', async (_name, raw, status) => {
      const answer = await rawExchange(server.url, raw);
      expect(String(answer.status)).toMatch(status);
      const headers = answer.headLines.slice(1).map((line) => line.toLowerCase());
      expect(headers.some((line) => line.startsWith('set-cookie'))).toBe(false);
      expect(answer.body).not.toContain('evil-attacker');
      expect((await request(context.handle.handler).get('/health')).status).toBe(200);
    });

    it('folds an 8 KB junk query into the plain key, and stores no key for any of the requests above', async () => {
      for (const [, raw] of cases) await rawExchange(server.url, raw);
      const long = await rawExchange(server.url, head(`GET /listings?utm_source=${'c'.repeat(8000)}&page=2 HTTP/1.1`));
      expect(long.status).toBe(200);
      const keys = await settledKeys();
      // Only real pages: /listings/3 (the raw CR LF request, read as one for /listings/3),
      // /listings/4 (garbage headers), /listings?page=2, and the absolute-form request's page,
      // rendered for this site whatever host it names; and the 404s of the cached routes above,
      // under their canonical, percent-encoded keys (no raw CR, LF or NUL in any key).
      const realPages = ['ssr:/listings/3', 'ssr:/listings/4', 'ssr:/listings?page=2', 'ssr:/listings/5'];
      const notFound = [
        'ssr:/listings/%00',
        'ssr:/listings/3%0D%0ASet-Cookie%3A%20evil%3D1',
        'ssr:/listings?city=%EF%BF%BD%EF%BF%BD',
        'ssr:/listings?city=x%20set-cookie%3A%20evil%3D1',
      ];
      expect(keys.filter((key) => !realPages.includes(key)).sort()).toEqual(notFound.sort());
      for (const key of notFound) expect((await context.handle.cache.get(key))?.status).toBe(404);
      expect(keys).toContain('ssr:/listings?page=2');
      expect(Math.max(...keys.map((key) => key.length))).toBeLessThan(100);
    });
  });

  describe('requests with credentials', () => {
    it('are never answered from the shared cache', async () => {
      await bot('/listings/31');
      await waitForStored(context.handle, 'ssr:/listings/31');
      expect((await bot('/listings/31')).headers['x-cache']).toBe('HIT');
      for (const [name, value] of [
        ['Authorization', 'Bearer user-token'],
        ['Authorization', 'Basic dXNlcjpwYXNz'],
        ['Cookie', 'session=abc123'],
        ['Cookie', 'connect.sid=s%3Aabc'],
      ] as const) {
        const res = await bot('/listings/31').set(name, value);
        expect(res.status).toBe(200);
        expect(res.headers['x-cache']).toBe('BYPASS');
      }
    });

    it('are never stored into it', async () => {
      await bot('/listings/32').set('Authorization', 'Bearer user-token');
      await bot('/listings/33').set('Cookie', 'session=abc123');
      await request(context.handle.handler).get('/listings/34').set('User-Agent', BROWSER).set('Cookie', 'session=abc123');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await storedKeys()).toEqual([]);
    });
  });
});
