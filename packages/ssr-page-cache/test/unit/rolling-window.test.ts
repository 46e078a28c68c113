import { RollingWindow } from '../../src/observe/rolling-window';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('RollingWindow (fake timers)', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-27T10:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('counts hits (stale ones also as stale) and misses of the last hour and drops older ones', () => {
    const window = new RollingWindow(HOUR);
    for (let i = 0; i < 3; i += 1) window.recordHit();
    window.recordMiss();
    window.recordStale();
    expect(window.counts()).toEqual({ hits: 4, misses: 1, stale: 1 });

    jest.advanceTimersByTime(30 * MINUTE);
    window.recordHit();
    window.recordMiss();
    window.recordMiss();
    window.recordStale();
    expect(window.counts()).toEqual({ hits: 6, misses: 3, stale: 2 });

    // 61 minutes after the first events: they are out, the later ones stay.
    jest.advanceTimersByTime(31 * MINUTE);
    expect(window.counts()).toEqual({ hits: 2, misses: 2, stale: 1 });

    jest.advanceTimersByTime(HOUR);
    expect(window.counts()).toEqual({ hits: 0, misses: 0, stale: 0 });
  });

  it('drops an event within one slot (a minute of an hour) of its leaving the window', () => {
    const window = new RollingWindow(HOUR);
    window.recordHit();
    jest.advanceTimersByTime(HOUR - 2 * MINUTE);
    expect(window.counts().hits).toBe(1);
    jest.advanceTimersByTime(2 * MINUTE);
    expect(window.counts().hits).toBe(0);
  });

  it('reuses a slot position for a later slot without keeping its old counts', () => {
    const window = new RollingWindow(10 * MINUTE, 10);
    window.recordMiss();
    // Exactly one window later the same position comes round again.
    jest.advanceTimersByTime(10 * MINUTE);
    window.recordHit();
    expect(window.counts()).toEqual({ hits: 1, misses: 0, stale: 0 });
  });

  it('is full once it has counted for a whole window', () => {
    const window = new RollingWindow(HOUR);
    expect(window.isFull).toBe(false);
    jest.advanceTimersByTime(HOUR - 1);
    expect(window.isFull).toBe(false);
    jest.advanceTimersByTime(1);
    expect(window.isFull).toBe(true);
  });
});
