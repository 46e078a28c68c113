import request from 'supertest';
import { GOOGLEBOT, useAppOnRealRedis, waitForStored } from '../helpers/app';

describe.each([
  ["through the server's handler", 'handler'],
  ['through the Express middleware alone', 'app'],
] as const)('conditional requests on the real Redis, %s', (_name, entry) => {
  const context = useAppOnRealRedis('conditional');
  const bot = (path: string) => request(context.handle[entry]).get(path).set('User-Agent', GOOGLEBOT);

  describe('If-None-Match: * (RFC 9110 13.1.2)', () => {
    it('renders and stores a cold page, answering 304 for it, and the next plain request is a HIT', async () => {
      const cold = await bot('/listings/41').set('If-None-Match', '*');
      expect([cold.status, cold.headers['x-cache']]).toEqual([304, 'MISS']);
      expect(cold.headers.etag).toMatch(/^"/);
      await waitForStored(context.handle, 'ssr:/listings/41');
      const plain = await bot('/listings/41');
      expect([plain.status, plain.headers['x-cache']]).toEqual([200, 'HIT']);
      expect(plain.text).toContain('</html>');
      expect(plain.headers.etag).toBe(cold.headers.etag);
    });

    it('answers a cold page that renders a 404 with that 404, and stores it', async () => {
      const cold = await bot('/listings/no-such-listing').set('If-None-Match', '*');
      expect(cold.status).toBe(404);
      expect(cold.text).toContain('</html>');
      await waitForStored(context.handle, 'ssr:/listings/no-such-listing');
      expect((await bot('/listings/no-such-listing')).headers['x-cache']).toBe('HIT');
    });

    it('answers 304 for a stored page', async () => {
      await bot('/listings/42');
      await waitForStored(context.handle, 'ssr:/listings/42');
      const res = await bot('/listings/42').set('If-None-Match', '*');
      expect([res.status, res.headers['x-cache'], res.text ?? '']).toEqual([304, 'HIT', '']);
    });
  });

  describe('If-Modified-Since (RFC 9110 13.1.3)', () => {
    let lastModified: string;
    let page: string;
    beforeEach(async () => {
      const miss = await bot('/listings/43');
      await waitForStored(context.handle, 'ssr:/listings/43');
      lastModified = miss.headers['last-modified']!;
      page = miss.text;
    });

    it.each(['9999', 'yesterday', '1700000000', 'Tuesday', '2099', 'Sun, 06 Nov 2094 08:49:37 UTC', 'Sun, 31 Feb 2094 08:49:37 GMT'])(
      'ignores %j, which is not an HTTP-date: the whole page',
      async (value) => {
        const res = await bot('/listings/43').set('If-Modified-Since', value);
        expect([res.status, res.headers['x-cache']]).toEqual([200, 'HIT']);
        expect(res.text).toBe(page);
      },
    );

    it('answers 304 to the page’s Last-Modified in each of the three HTTP-date forms', async () => {
      const at = new Date(lastModified);
      const weekday = at.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
      const [, day, month, year, time] = /^\w{3}, (\d{2}) (\w{3}) (\d{4}) (\S+) GMT$/.exec(lastModified)!;
      const forms = [
        lastModified,
        `${weekday}, ${day}-${month}-${year!.slice(2)} ${time} GMT`,
        `${weekday.slice(0, 3)} ${month} ${String(Number(day)).padStart(2, ' ')} ${time} ${year}`,
      ];
      for (const form of forms) {
        const res = await bot('/listings/43').set('If-Modified-Since', form);
        expect([form, res.status, res.text ?? '']).toEqual([form, 304, '']);
      }
      const earlier = new Date(at.getTime() - 60_000).toUTCString();
      expect((await bot('/listings/43').set('If-Modified-Since', earlier)).status).toBe(200);
    });
  });
});
