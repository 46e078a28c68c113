import { runSlowClients } from '../../tools/slow-clients';
import { WEBHOOK_SECRET } from '../helpers/twenty-signing';
import { realRedisUrl, uniquePrefix } from '../helpers/redis';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';

/**
 * The server as `npm start` runs it (compiled by tsc, its own process, its HTTP limits), under 300 slow-header
 * sockets, 100 slow-body sockets and 50 pipeliners that never read: /health stays fast, and
 * every hostile socket is closed at its limit, not after Node's minutes.
 */
describe('slow and non-reading clients', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(
      {
        REDIS_URL: realRedisUrl(),
        REDIS_KEY_PREFIX: uniquePrefix('slow'),
        LOG_LEVEL: 'error',
        TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET,
        SERVER_HEADERS_TIMEOUT_MS: '2000',
        SERVER_REQUEST_TIMEOUT_MS: '3000',
        SERVER_MAX_PIPELINED: '16',
      },
      { compiled: true },
    );
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  it('keeps /health fast and cuts slow headers, slow bodies and pipeliners off at their limits', async () => {
    const report = await runSlowClients({
      baseUrl: server.url,
      slowHeaders: 300,
      slowBodies: 100,
      pipeliners: 50,
      pipelined: 200,
      pipelinePath: '/sitemaps/listings-1.xml',
      durationMs: 7000,
    });
    // A connected client is never held up: /health on a kept-alive connection answers at once throughout.
    expect(report.healthKeptAlive.failed).toBe(0);
    expect(report.healthKeptAlive.requests).toBeGreaterThan(40);
    expect(report.healthKeptAlive.maxMs).toBeLessThan(500);
    // On a new connection each time it answers every time, most of them at once; a connection made
    // while the attack's 450 are still being accepted waits its turn (some hundreds of ms: see the README).
    expect(report.health.failed).toBe(0);
    expect(report.health.requests).toBeGreaterThan(40);
    expect(report.health.p50Ms).toBeLessThan(50);
    expect(report.health.maxMs).toBeLessThan(2000);
    // Headers: closed within two SERVER_HEADERS_TIMEOUT_MS (Node's own check), never Node's default minute.
    expect(report.closedAfterMs.slowHeaders).toMatchObject({ closed: 300, stillOpen: 0 });
    expect(report.closedAfterMs.slowHeaders.p50Ms).toBeGreaterThanOrEqual(1900);
    expect(report.closedAfterMs.slowHeaders.maxMs).toBeLessThan(2 * 2000 + 1000);
    // Bodies: authentic-looking signature headers pass, the body never completes: closed within two SERVER_REQUEST_TIMEOUT_MS.
    expect(report.closedAfterMs.slowBodies).toMatchObject({ closed: 100, stillOpen: 0 });
    expect(report.closedAfterMs.slowBodies.p50Ms).toBeGreaterThanOrEqual(2900);
    expect(report.closedAfterMs.slowBodies.maxMs).toBeLessThan(2 * 3000 + 1000);
    // Pipeliners: cut off, each with at most one page of answers left unread (its 200 would be 20 MB).
    expect(report.closedAfterMs.pipeliners).toMatchObject({ closed: 50, stillOpen: 0 });
    expect(report.pipelinerBytesRead.max).toBeLessThan(2 * 110_000);
    expect(report.rssAfterBytes! - report.rssBeforeBytes!).toBeLessThan(80 * 1024 * 1024);
  }, 30_000);
});
