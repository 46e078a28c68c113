import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { SitemapError, warmCache, type ServerCrawlView, type WarmSummary } from '../utils/cache-warmer';

const USAGE = `Usage: npm run cache:warm -- [URL] [--concurrency N] [--rate R] [--timeout-ms MS]

Reads URL/sitemap.xml (default http://localhost:3002) and requests every page in it as
Googlebot, N at a time (default 4) and at most R pages a second (default: no limit; with a
Twenty behind the server, stay under its API limit, 100 calls a minute by default), so the
cache holds each page before crawlers come. A 503 or 429 with Retry-After is waited out and
the page asked again (3 times at most), not counted as a failure.
Ctrl-C stops it: no new requests, those in flight are cancelled, the summary is printed.
After the pages, the server's /health is read and its crawl view printed: what each crawler
family got (hits, 304s, errors), the 304 and stale shares, how stale the stale pages were,
the freshness lag from CRM change to fresh page, and the share of entries from the running build.
Exit status: 0 all pages cached, 1 some failed, 2 bad arguments or no sitemap, 130 interrupted.`;

const EXIT = { ok: 0, failures: 1, usage: 2, interrupted: 130 } as const;

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new Error(`${name} must be a whole number above 0, not "${text}"`);
  return Number(text);
}

function positiveNumber(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) throw new Error(`${name} must be a number above 0, not "${text}"`);
  return Number(text);
}

function readArguments(argv: string[]): { baseUrl: string; concurrency: number; timeoutMs: number; rate?: number } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      concurrency: { type: 'string', short: 'c' },
      rate: { type: 'string', short: 'r' },
      'timeout-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(EXIT.ok);
  }
  if (positionals.length > 1) throw new Error(`one URL at most, not ${positionals.length}`);
  const baseUrl = positionals[0] ?? 'http://localhost:3002';
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new Error(`"${baseUrl}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`"${baseUrl}" must be an http:// or https:// URL`);
  return {
    baseUrl: parsed.origin,
    concurrency: positiveInteger(values.concurrency, '--concurrency', 4),
    timeoutMs: positiveInteger(values['timeout-ms'], '--timeout-ms', 30_000),
    rate: positiveNumber(values.rate, '--rate'),
  };
}

function seconds(value: number | null): string {
  return value === null ? '-' : `${value} s`;
}

/** The server's own view of its crawlers, from /health. */
function crawlLines(crawl: ServerCrawlView): string[] {
  const names: Record<string, string> = { googlebot: 'googlebot', bingbot: 'bingbot', 'other-bot': 'other bots', human: 'humans' };
  const lines = ["Server's crawl view (/health, since it started):"];
  for (const [family, counts] of Object.entries(crawl.agents)) {
    lines.push(
      `  ${(names[family] ?? family).padEnd(11)} ${counts.requests} answers, hit rate ${counts.hitRate}, stale ${counts.stale}, 304 ${counts.notModified}, 404/redirect ${counts.negative}, 5xx ${counts.errors}`,
    );
  }
  lines.push(
    `  304 share ${crawl.notModifiedShare}, stale share ${crawl.staleShare}`,
    `  stale pages served: ${crawl.staleAge.count}, past freshness by ${seconds(crawl.staleAge.meanSeconds)} on average, ${seconds(crawl.staleAge.maxSeconds)} at most`,
    `  freshness lag (invalidation -> fresh page): ${crawl.freshnessLag.count} pages, ${seconds(crawl.freshnessLag.meanSeconds)} on average, ${seconds(crawl.freshnessLag.maxSeconds)} at most`,
  );
  if (crawl.build?.id) lines.push(`  build ${crawl.build.id}: ${crawl.build.runningBuildShare ?? 'no'} of the pages read from Redis rendered by it`);
  return lines;
}

function printSummary(summary: WarmSummary): void {
  const lines = [
    summary.interrupted
      ? `Interrupted after ${summary.done} of ${summary.total} pages.`
      : `Done: ${summary.total} pages in ${(summary.durationMs / 1000).toFixed(1)} s.`,
    `  warmed:         ${summary.warmed}`,
    `  already cached: ${summary.alreadyCached} (${summary.stale} of them stale, re-rendering behind)`,
    `  failed:         ${summary.failed}`,
    `  waited out:     ${summary.waitedOut} (503/429 with Retry-After, asked again)`,
    ...summary.failures.map(({ url, reason }) => `    ${url}: ${reason}`),
  ];
  if (summary.failed > summary.failures.length) lines.push(`    ... and ${summary.failed - summary.failures.length} more`);
  if (summary.crawl) lines.push(...crawlLines(summary.crawl));
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<number> {
  let options;
  try {
    options = readArguments(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`cache:warm: ${(error as Error).message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  const interrupt = new AbortController();
  process.on('SIGINT', () => {
    // A second Ctrl-C does not wait for the cancelled requests to settle.
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    interrupt.abort();
  });

  const started = Date.now();
  // On a terminal the bar redraws in place; in a CI log it prints a line every 5 s.
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{bar} {percentage}% | {value}/{total} pages | {rate} pages/s | ETA {eta_formatted} | warmed {warmed}, already cached {cached}, failed {failed}',
    noTTYOutput: true,
    notTTYSchedule: 5000,
    etaBuffer: 50,
    hideCursor: true,
  });
  let barStarted = false;
  process.stderr.write(`Reading ${options.baseUrl}/sitemap.xml ...\n`);
  try {
    const summary = await warmCache({
      ...options,
      signal: interrupt.signal,
      onProgress(progress) {
        const payload = {
          rate: (progress.done / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1),
          warmed: progress.warmed,
          cached: progress.alreadyCached,
          failed: progress.failed,
        };
        if (!barStarted) {
          barStarted = true;
          bar.start(progress.total, progress.done, payload);
        } else bar.update(progress.done, payload);
      },
    });
    bar.stop();
    printSummary(summary);
    if (summary.interrupted) return EXIT.interrupted;
    return summary.failed > 0 ? EXIT.failures : EXIT.ok;
  } catch (error) {
    bar.stop();
    if (!(error instanceof SitemapError)) throw error;
    process.stderr.write(`cache:warm: ${error.message}\n`);
    return interrupt.signal.aborted ? EXIT.interrupted : EXIT.usage;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`cache:warm: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(EXIT.failures);
  },
);
