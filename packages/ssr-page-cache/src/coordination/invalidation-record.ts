import { compileGlob, type GlobMatcher } from '../glob';

/**
 * The lazy side of invalidation. Redis keeps one record (a hash) of when each key, tag and
 * pattern was last invalidated, as a sequence number every invalidation increments; every entry
 * records the number in force when its render began. An entry whose key, tags or a matching
 * pattern were invalidated after that is stale (soft) or gone (hard) on read, whatever Redis has
 * evicted meanwhile (a tag index, a mark), and wherever the render ran. Entries older than the
 * record's `floor` (the record was evicted and made anew, or pruned) are stale.
 *
 * This is each instance's copy of that record, kept current by the invalidation bus and read
 * again from Redis whenever a read shows it is behind.
 */

export type InvalidationKind = 'hard' | 'soft';

/** One invalidation as recorded: its number, and what it named (keys and patterns in the key space, e.g. `ssr:/a`). */
export interface RecordedInvalidation {
  seq: number;
  mode: InvalidationKind;
  keys: string[];
  tags: string[];
  patterns: string[];
}

/** What the record says of an entry: still fresh, stale (serve once, re-render) or gone (a miss). */
export type Verdict = 'fresh' | 'stale' | 'gone';

/** The record as Redis holds it: its counters and one mark per key, tag and pattern. */
export interface RecordSnapshot {
  seq: number;
  floor: number;
  marks: Map<string, Mark>;
}

/** The last invalidation of one key (`k:`), tag (`t:`) or pattern (`p:`). */
export interface Mark {
  seq: number;
  hard: boolean;
  /** When it was made (epoch ms; Redis's clock, or this instance's when it heard of it). */
  at?: number;
}

export const RECORD_FIELD = { key: 'k:', tag: 't:', pattern: 'p:' } as const;

/** A field's value in the Redis hash: `{seq}|{h|s}|{epoch ms}`. */
function parseMark(value: string): Mark | undefined {
  const [seq, mode, at] = value.split('|', 3);
  const number = Number(seq);
  if (!Number.isSafeInteger(number) || (mode !== 'h' && mode !== 's')) return undefined;
  const ms = Number(at);
  return { seq: number, hard: mode === 'h', ...(Number.isFinite(ms) && ms > 0 ? { at: ms } : {}) };
}

/** HGETALL of the record as a snapshot; undefined when there is no record (never made, or evicted). */
export function parseRecord(fields: Record<string, string>): RecordSnapshot | undefined {
  const seq = Number(fields.seq);
  const floor = Number(fields.floor);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(floor)) return undefined;
  const marks = new Map<string, Mark>();
  for (const [field, value] of Object.entries(fields)) {
    if (field.length < 3 || field[1] !== ':') continue;
    const mark = parseMark(value);
    if (mark) marks.set(field, mark);
  }
  return { seq, floor, marks };
}

const NO_MATCHERS: ReadonlyMap<string, GlobMatcher> = new Map();

/** Patterns newer than an entry matched against its key on one read; more make it stale. */
const MAX_PATTERNS_PER_VERDICT = 200;

export class InvalidationRecordCopy {
  /** False until the record was read from Redis (or made there): entries cannot be judged before. */
  known = false;
  seq = 0;
  floor = 0;
  private readonly keys = new Map<string, Mark>();
  private readonly tags = new Map<string, Mark>();
  private readonly patterns = new Map<string, Mark & { matcher: GlobMatcher }>();
  /** The newest pattern mark's number: a read of an entry no newer pattern can touch skips the patterns. */
  private newestPatternSeq = -Infinity;
  private advance(seq: number): void {
    if (seq > this.seq) this.seq = seq;
  }

  /** `matchers`: patterns compiled before (a pattern is compiled once, however many marks it gets). */
  private setMark(field: string, mark: Mark, matchers: ReadonlyMap<string, GlobMatcher> = NO_MATCHERS): void {
    const name = field.slice(2);
    switch (field.slice(0, 2)) {
      case RECORD_FIELD.key:
        if ((this.keys.get(name)?.seq ?? -1) < mark.seq) this.keys.set(name, mark);
        break;
      case RECORD_FIELD.tag:
        if ((this.tags.get(name)?.seq ?? -1) < mark.seq) this.tags.set(name, mark);
        break;
      case RECORD_FIELD.pattern: {
        const held = this.patterns.get(name);
        if ((held?.seq ?? -1) >= mark.seq) break;
        this.patterns.set(name, { ...mark, matcher: held?.matcher ?? matchers.get(name) ?? compileGlob(name) });
        if (mark.seq > this.newestPatternSeq) this.newestPatternSeq = mark.seq;
        break;
      }
    }
  }

  /**
   * Takes one invalidation (made here, or announced by another instance). `gap`: numbers were
   * skipped (a message lost), so the record must be read again.
   */
  note(invalidation: RecordedInvalidation): { gap: boolean } {
    const mark = { seq: invalidation.seq, hard: invalidation.mode === 'hard', at: Date.now() };
    for (const key of invalidation.keys) this.setMark(RECORD_FIELD.key + key, mark);
    for (const tag of invalidation.tags) this.setMark(RECORD_FIELD.tag + tag, mark);
    for (const pattern of invalidation.patterns) this.setMark(RECORD_FIELD.pattern + pattern, mark);
    const gap = !this.known || invalidation.seq > this.seq + 1;
    // Across a gap the number stays where it was: the read of the record that follows then
    // reports every invalidation after it, the skipped ones included.
    if (!gap) this.advance(invalidation.seq);
    return { gap };
  }

