import type { RequestListener } from 'node:http';
import { GOOGLEBOT } from '../helpers/app';
import { listen, rawRequest } from '../helpers/raw-http';
import { useShops, type Shop } from '../helpers/shop';

/** What a HEAD must say as the GET would: the validators and the length of the encoded body. */
const GET_HEADERS = ['etag', 'last-modified', 'content-length', 'content-encoding', 'content-type', 'vary', 'content-security-policy'];
const headersOf = (headers: Record<string, string | string[] | undefined>) => GET_HEADERS.map((name) => [name, headers[name]]);

describe.each([
  ['through the middleware', (shop: Shop) => shop.app as RequestListener],
  ['through front()', (shop: Shop) => shop.cache.front(shop.app)],
])('a HEAD is a GET for the cache, %s', (_name, listenerOf) => {
  const shops = useShops();
  const headers = { 'User-Agent': GOOGLEBOT, 'Accept-Encoding': 'br' };

  it('renders a cold page once for 10 concurrent HEADs, stores it, and answers the headers the GET sends, with no body', async () => {
    const shop = shops.make('head');
    const { url, close } = await listen(listenerOf(shop));
    try {
      const heads = await Promise.all(Array.from({ length: 10 }, () => rawRequest(`${url}/products/7`, headers, 'HEAD')));
      expect(shop.renders.get('/products/7')).toBe(1);
      expect(heads.map((head) => [head.status, head.body.length])).toEqual(Array(10).fill([200, 0]));
      expect(heads.filter((head) => head.headers['x-cache'] === 'MISS')).toHaveLength(1);
      await shops.stored(shop, 'ssr:/products/7');
      const get = await rawRequest(`${url}/products/7`, headers);
      expect([get.headers['x-cache'], get.headers['content-encoding'], Number(get.headers['content-length'])]).toEqual(['HIT', 'br', get.body.length]);
      for (const head of heads) expect(headersOf(head.headers)).toEqual(headersOf(get.headers));
      expect(shop.renders.get('/products/7')).toBe(1);
    } finally {
      await close();
    }
  });

  it('coalesces HEADs and GETs of one cold page into one render', async () => {
    const shop = shops.make('head-and-get');
    const { url, close } = await listen(listenerOf(shop));
    try {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => rawRequest(`${url}/products/8`, headers, i % 2 === 0 ? 'HEAD' : 'GET')));
      expect(shop.renders.get('/products/8')).toBe(1);
      const gets = answers.filter((_, i) => i % 2 === 1);
      expect(new Set(gets.map((get) => get.body.toString('base64'))).size).toBe(1);
      for (const answer of answers) expect(headersOf(answer.headers)).toEqual(headersOf(gets[0]!.headers));
    } finally {
      await close();
    }
  });
});
