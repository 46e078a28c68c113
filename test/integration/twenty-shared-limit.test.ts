import { GOOGLEBOT } from '../helpers/app';
import { inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { startTwentyStub, type TwentyStub } from '../helpers/twenty-stub';
import { recordedWorkspace } from '../../tools/twenty-workspace';

/**
 * Twenty's rate limit is the workspace's, whatever number of server instances read it: two
 * server processes on one Redis share one token bucket there, so together they stay under it
 * (and a page that cannot get a token in time answers 503 with Retry-After), where two buckets
 * of their own would have met Twenty's 429s.
 */
describe("two server processes on one Redis share the workspace's Twenty limit", () => {
  const PER_MINUTE = 20;
  const workspace = recordedWorkspace();
  const prefix = uniquePrefix('shared-limit');
  let stub: TwentyStub;
  let a: ServerProcess;
  let b: ServerProcess;
  let refused = 0;

  beforeAll(async () => {
    stub = await startTwentyStub(workspace.records, { ...workspace, apiKey: 'shared-key', rateLimit: { perMinute: PER_MINUTE, perSecond: 100 } });
    const answer = stub.respond;
    stub.respond = (...args) => {
      const reply = answer(...args);
      if (reply.status === 429) refused += 1;
      return reply;
    };
    const env = {
      LISTING_SOURCE: 'twenty',
      TWENTY_API_URL: stub.url,
      TWENTY_API_KEY: 'shared-key',
      TWENTY_LISTING_OBJECT: 'properties',
      TWENTY_RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
      TWENTY_API_TIMEOUT_MS: '2000',
      // Every render asks Twenty: the calls are what this test counts.
      TWENTY_DATA_CACHE_SECONDS: '0',
      REDIS_URL: realRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    };
    [a, b] = await Promise.all([startServerProcess(env, { compiled: true }), startServerProcess(env, { compiled: true })]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await stub?.close();
    const client = inspectionClient();
    await removeKeys(client, prefix);
    client.disconnect();
  });

  it('makes at most the limit of calls together, meets no 429, and answers the pages it cannot read in time with 503 and Retry-After', async () => {
    const ids = (workspace.records as { id: string }[]).map((record) => record.id);
    const before = stub.requests.filter((request) => request.path.startsWith('/rest/properties')).length;
    const started = Date.now();
    // 30 detail pages, half on each instance, all at once: each wants its record and its "more homes" list.
    const answers = await Promise.all(
      ids.map(async (id, index) => {
        const res = await fetch(`${(index % 2 === 0 ? a : b).url}/listings/${id}`, { headers: { 'User-Agent': GOOGLEBOT } });
        await res.arrayBuffer();
        return { status: res.status, retryAfter: res.headers.get('retry-after') };
      }),
    );
    const elapsed = Date.now() - started;
    const calls = stub.requests.filter((request) => request.path.startsWith('/rest/properties')).length - before;
    expect(refused).toBe(0);
    // The bucket starts full (20) and gives one token every 3 s: within the crawl's few seconds, barely more.
    expect(calls).toBeLessThanOrEqual(PER_MINUTE + Math.ceil(elapsed / 3000) + 1);
    const served = answers.filter((answer) => answer.status === 200).length;
    expect(served).toBeGreaterThan(0);
    for (const answer of answers) {
      expect([200, 503]).toContain(answer.status);
      if (answer.status === 503) expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    for (const server of [a, b]) {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { twenty: { rateLimit: { mode: string; twenty429s: number } } };
      expect(health.twenty.rateLimit).toMatchObject({ mode: 'redis', twenty429s: 0 });
    }
  });
});
