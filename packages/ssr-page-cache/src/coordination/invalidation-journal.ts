import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { EVERY_PAGE, type InvalidationMessage } from './invalidation-bus';

/** What a line keeps of an invalidation: what it names, keys and patterns in the key space (`ssr:/posts\?*`). */
export type JournaledMessage = Pick<InvalidationMessage, 'keys' | 'patterns' | 'tags'>;

/** One accepted invalidation, as written (a PendingInvalidation is one as it is); read back, `tags` is always there. */
export interface JournalRecord {
  message: JournaledMessage;
  mode: 'hard' | 'soft';
  acceptedAt: number;
}

export interface InvalidationJournalOptions {
  /** Past this size the journal collapses into one invalidation of every page. */
  maxBytes?: number;
  logger: Logger;
}

const DEFAULT_JOURNAL_MAX_BYTES = 4 * 1024 * 1024;

/** Every page under the cache's namespace, hard: what a full journal collapses into (the cache refills). */

function encodeRecord({ message, mode, acceptedAt }: JournalRecord): string {
  // Only the record's own fields, and tags always present, so every line reads back the same way.
  return `${JSON.stringify({ message: { keys: message.keys, patterns: message.patterns, tags: message.tags ?? [] }, mode, acceptedAt })}\n`;
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

function decodeRecord(line: string): JournalRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { message, mode, acceptedAt } = parsed as Record<string, unknown>;
  if (typeof message !== 'object' || message === null) return undefined;
  const { keys, patterns, tags } = message as Record<string, unknown>;
  if (!isStringArray(keys) || !isStringArray(patterns) || !isStringArray(tags)) return undefined;
  if ((mode !== 'hard' && mode !== 'soft') || typeof acceptedAt !== 'number' || !Number.isFinite(acceptedAt)) return undefined;
  return { message: { keys, patterns, tags }, mode, acceptedAt };
}

function reason(error: unknown): string {
  // Not instanceof: errors of another realm (a VM context, a test runner) are Errors too.
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** Runs a file-system step, turning its failure into an Error that names the journal and what the OS said. */
function step<T>(file: string, what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw new Error(`invalidation journal ${file}: cannot ${what} (${reason(error)})`, { cause: error });
  }
}

function readExisting(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** The records of a journal's text, and whether any line had to be skipped. */
function parseJournal(text: string): { records: JournalRecord[]; torn: boolean; unreadable: number } {
  const lines = text.split('\n');
  // The text after the last newline is a write a crash cut short: never acknowledged, so dropped.
  const tail = lines.pop() ?? '';
  const records: JournalRecord[] = [];
  let unreadable = 0;
  for (const line of lines) {
    const record = decodeRecord(line);
    if (record) records.push(record);
    else unreadable += 1;
  }
  return { records, torn: tail.length > 0, unreadable };
}

function fsyncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Invalidations accepted while Redis could not take them, on local disk: an `append` returns only
 * once the record is fsync'd, so an invalidation answered 2xx survives a crash and is replayed at
 * the next start (`recovered`). One JSON record per line; bounded by `maxBytes`. Synchronous on
 * purpose: the answer waits for the disk anyway, and no other append can interleave.
 */
export class InvalidationJournal {
  private fd: number | undefined;
  private bytes = 0;
  private firstAcceptedAt: number | undefined;

  private constructor(
    private readonly file: string,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    /** What the file held at open (a process that died with invalidations waiting), in order. */
    readonly recovered: JournalRecord[],
  ) {}

  /**
   * Opens the journal at `file`, creating it and its directory private to this user. Throws,
   * naming the file and the OS's reason, when it cannot be read, created or written: a journal
   * that cannot hold an invalidation has to stop the start, not lose one later.
   */
  static open(file: string, { maxBytes = DEFAULT_JOURNAL_MAX_BYTES, logger }: InvalidationJournalOptions): InvalidationJournal {
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new Error(`invalidation journal ${file}: maxBytes must be a positive integer (got ${maxBytes})`);
    step(file, 'create its directory', () => fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 }));
    const text = step(file, 'read it', () => readExisting(file));
    const { records, torn, unreadable } = parseJournal(text);
    if (unreadable > 0) logger.warn({ path: file, skippedLines: unreadable, records: records.length }, 'cache: invalidation journal lines unreadable, skipped');
    const journal = new InvalidationJournal(file, maxBytes, logger, records);
    // A torn or unreadable line would glue itself to the next append: keep only what was read.
    if (torn || unreadable > 0) journal.rewrite(records);
    else journal.attach(Buffer.byteLength(text), records[0]?.acceptedAt);
    return journal;
  }

  /** Bytes the journal holds now. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Writes one accepted invalidation and fsyncs it before returning: answer 2xx only after. Throws
   * when the disk does not take it (then it is not durable, and the answer must say so).
   */
  append(record: JournalRecord): void {
    const fd = this.openFd();
    const line = Buffer.from(encodeRecord(record));
    if (this.bytes + line.length > this.maxBytes) {
      this.collapse(record.acceptedAt);
      return;
    }
    step(this.file, 'append an invalidation', () => {
      try {
        for (let written = 0; written < line.length;) written += fs.writeSync(fd, line, written);
        fs.fsyncSync(fd);
      } catch (error) {
        // Leave no half line behind for the next append to land on.
        try {
          fs.ftruncateSync(fd, this.bytes);
        } catch {
          // The write's own error is the one to report.
        }
        throw error;
      }
    });
    this.bytes += line.length;
    this.firstAcceptedAt ??= record.acceptedAt;
  }

  /** Everything was applied to Redis: empties the journal, durably. */
  clear(): void {
    const fd = this.openFd();
    step(this.file, 'clear it', () => {
      fs.ftruncateSync(fd, 0);
      fs.fsyncSync(fd);
    });
    this.bytes = 0;
    this.firstAcceptedAt = undefined;
  }

  close(): void {
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`invalidation journal ${this.file}: used after close`);
    return this.fd;
  }

  private attach(bytes: number, firstAcceptedAt: number | undefined): void {
    this.closeFd();
    this.fd = step(this.file, 'open it for writing', () => fs.openSync(this.file, 'a', 0o600));
    this.bytes = bytes;
    this.firstAcceptedAt = firstAcceptedAt;
  }

  /** Replaces the whole file at once (a temp file renamed over it): a crash leaves the old one or the new one. */
  private rewrite(records: readonly JournalRecord[]): void {
    const temp = `${this.file}.tmp`;
    const text = records.map(encodeRecord).join('');
    step(this.file, `write ${temp} to replace it`, () => {
      try {
        const fd = fs.openSync(temp, 'w', 0o600);
        try {
          fs.writeFileSync(fd, text);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(temp, this.file);
      } catch (error) {
        fs.rmSync(temp, { force: true });
        throw error;
      }
      // The rename itself is durable only once the directory is.
      fsyncDirectory(path.dirname(this.file));
    });
    this.attach(Buffer.byteLength(text), records[0]?.acceptedAt);
  }

  /** Full: one hard invalidation of every page stands for all it held and the one that did not fit (the pending queue's collapse). */
  private collapse(acceptedAt: number): void {
    const bytes = this.bytes;
    this.rewrite([{ message: EVERY_PAGE, mode: 'hard', acceptedAt: this.firstAcceptedAt ?? acceptedAt }]);
    this.logger.warn({ path: this.file, maxBytes: this.maxBytes, bytes }, 'cache: invalidation journal full, collapsed into one invalidation of every page');
  }
}
