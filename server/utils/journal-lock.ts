import fs from 'node:fs';
import path from 'node:path';

/** Whether a process with this id runs (EPERM: it does, as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process per invalidation journal (SSR_CACHE_JOURNAL): two would truncate each other's
 * lines. `{journal}.lock` holds the owner's pid; a lock left by a process that died (or by this
 * pid in an earlier life, as pid 1 in a restarted container) is taken over. Throws, naming the
 * variable and the owner, when another running process holds it; returns the release.
 */
export function lockJournal(journal: string): () => void {
  const lock = `${journal}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const owner = Number(fs.readFileSync(lock, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
      throw new Error(`SSR_CACHE_JOURNAL: ${journal} is in use by process ${owner} (${lock}); give each process a journal of its own`, { cause: error });
    }
    fs.writeFileSync(lock, String(process.pid), { mode: 0o600 });
  }
  return () => fs.rmSync(lock, { force: true });
}
