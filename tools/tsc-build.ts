import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const done = new Set<string>();

/**
 * Compiles a tsconfig of this repo with tsc, once per process for each project and output dir:
 * the servers the bench and the load tests start run as `npm start` runs ours, plain JavaScript
 * under `node`, no loader in the process. Returns the output dir (the project's own by default).
 */
export function compileOnce(project: string, outDir = path.join(ROOT, 'dist')): string {
  const key = `${project} ${outDir}`;
  if (!done.has(key)) {
    // The server requires the library by its name, as it ships: built from its source first (tsup).
    if (!done.has('library')) {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js')], {
        cwd: path.join(ROOT, 'packages', 'ssr-page-cache'),
        stdio: 'inherit',
      });
      done.add('library');
    }
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project, '--outDir', outDir], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    done.add(key);
  }
  return outDir;
}
