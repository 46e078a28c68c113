import Redis from 'ioredis';
import { GOOGLEBOT, TEST_TOKEN, waitFor } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { startTwentyStub, twentyRecord, type TwentyStub } from '../helpers/twenty-stub';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

/**
 * Two server processes on one Redis with the Twenty source at its defaults (a 300 s data cache
 * per instance), the stand-in's data changing as the CRM's would: an invalidation accepted by
 * either instance reaches both, renders that overlap it are never stored as fresh, with and
 * without the in-process tier.
 */

const COUNT = 40;
/** Prices rise with the number: l-40 is the most expensive, far from the first cheapest page. */
const records = () =>
  Array.from({ length: COUNT }, (_, index) =>
    twentyRecord(`l-${index + 1}`, { name: `Home ${index + 1}`, price: { amountMicros: (100_000 + index * 1000) * 1_000_000, currencyCode: 'EUR' } }),
  );

interface Answer {
  status: number;
  cache: string | null;
  text: string;
}

async function get(server: ServerProcess, path: string): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, { headers: { 'User-Agent': GOOGLEBOT } });
  return { status: res.status, cache: res.headers.get('x-cache'), text: await res.text() };
}

/** Asks until the page is a HIT (a STALE answer's re-render lands, a MISS gets stored); every answer is returned. */
async function untilHit(server: ServerProcess, path: string): Promise<Answer[]> {
  const answers: Answer[] = [];
  await waitFor(
    async () => {
      const answer = await get(server, path);
      answers.push(answer);
      return answer.cache === 'HIT' ? true : undefined;
    },
    10_000,
    30,
  );
  return answers;
}

function rename(stub: TwentyStub, id: string, fields: Record<string, unknown>): void {
  const record = stub.records.find((candidate) => candidate.id === id) as Record<string, unknown>;
  Object.assign(record, fields, { updatedAt: new Date().toISOString() });
}

describe.each([
  ['with the in-process tier', '64'],
  ['without the in-process tier (SSR_CACHE_MEMORY_MB=0)', '0'],
])('two instances on one Redis, %s', (_label, memoryMb) => {
  const prefix = uniquePrefix('fleet');
  let stub: TwentyStub;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    stub = await startTwentyStub(records(), { maxLimit: 200 });
    const env = {
      LISTING_SOURCE: 'twenty',
      TWENTY_API_URL: stub.url,
      TWENTY_API_KEY: 'twenty-api-key',
      TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      CACHE_INVALIDATION_TOKEN: TEST_TOKEN,
      REDIS_URL: realRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      SSR_CACHE_MEMORY_MB: memoryMb,
      LOG_LEVEL: 'warn',
    };
    [a, b] = await Promise.all([startServerProcess(env, { compiled: true }), startServerProcess(env, { compiled: true })]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await stub?.close();
    const client = inspectionClient();
    await removeKeys(client, prefix);
    client.disconnect();
  });

  it('after a webhook to B, neither instance serves the old page as a HIT (STALE only while it re-renders)', async () => {
    const path = '/listings/l-3';
    for (const server of [a, b]) {
      await untilHit(server, path);
      expect((await get(server, path)).text).toContain('Home 3');
    }
    rename(stub, 'l-3', { name: 'Renamed 3' });
    const body = twentyEvent('updated', 'l-3', { updatedFields: ['name'], record: { id: 'l-3', name: 'Renamed 3', address: { addressCity: 'Lisbon' } } });
    const hook = await fetch(`${b.url}/api/cache/invalidate`, { method: 'POST', headers: twentyHeaders(body), body });
    expect(hook.status).toBe(200);

    for (const server of [a, b]) {
      const answers = await untilHit(server, path);
      for (const answer of answers) {
        if (answer.cache === 'HIT') expect(answer.text).toContain('Renamed 3');
      }
      expect(answers.at(-1)?.text).toContain('Renamed 3');
    }
  });

  it('a browse page rendered on A while B takes a pattern invalidation is not stored as fresh', async () => {
    const path = '/listings?sort=price_asc';
    // Cold on both; A's render waits for the CRM, which answers with the data as it was when asked.
    const answer = stub.respond;
    let asked: (() => void) | undefined;
    const askedOnce = new Promise<void>((resolve) => (asked = resolve));
    stub.respond = (req, route, query) => {
      const reply = answer(req, route, query);
      if (route !== '/rest/listings' || query.get('order_by') === null || !query.get('order_by')?.startsWith('price')) return reply;
      asked?.();
      return { ...reply, delayMs: 800 };
    };
    try {
      const rendering = get(a, path);
      await askedOnce;
      // The most expensive home becomes the cheapest: it joins the first page. Only the story's
      // pattern (`/listings\?*`) names that page: it showed no l-40 and carries no tag of it.
      rename(stub, 'l-40', { name: 'Now the cheapest', price: { amountMicros: 1_000_000, currencyCode: 'EUR' } });
      const change = await fetch(`${b.url}/api/cache/invalidate`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'listing', id: 'l-40' }),
      });
      expect(change.status).toBe(200);
      const first = await rendering;
      expect(first.cache).toBe('MISS');
      expect(first.text).not.toContain('Now the cheapest');
    } finally {
      stub.respond = answer;
    }
    for (const server of [a, b, a]) {
      const answers = await untilHit(server, path);
      for (const one of answers) if (one.cache === 'HIT') expect(one.text).toContain('Now the cheapest');
    }
  });

  it('a message on the bus that cannot be applied (a bad pattern) crashes no instance', async () => {
    const publisher = new Redis(realRedisUrl());
    try {
      const envelope = {
        origin: 'someone-else',
        keys: [],
        patterns: ['ssr:/listings/[9-1]*', 'ssr:/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b'],
        tags: ['x'],
        seq: 1,
        mode: 'hard',
      };
      await publisher.publish(`${prefix}ssr:invalidations`, JSON.stringify(envelope));
      await publisher.publish(`${prefix}ssr:invalidations`, '{not json');
    } finally {
      publisher.disconnect();
    }
    // Both still running (an exception in the handler used to end every peer) and serving.
    for (const server of [a, b]) {
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect((await get(server, '/listings/l-5')).status).toBe(200);
    }
  });
});
