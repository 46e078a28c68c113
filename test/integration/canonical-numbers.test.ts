import request from 'supertest';
import { GOOGLEBOT, useAppOnRealRedis, waitForStored } from '../helpers/app';
import { listKeys } from '../helpers/redis';

describe('page numbers spelled with leading zeros, on the real Redis', () => {
  // Every spelling renders if it must: the render budget has its own test (negative-cache.test.ts).
  const context = useAppOnRealRedis('numbers', { SSR_RENDER_BUDGET_PER_SECOND: '0' });
  const bot = (path: string) => request(context.handle.handler).get(path).set('User-Agent', GOOGLEBOT);
  const storedKeys = async () => (await listKeys(context.redis, `${context.prefix}ssr:`)).map((key) => key.slice(context.prefix.length));

  it('serves 50 spellings of page 2, 1 to 50 leading zeros, from one entry with the same bytes', async () => {
    const first = await bot('/listings?page=2');
    expect(first.status).toBe(200);
    await waitForStored(context.handle, 'ssr:/listings?page=2');
    for (let zeros = 1; zeros <= 50; zeros += 1) {
      const res = await bot(`/listings?page=${'0'.repeat(zeros)}2`);
      expect([zeros, res.status, res.headers['x-cache']]).toEqual([zeros, 200, 'HIT']);
      expect(res.text).toBe(first.text);
    }
    expect(await storedKeys()).toEqual(['ssr:/listings?page=2']);
  });

  it('answers a page number past any page with a 400 and stores nothing for it, however it is spelled', async () => {
    for (const spelling of ['99999999999999999999', '0099999999999999999999', `${'9'.repeat(400)}`, '100001', '0000000000000']) {
      const res = await bot(`/listings?page=${spelling}`);
      expect([spelling, res.status]).toEqual([spelling, 400]);
    }
    // A page past the end of the list is a 404, stored once for all its spellings.
    const past = await bot('/listings?page=99999');
    expect(past.status).toBe(404);
    await waitForStored(context.handle, 'ssr:/listings?page=99999');
    for (const spelling of ['0099999', '00000000000099999']) {
      const res = await bot(`/listings?page=${spelling}`);
      expect([res.status, res.headers['x-cache']]).toEqual([404, 'HIT']);
    }
    // A 400 is never stored: a store would have landed beside the 404's by now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await storedKeys()).toEqual(['ssr:/listings?page=99999']);
  });
});
