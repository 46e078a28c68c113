import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lockJournal } from '../../server/utils/journal-lock';

describe('the invalidation journal lock (SSR_CACHE_JOURNAL)', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'journal-lock-'));
  const journal = path.join(dir, 'invalidations.journal');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is one process's: another running process holding it is refused, one that died is taken over", () => {
    const release = lockJournal(journal);
    expect(fs.readFileSync(`${journal}.lock`, 'utf8')).toBe(String(process.pid));
    release();
    expect(fs.existsSync(`${journal}.lock`)).toBe(false);
    // The parent of this test runner is alive: its lock stands, and the message names the variable.
    fs.writeFileSync(`${journal}.lock`, String(process.ppid));
    expect(() => lockJournal(journal)).toThrow(`SSR_CACHE_JOURNAL: ${journal} is in use by process ${process.ppid}`);
    // A pid no process has: a lock left behind by a killed one.
    fs.writeFileSync(`${journal}.lock`, '4194303');
    const again = lockJournal(journal);
    expect(fs.readFileSync(`${journal}.lock`, 'utf8')).toBe(String(process.pid));
    again();
  });
});
