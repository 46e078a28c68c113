import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { RequestListener } from 'node:http';
import request from 'supertest';
import { createEmbeddedCatalog } from '../../server/listings/embedded-catalog';
import type { ListingSource } from '../../server/listings/listing';
import { sitemapPages, warmCache } from '../../server/utils/cache-warmer';
import { GOOGLEBOT, useAppOnRealRedis, waitFor } from '../helpers/app';
import { listen } from '../helpers/raw-http';

const ROOT = path.resolve(__dirname, '../..');

/** A catalog whose every call takes `delayMs`, counting the renders in flight (one call at a time each). */
function countingSource(size: number, delayMs: number) {
  const catalog = createEmbeddedCatalog(size);
  const counts = { inFlight: 0, maxInFlight: 0 };
  const timed =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      counts.inFlight += 1;
      counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return await call(...args);
      } finally {
        counts.inFlight -= 1;
      }
    };
  const source: ListingSource = {
    getListing: timed((id: string) => catalog.getListing(id)),
    listListings: timed((query) => catalog.listListings(query)),
    listFeatured: timed((limit: number) => catalog.listFeatured(limit)),
  };
  return { source, counts };
}

/** The app's handler, counting the requests it is answering at once. */
function countingHandler(handler: RequestListener) {
  const counts = { requests: 0, inFlight: 0, maxInFlight: 0 };
  const counted: RequestListener = (req, res) => {
    counts.requests += 1;
    counts.inFlight += 1;
    counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
    res.on('close', () => {
      counts.inFlight -= 1;
    });
    handler(req, res);
  };
  return { counted, counts };
}

describe('cache warm-up against a running server (real Redis)', () => {
  const { source, counts: renders } = countingSource(40, 10);
  const context = useAppOnRealRedis('warm', { SITEMAP_MAX_URLS: '15' }, { listings: source });

  it('makes every sitemap URL a HIT, never more than the set concurrency in flight', async () => {
    const { counted, counts: http } = countingHandler(context.handle.handler);
    const server = await listen(counted);
    try {
      const progress: number[] = [];
      const summary = await warmCache({ baseUrl: server.url, concurrency: 3, onProgress: (state) => progress.push(state.done) });
      // pages.xml holds / and /listings; 40 detail pages in three children of 15, 15 and 10.
      expect(summary).toMatchObject({ total: 42, done: 42, warmed: 42, alreadyCached: 0, stale: 0, failed: 0, failures: [], interrupted: false });
      // The server's crawl view comes with the summary: the warm-up's own requests as Googlebot, 42 pages and 5 sitemaps (index, pages.xml, 3 children).
      expect(summary.crawl?.agents.googlebot).toMatchObject({ misses: 47, errors: 0 });
      expect(progress).toEqual(Array.from({ length: 43 }, (_, index) => index));
      expect(http.maxInFlight).toBe(3);
      expect(renders.maxInFlight).toBeLessThanOrEqual(3);
      expect(renders.maxInFlight).toBeGreaterThanOrEqual(2);

      const urls = await sitemapPages({ baseUrl: server.url, concurrency: 1 });
      expect(urls).toHaveLength(42);
      for (const url of urls) {
        const res = await request(context.handle.handler).get(new URL(url).pathname).set('User-Agent', GOOGLEBOT);
        expect([url, res.headers['x-cache']]).toEqual([url, 'HIT']);
      }

      const again = await warmCache({ baseUrl: server.url, concurrency: 8 });
      expect(again).toMatchObject({ total: 42, warmed: 0, alreadyCached: 42, stale: 0, failed: 0 });
      expect(again.crawl?.agents.googlebot?.hits).toBeGreaterThanOrEqual(42 + 42);
      expect(again.crawl?.staleShare).toBe('0.00%');
      expect(http.maxInFlight).toBeLessThanOrEqual(8);
    } finally {
      await server.close();
    }
  });

  it('lists what failed and why', async () => {
    const broken: RequestListener = (req, res) => {
      if (req.url === '/listings/2') {
        res.writeHead(503).end();
        return;
      }
      context.handle.handler(req, res);
    };
    const server = await listen(broken);
    try {
      const summary = await warmCache({ baseUrl: server.url, concurrency: 2 });
      expect(summary.failed).toBe(1);
      expect(summary.failures).toEqual([{ url: `${server.url}/listings/2`, reason: 'answered 503' }]);
      expect(summary.warmed + summary.alreadyCached).toBe(41);
    } finally {
      await server.close();
    }
  });

  it('waits out a 503 with Retry-After and asks again, instead of counting a failure', async () => {
    let refusals = 0;
    const later: RequestListener = (req, res) => {
      if (req.url === '/listings/3' && refusals < 2) {
        refusals += 1;
        res.writeHead(503, { 'Retry-After': '0' }).end();
        return;
      }
      context.handle.handler(req, res);
    };
    const server = await listen(later);
    try {
      const summary = await warmCache({ baseUrl: server.url, concurrency: 2 });
      expect(refusals).toBe(2);
      expect(summary).toMatchObject({ failed: 0, waitedOut: 2, total: 42 });
      expect(summary.warmed + summary.alreadyCached).toBe(42);
    } finally {
      await server.close();
    }
  });

  it('starts at most --rate pages a second, whatever the concurrency', async () => {
    const starts: number[] = [];
    const server = await listen((req, res) => {
      if (req.url?.startsWith('/listings/')) starts.push(Date.now());
      context.handle.handler(req, res);
    });
    try {
      const summary = await warmCache({ baseUrl: server.url, concurrency: 8, rate: 40 });
      expect(summary.failed).toBe(0);
      // 40 detail pages at 40 a second: the first and the last start at least 39 slots (0.975 s) apart, less a little clock slack.
      expect(starts).toHaveLength(40);
      expect((starts.at(-1) as number) - (starts[0] as number)).toBeGreaterThanOrEqual(900);
    } finally {
      await server.close();
    }
  });

  it('refuses a server without a sitemap with a clear error', async () => {
    const server = await listen((_req, res) => res.writeHead(404).end());
    try {
      await expect(warmCache({ baseUrl: server.url, concurrency: 2 })).rejects.toThrow(`${server.url}/sitemap.xml answered 404`);
    } finally {
      await server.close();
    }
  });
});

