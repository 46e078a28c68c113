import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The package.json of this server, found upward from here (server/utils under tsx, dist/server/utils when built). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const { name, version } = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (name === 'listings-ssr-server' && typeof version === 'string') return version;
    }
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}

/** The git commit of the checkout being run, or undefined outside one (an image built without .git). */
function gitCommit(): string | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: __dirname, timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return /^[0-9a-f]{7,40}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

let detected: string | undefined;

/**
 * What the page cache records as the build of every entry: the package version and
 * SSR_CACHE_BUILD_ID when set, else the git commit, else `unknown` (then only a version bump
 * tells builds apart). Read once per process.
 */
export function buildIdFor(explicit: string | undefined): string {
  if (explicit !== undefined) return `${packageVersion()}+${explicit}`;
  detected ??= `${packageVersion()}+${gitCommit() ?? 'unknown'}`;
  return detected;
}
