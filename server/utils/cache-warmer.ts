import { XMLParser } from 'fast-xml-parser';

/** Googlebot's desktop user agent: the cache stores what bots get, so warm-up asks as one. */
export const WARM_USER_AGENT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

export interface WarmOptions {
  /** The server to warm, e.g. http://localhost:3002; its /sitemap.xml names the pages. */
  baseUrl: string;
  /** Requests in flight at most, the sitemap's own included. */
  concurrency: number;
  /** Per request. */
  timeoutMs?: number;
  userAgent?: string;
  /** Aborting stops new requests and cancels those in flight; the summary says so. */
  signal?: AbortSignal;
  /** Called once the page list is known, and after every page. */
  onProgress?(progress: WarmProgress): void;
  /** Pages started per second at most (all workers together); absent: as fast as the concurrency allows. */
  rate?: number;
  /** A 503 or 429 with Retry-After is waited out and asked again, this many times a page (default 3), each wait at most `maxRetryWaitMs` (60 s). */
  retries?: number;
  maxRetryWaitMs?: number;
}

export interface WarmProgress {
  total: number;
  done: number;
  warmed: number;
  alreadyCached: number;
  /** Of those already cached, pages served stale (X-Cache: STALE: past their TTL or invalidated, re-rendering behind). */
  stale: number;
  failed: number;
  /** Times the server said "later" (503/429 with Retry-After) and the page was asked again after the wait. */
  waitedOut: number;
}

/** What the server's /health says about crawling after the warm-up (its `cache.crawl` and `cache.build`). */
export interface ServerCrawlView {
  agents: Record<
    string,
    { requests: number; hits: number; stale: number; misses: number; notModified: number; negative: number; errors: number; hitRate: string }
  >;
  notModifiedShare: string;
  staleShare: string;
  staleAge: { count: number; meanSeconds: number | null; maxSeconds: number | null };
  freshnessLag: { count: number; meanSeconds: number | null; maxSeconds: number | null; lastSeconds: number | null };
  build: { id: string | null; runningBuildShare: string | null } | undefined;
}

export interface WarmSummary extends WarmProgress {
  /** The first failures, with what went wrong (at most 20). */
  failures: { url: string; reason: string }[];
  durationMs: number;
  interrupted: boolean;
  /** The server's crawl view from its /health, when it answers one. */
  crawl?: ServerCrawlView;
}

/** What one page request found: rendered and stored now, already in the cache, or a failure. */
type PageOutcome =
  { kind: 'warmed' } | { kind: 'already-cached'; stale: boolean } | { kind: 'failed'; reason: string } | { kind: 'later'; seconds: number; reason: string };

const MAX_FAILURES_LISTED = 20;
const parser = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'url' || name === 'sitemap' });

/** Thrown when the sitemap cannot be read: nothing was warmed. */
export class SitemapError extends Error {
  override name = 'SitemapError';
}

function requestOptions(options: WarmOptions): RequestInit {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  return {
    // X-Cache-Warm: the server reads the CRM for this page after the pages people wait for.
    headers: {
      'User-Agent': options.userAgent ?? WARM_USER_AGENT,
      'X-Cache-Warm': '1',
      Accept: 'text/html,application/xml;q=0.9,*/*;q=0.8',
      'Accept-Encoding': 'gzip',
    },
    signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    redirect: 'manual',
  };
}

/** The same path and query on the server being warmed: the sitemap names the public origin. */
function onServer(baseUrl: string, loc: string): string {
  const url = new URL(loc, baseUrl);
  return new URL(`${url.pathname}${url.search}`, baseUrl).toString();
}