describe('npm run cache:warm, interrupted', () => {
  const { source, counts: renders } = countingSource(200, 40);
  const context = useAppOnRealRedis('warm-cli', {}, { listings: source });

  it('stops at Ctrl-C: exit 130, the summary so far, no request after it, never more than --concurrency', async () => {
    const { counted, counts: http } = countingHandler(context.handle.handler);
    const server = await listen(counted);
    try {
      let stdout = '';
      let stderr = '';
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/cache-warm.ts', server.url, '--concurrency', '2'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (chunk) => (stdout += chunk));
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      const exited = once(child, 'exit');
      // The sitemap (index and two children) and a few pages: then Ctrl-C.
      await waitFor(async () => (http.requests >= 10 ? true : undefined), 20_000, 5);
      child.kill('SIGINT');
      const [code] = await exited;
      expect({ code, stderr: stderr.includes('Error') ? stderr : '' }).toEqual({ code: 130, stderr: '' });
      const summary = /Interrupted after (\d+) of (\d+) pages\.\n {2}warmed: +(\d+)\n {2}already cached: +(\d+)[^\n]*\n {2}failed: +(\d+)/.exec(stdout);
      expect(summary).not.toBeNull();
      const [done, total, warmed, cached, failed] = summary!.slice(1).map(Number);
      expect(total).toBe(202);
      expect(done).toBeLessThan(total!);
      expect(warmed! + cached! + failed!).toBe(done);

      const seen = http.requests;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(http.requests).toBe(seen);
      expect(http.maxInFlight).toBeLessThanOrEqual(2);
      expect(renders.maxInFlight).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
    }
  });
});
