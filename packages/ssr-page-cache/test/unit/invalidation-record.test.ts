import { InvalidationRecordCopy, parseRecord, type RecordSnapshot } from '../../src/coordination/invalidation-record';

function snapshot(seq: number, floor: number, marks: Record<string, string> = {}): RecordSnapshot {
  return parseRecord({ seq: String(seq), floor: String(floor), pruned: '0', ...marks }) as RecordSnapshot;
}

describe('the invalidation record (each instance’s copy)', () => {
  it('judges an entry by the number in force when its render began: fresh, stale (soft) or gone (hard)', () => {
    const copy = new InvalidationRecordCopy();
    copy.replace(snapshot(100, 90));
    copy.note({ seq: 101, mode: 'soft', keys: [], tags: ['listing:1'], patterns: [] });
    copy.note({ seq: 102, mode: 'hard', keys: ['ssr:/listings/2'], tags: [], patterns: [] });
    copy.note({ seq: 103, mode: 'soft', keys: [], tags: [], patterns: ['ssr:/listings\\?*'] });

    expect(copy.verdict('ssr:/listings/1', ['listing:1'], 100)).toBe('stale');
    expect(copy.verdict('ssr:/listings/1', ['listing:1'], 101)).toBe('fresh');
    expect(copy.verdict('ssr:/listings/2', ['listing:2'], 101)).toBe('gone');
    expect(copy.verdict('ssr:/listings/2', ['listing:2'], 102)).toBe('fresh');
    expect(copy.verdict('ssr:/listings?page=2', [], 102)).toBe('stale');
    expect(copy.verdict('ssr:/listings?page=2', [], 103)).toBe('fresh');
    expect(copy.verdict('ssr:/listings', [], 100)).toBe('fresh');
  });

  it('holds every entry rendered before the floor stale, and one of an earlier release (no number)', () => {
    const copy = new InvalidationRecordCopy();
    copy.replace(snapshot(500, 400));
    expect(copy.verdict('ssr:/', ['home'], 399)).toBe('stale');
    expect(copy.verdict('ssr:/', ['home'], 400)).toBe('fresh');
    expect(copy.verdict('ssr:/', ['home'], undefined)).toBe('stale');
  });

  it('judges nothing fresh before it has read the record', () => {
    expect(new InvalidationRecordCopy().verdict('ssr:/', [], 5)).toBe('stale');
  });

  it('says when a message skipped numbers (one was lost), and what a read of the record holds that it had missed', () => {
    const copy = new InvalidationRecordCopy();
    copy.replace(snapshot(10, 1));
    expect(copy.note({ seq: 11, mode: 'soft', keys: [], tags: ['a'], patterns: [] }).gap).toBe(false);
    expect(copy.note({ seq: 13, mode: 'soft', keys: [], tags: ['c'], patterns: [] }).gap).toBe(true);
    expect(copy.isBehind(13, 1)).toBe(true);
    const { missed, everything } = copy.replace(snapshot(13, 1, { 't:a': '11|s|1', 't:b': '12|h|2', 't:c': '13|s|3' }));
    expect(everything).toBe(false);
    // 12 was never announced here, so everything after 11 is reported (13 again: applying it twice is harmless).
    expect(missed).toEqual([
      { seq: 12, mode: 'hard', keys: [], tags: ['b'], patterns: [] },
      { seq: 13, mode: 'soft', keys: [], tags: ['c'], patterns: [] },
    ]);
    expect(copy.verdict('ssr:/b', ['b'], 11)).toBe('gone');
    const fresh = new InvalidationRecordCopy();
    fresh.replace(snapshot(10, 1));
    const read = fresh.replace(snapshot(12, 1, { 't:a': '11|s|1', 'k:ssr:/x': '12|h|2', 'p:ssr:/y*': '12|h|2' }));
    expect(read.missed).toEqual([
      { seq: 11, mode: 'soft', keys: [], tags: ['a'], patterns: [] },
      { seq: 12, mode: 'hard', keys: ['ssr:/x'], tags: [], patterns: ['ssr:/y*'] },
    ]);
    expect(fresh.verdict('ssr:/yes', [], 11)).toBe('gone');
  });

  it('tells a record made anew (a higher floor) as "everything may have changed"', () => {
    const copy = new InvalidationRecordCopy();
    copy.replace(snapshot(10, 1));
    expect(copy.replace(snapshot(2_000_000, 2_000_000)).everything).toBe(true);
    expect(copy.verdict('ssr:/', [], 10)).toBe('stale');
    expect(copy.isBehind(2_000_000, 2_000_000)).toBe(false);
    expect(copy.isBehind(2_000_001, 2_000_000)).toBe(true);
    expect(copy.isBehind(undefined, undefined)).toBe(true);
  });

  it('takes a floor raised by pruning marks it had applied as no news (nothing to drop)', () => {
    const copy = new InvalidationRecordCopy();
    copy.replace(snapshot(10, 1, { 't:a': '5|s|1', 't:b': '9|s|2' }));
    const pruned = copy.replace(snapshot(10, 5, { 't:b': '9|s|2' }));
    expect(pruned).toEqual({ missed: [], everything: false });
    expect(copy.verdict('ssr:/', ['a'], 4)).toBe('stale');
    expect(copy.verdict('ssr:/', ['a'], 9)).toBe('fresh');
  });

  it('keeps marks announced while a read of the record was under way', () => {
    const copy = new InvalidationRecordCopy();
    copy.replace(snapshot(10, 1));
    copy.note({ seq: 11, mode: 'hard', keys: [], tags: ['late'], patterns: [] });
    // A snapshot read before 11 was recorded arrives after it was announced.
    copy.replace(snapshot(10, 1));
    expect(copy.verdict('ssr:/', ['late'], 10)).toBe('gone');
    expect(copy.isBehind(11, 1)).toBe(true);
  });

  it('matches a pathological pattern against a long key correctly, and ignores marks it cannot read', () => {
    const copy = new InvalidationRecordCopy();
    copy.replace(snapshot(10, 1, { 'p:ssr:/*a*a*a*a*a*a*a*a*a*a*a*a*a*b': '10|s|1', 't:bad': 'nonsense' }));
    expect(copy.verdict(`ssr:/${'a'.repeat(500)}`, ['bad'], 9)).toBe('fresh');
    expect(copy.verdict(`ssr:/${'a'.repeat(500)}b`, ['bad'], 9)).toBe('stale');
    expect(copy.size).toBe(1);
  });
});