async function readSitemap(url: string, options: WarmOptions): Promise<{ pages: string[]; children: string[] }> {
  let response: Response;
  try {
    response = await fetch(url, requestOptions(options));
  } catch (error) {
    throw new SitemapError(`could not fetch ${url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (response.status !== 200) throw new SitemapError(`${url} answered ${response.status}`);
  let document: Record<string, { url?: { loc?: unknown }[]; sitemap?: { loc?: unknown }[] } | undefined>;
  try {
    document = parser.parse(text, true);
  } catch (error) {
    throw new SitemapError(`${url} is not valid XML: ${(error as Error).message}`);
  }
  const locs = (entries: { loc?: unknown }[] | undefined) =>
    (entries ?? [])
      .map((entry) => entry.loc)
      .filter((loc): loc is string => typeof loc === 'string' && loc.trim() !== '')
      .map((loc) => onServer(options.baseUrl, loc.trim()));
  if (document.sitemapindex) return { pages: [], children: locs(document.sitemapindex.sitemap) };
  if (document.urlset) return { pages: locs(document.urlset.url), children: [] };
  throw new SitemapError(`${url} is neither a <urlset> nor a <sitemapindex>`);
}

/** Every page URL of the server's sitemap (index and children), each once, in sitemap order. */
export async function sitemapPages(options: WarmOptions): Promise<string[]> {
  const root = await readSitemap(new URL('/sitemap.xml', options.baseUrl).toString(), options);
  const pages = [...root.pages];
  // One child at a time: the children are few, and one request stays within any concurrency.
  for (const child of root.children) pages.push(...(await readSitemap(child, options)).pages);
  return [...new Set(pages)];
}

async function warmPage(url: string, options: WarmOptions): Promise<PageOutcome> {
  try {
    const response = await fetch(url, requestOptions(options));
    await response.arrayBuffer();
    const header = response.headers.get('retry-after');
    const retryAfter = header === null || header.trim() === '' ? Number.NaN : Number(header);
    if ((response.status === 503 || response.status === 429) && Number.isFinite(retryAfter) && retryAfter >= 0) {
      return { kind: 'later', seconds: retryAfter, reason: `answered ${response.status} with Retry-After: ${retryAfter}` };
    }
    if (response.status !== 200) return { kind: 'failed', reason: `answered ${response.status}` };
    const xCache = response.headers.get('x-cache');
    if (xCache === 'MISS') return { kind: 'warmed' };
    if (xCache === 'HIT' || xCache === 'STALE') return { kind: 'already-cached', stale: xCache === 'STALE' };
    return { kind: 'failed', reason: xCache ? `X-Cache: ${xCache} (not cached)` : 'no X-Cache header: is the cache on for this route?' };
  } catch (error) {
    return { kind: 'failed', reason: (error as Error).message };
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Reads the sitemap of a running server and requests every page as a bot, `concurrency` at a
 * time and at most `rate` a second, so each page is rendered and stored before crawlers come. A
 * MISS is a page warmed now, a HIT one that was cached already. A 503 or 429 with Retry-After
 * (the server, or the CRM behind it, saying "later") is waited out and asked again, not counted
 * as a failure. Never more than `concurrency` requests are in flight.
 */
export async function warmCache(options: WarmOptions): Promise<WarmSummary> {
  const started = Date.now();
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const pages = await sitemapPages(options);
  const summary: WarmSummary = {
    total: pages.length,
    done: 0,
    warmed: 0,
    alreadyCached: 0,
    stale: 0,
    failed: 0,
    waitedOut: 0,
    failures: [],
    durationMs: 0,
    interrupted: false,
  };
  options.onProgress?.(summary);
  let next = 0;
  const { rate, retries = 3, maxRetryWaitMs = 60_000 } = options;
  let nextSlot = Date.now();

  /** Waits for this request's turn under `rate`. */
  async function turn(): Promise<void> {
    if (!rate || rate <= 0) return;
    const now = Date.now();
    const at = Math.max(nextSlot, now);
    nextSlot = at + 1000 / rate;
    await pause(at - now, options.signal);
  }

  async function attempt(url: string): Promise<PageOutcome> {
    for (let tries = 0; ; tries += 1) {
      await turn();
      const outcome = await warmPage(url, options);
      if (outcome.kind !== 'later') return outcome;
      if (tries >= retries || outcome.seconds * 1000 > maxRetryWaitMs || options.signal?.aborted) return { kind: 'failed', reason: outcome.reason };
      summary.waitedOut += 1;
      await pause(outcome.seconds * 1000, options.signal);
    }
  }

  async function worker(): Promise<void> {
    while (next < pages.length && !options.signal?.aborted) {
      const url = pages[next++]!;
      const outcome = await attempt(url);
      // A request the interrupt cancelled is neither warmed nor failed.
      if (options.signal?.aborted) return;
      summary.done += 1;
      if (outcome.kind === 'warmed') summary.warmed += 1;
      else if (outcome.kind === 'already-cached') {
        summary.alreadyCached += 1;
        if (outcome.stale) summary.stale += 1;
      } else {
        summary.failed += 1;
        if (summary.failures.length < MAX_FAILURES_LISTED) summary.failures.push({ url, reason: outcome.reason });
      }
      options.onProgress?.(summary);
    }
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, pages.length) }, worker));
  summary.interrupted = options.signal?.aborted === true;
  summary.durationMs = Date.now() - started;
  if (!summary.interrupted) summary.crawl = await readCrawlView(options);
  return summary;
}

/** The crawl section of the server's /health; undefined when it has none (another server, or /health not reachable). */
export async function readCrawlView(options: Pick<WarmOptions, 'baseUrl' | 'timeoutMs'>): Promise<ServerCrawlView | undefined> {
  try {
    const response = await fetch(new URL('/health', options.baseUrl), { signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    if (!response.ok) return undefined;
    const health = (await response.json()) as { cache?: { crawl?: Omit<ServerCrawlView, 'build'>; build?: ServerCrawlView['build'] } };
    const crawl = health.cache?.crawl;
    if (!crawl || typeof crawl.agents !== 'object') return undefined;
    return { ...crawl, build: health.cache?.build };
  } catch {
    return undefined;
  }
}
