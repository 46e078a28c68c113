import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidationJournal, type JournalRecord } from '../../packages/ssr-page-cache/src/coordination/invalidation-journal';
import { silentLogger } from '../../packages/ssr-page-cache/src/logger';
import { capturingLogger } from '../helpers/log-capture';

const REPO_ROOT = path.resolve(__dirname, '../..');
const EVERY_PAGE = { keys: [], patterns: ['ssr:*'], tags: [] };

let dir: string;
let file: string;
const opened: InvalidationJournal[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'invalidation-journal-'));
  file = path.join(dir, 'journal', 'invalidations.jsonl');
});

afterEach(() => {
  for (const journal of opened.splice(0)) journal.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(options: { maxBytes?: number; logger?: ReturnType<typeof capturingLogger>['logger'] } = {}): InvalidationJournal {
  const journal = InvalidationJournal.open(file, { logger: silentLogger, ...options });
  opened.push(journal);
  return journal;
}

function reopen(journal: InvalidationJournal, options: Parameters<typeof open>[0] = {}): InvalidationJournal {
  journal.close();
  return open(options);
}

const record = (index: number, overrides: Partial<JournalRecord> = {}): JournalRecord => ({
  message: { keys: [`ssr:/listings/${index}`], patterns: [], tags: [`listing:${index}`] },
  mode: 'hard',
  acceptedAt: 1_700_000_000_000 + index,
  ...overrides,
});

describe('the invalidation journal', () => {
  it('gives back at open what was appended before, in order, in a file only its user can read', () => {
    const journal = open();
    expect(journal.recovered).toEqual([]);
    const written = [
      record(1),
      record(2, { mode: 'soft', message: { keys: [], patterns: ['ssr:/listings\\?*'], tags: ['city:paris', 'quote"and\nnewline'] } }),
      record(3, { message: { keys: ['ssr:/'], patterns: [] } }),
    ];
    for (const item of written) journal.append(item);

    const again = reopen(journal);
    expect(again.recovered).toEqual([written[0], written[1], { ...written[2], message: { keys: ['ssr:/'], patterns: [], tags: [] } }]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });

  it('skips a torn last line silently, and the next append does not land on it', () => {
    const journal = open();
    journal.append(record(1));
    journal.append(record(2));
    journal.close();
    fs.appendFileSync(file, JSON.stringify(record(3)).slice(0, 40));

    const { logger, lines } = capturingLogger();
    const again = open({ logger });
    expect(again.recovered).toEqual([record(1), record(2)]);
    expect(lines).toEqual([]);
    again.append(record(4));
    expect(reopen(again).recovered).toEqual([record(1), record(2), record(4)]);
  });

  it('skips unreadable lines in the middle with one warning counting them, and keeps the rest', () => {
    const journal = open();
    journal.append(record(1));
    journal.close();
    const invalid = [
      'not json at all',
      JSON.stringify({ ...record(2), mode: 'medium' }),
      JSON.stringify({ ...record(3), acceptedAt: null }),
      JSON.stringify({ ...record(4), message: { keys: [4], patterns: [], tags: [] } }),
      '',
    ];
    fs.appendFileSync(file, `${invalid.join('\n')}\n${JSON.stringify(record(5))}\n`);

    const { logger, lines } = capturingLogger();
    const again = open({ logger });
    expect(again.recovered).toEqual([record(1), record(5)]);
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, path: file, skippedLines: 5, records: 2, msg: 'cache: invalidation journal lines unreadable, skipped' }),
    ]);
    // Read once: the file now holds only what was readable.
    const quiet = capturingLogger();
    expect(reopen(again, { logger: quiet.logger }).recovered).toEqual([record(1), record(5)]);
    expect(quiet.lines).toEqual([]);
  });

  it('collapses into one hard invalidation of every page when an append would pass maxBytes', () => {
    const { logger, lines } = capturingLogger();
    const journal = open({ maxBytes: 1000, logger });
    const lineBytes = Buffer.byteLength(`${JSON.stringify(record(1))}\n`);
    const fitting = Math.floor(1000 / lineBytes);
    for (let index = 1; index <= fitting; index += 1) journal.append(record(index));
    expect(lines).toEqual([]);
    expect(fs.statSync(file).size).toBe(fitting * lineBytes);

    journal.append(record(fitting + 1));
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, path: file, maxBytes: 1000, msg: expect.stringMatching(/collapsed into one invalidation of every page/) }),
    ]);
    const collapsed = { message: EVERY_PAGE, mode: 'hard', acceptedAt: record(1).acceptedAt };
    expect(fs.statSync(file).size).toBeLessThan(lineBytes * 2);

    // Appends go on after the collapse, behind it.
    journal.append(record(50));
    expect(reopen(journal).recovered).toEqual([collapsed, record(50)]);
  });

  it('is empty after clear, on disk, and takes appends again', () => {
    const journal = open();
    journal.append(record(1));
    journal.append(record(2));
    journal.clear();
    expect(fs.statSync(file).size).toBe(0);
    const again = reopen(journal);
    expect(again.recovered).toEqual([]);
    again.append(record(3));
    expect(reopen(again).recovered).toEqual([record(3)]);
  });

  it('refuses to open where it cannot write, naming the path and the reason', () => {
    const aFile = path.join(dir, 'a-file');
    fs.writeFileSync(aFile, '');
    const underAFile = path.join(aFile, 'invalidations.jsonl');
    expect(() => InvalidationJournal.open(underAFile, { logger: silentLogger })).toThrow(
      `invalidation journal ${underAFile}: cannot create its directory (EEXIST: file already exists, mkdir '${aFile}')`,
    );
    expect(() => InvalidationJournal.open(dir, { logger: silentLogger })).toThrow(
      `invalidation journal ${dir}: cannot read it (EISDIR: illegal operation on a directory, read)`,
    );
  });

  it('keeps every append a process made before it was killed (SIGKILL)', async () => {
    const script = path.join(dir, 'append-then-wait.ts');
    const module = path.join(REPO_ROOT, 'packages/ssr-page-cache/src/coordination/invalidation-journal.ts');
    fs.writeFileSync(
      script,
      [
        `import { InvalidationJournal } from ${JSON.stringify(module)};`,
        `const journal = InvalidationJournal.open(process.argv[2] as string, { logger: { debug() {}, info() {}, warn() {}, error() {} } });`,
        `for (const record of JSON.parse(process.argv[3] as string)) journal.append(record);`,
        `console.log('ready');`,
        `setInterval(() => undefined, 1000);`,
      ].join('\n'),
    );
    const records = [record(1), record(2, { mode: 'soft' }), record(3, { message: { keys: [], patterns: ['ssr:/listings\\?*'], tags: [] } })];
    const child = spawn(process.execPath, ['--import', 'tsx', script, file, JSON.stringify(records)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => String(chunk).includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it was ready: ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(open().recovered).toEqual(records);
  });
});