  /**
   * Takes the record as read from Redis and returns what it holds that this copy did not know
   * (to be applied to the in-process tier and the host's data, like a message from the bus).
   * `everything`: the record was made anew or pruned past what this copy knew: any page may be affected.
   */
  replace(snapshot: RecordSnapshot): { missed: RecordedInvalidation[]; everything: boolean } {
    // A floor above every number this copy has applied: invalidations it never heard of may be
    // behind it. (A floor that rose past marks it had applied, by pruning, changes nothing here.)
    const everything = this.known && snapshot.floor > this.seq;
    const missed = new Map<number, RecordedInvalidation>();
    for (const [field, mark] of snapshot.marks) {
      if (this.known && mark.seq <= this.seq) continue;
      let one = missed.get(mark.seq);
      if (!one) missed.set(mark.seq, (one = { seq: mark.seq, mode: mark.hard ? 'hard' : 'soft', keys: [], tags: [], patterns: [] }));
      const name = field.slice(2);
      if (field.startsWith(RECORD_FIELD.key)) one.keys.push(name);
      else if (field.startsWith(RECORD_FIELD.tag)) one.tags.push(name);
      else if (field.startsWith(RECORD_FIELD.pattern)) one.patterns.push(name);
    }
    const wasKnown = this.known;
    // Marks announced while this read was under way are newer than it: they stay.
    const newer = [...this.marks()].filter(([, mark]) => mark.seq > snapshot.seq);
    const matchers = new Map([...this.patterns].map(([name, mark]) => [name, mark.matcher]));
    this.keys.clear();
    this.tags.clear();
    this.patterns.clear();
    this.newestPatternSeq = -Infinity;
    for (const [field, mark] of snapshot.marks) this.setMark(field, mark, matchers);
    for (const [field, mark] of newer) this.setMark(field, mark, matchers);
    this.floor = snapshot.floor;
    this.known = true;
    // A record made anew starts above any number an earlier one gave (Redis's clock in
    // microseconds); should Redis's clock have gone back, what Redis says still wins.
    this.seq = snapshot.seq;
    return { missed: wasKnown ? [...missed.values()].sort((a, b) => a.seq - b.seq) : [], everything };
  }

  /**
   * Whether Redis's counters say this copy is behind: a newer invalidation (not yet announced
   * here) or a record made anew.
   */
  isBehind(seq: number | undefined, floor: number | undefined): boolean {
    return !this.known || seq === undefined || floor === undefined || seq > this.seq || floor !== this.floor;
  }

  /**
   * Whether the record should be read again: behind, or Redis's number below this copy's (a read
   * that raced an invalidation, or Redis lost writes: a restore, a failover).
   */
  differs(seq: number | undefined, floor: number | undefined): boolean {
    return this.isBehind(seq, floor) || seq !== this.seq;
  }

  /** Every mark held, as fields. */
  private *marks(): Generator<[string, Mark]> {
    for (const [name, mark] of this.keys) yield [RECORD_FIELD.key + name, mark];
    for (const [name, mark] of this.tags) yield [RECORD_FIELD.tag + name, mark];
    for (const [name, { seq, hard, at }] of this.patterns) yield [RECORD_FIELD.pattern + name, { seq, hard, at }];
  }

  /**
   * What the record says of an entry rendered with `entrySeq` in force (undefined: an entry of
   * an earlier release, which recorded none) under `key` with `tags`.
   */
  verdict(key: string, tags: readonly string[], entrySeq: number | undefined): Verdict {
    if (!this.known) return 'stale';
    const since = entrySeq ?? -1;
    let stale = since < this.floor;
    const judge = (mark: Mark | undefined): boolean => {
      if (!mark || mark.seq <= since) return false;
      if (mark.hard) return true;
      stale = true;
      return false;
    };
    if (judge(this.keys.get(key))) return 'gone';
    for (const tag of tags) if (judge(this.tags.get(tag))) return 'gone';
    let matched = 0;
    for (const mark of this.newestPatternSeq > since ? this.patterns.values() : []) {
      if (mark.seq <= since) continue;
      // Past this many newer patterns the page is not judged fresh: one read never matches without bound.
      if ((matched += 1) > MAX_PATTERNS_PER_VERDICT) return 'stale';
      if (mark.matcher.matches(key) && judge(mark)) return 'gone';
    }
    return stale ? 'stale' : 'fresh';
  }

  /**
   * When the page or anything it shows was last invalidated (epoch ms), as far as the marks held
   * say; undefined when none names it.
   */
  lastChangedAt(key: string, tags: readonly string[]): number | undefined {
    let latest: number | undefined;
    const take = (mark: Mark | undefined) => {
      if (mark?.at !== undefined && (latest === undefined || mark.at > latest)) latest = mark.at;
    };
    take(this.keys.get(key));
    for (const tag of tags) take(this.tags.get(tag));
    let matched = 0;
    for (const mark of this.patterns.values()) {
      if ((matched += 1) > MAX_PATTERNS_PER_VERDICT) break;
      if (mark.matcher.matches(key)) take(mark);
    }
    return latest;
  }

  /** Marks held, for /health. */
  get size(): number {
    return this.keys.size + this.tags.size + this.patterns.size;
  }
}
