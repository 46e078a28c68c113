import { currentAlerts } from '../../server/routes/health';
import { RollingWindow } from '../../server/utils/rolling-window';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('RollingWindow (fake timers)', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-27T10:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('counts hits and misses of the last hour and drops older ones', () => {
    const window = new RollingWindow(HOUR);
    for (let i = 0; i < 3; i += 1) window.recordHit();
    window.recordMiss();
    expect(window.counts()).toEqual({ hits: 3, misses: 1 });

    jest.advanceTimersByTime(30 * MINUTE);
    window.recordHit();
    window.recordMiss();
    window.recordMiss();
    expect(window.counts()).toEqual({ hits: 4, misses: 3 });

    // 61 minutes after the first events: they are out, the later ones stay.
    jest.advanceTimersByTime(31 * MINUTE);
    expect(window.counts()).toEqual({ hits: 1, misses: 2 });

    jest.advanceTimersByTime(HOUR);
    expect(window.counts()).toEqual({ hits: 0, misses: 0 });
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
    expect(window.counts()).toEqual({ hits: 1, misses: 0 });
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

describe('/health alerts', () => {
  const healthy = {
    cacheConfigured: true,
    redisUp: true,
    breakerState: 'closed',
    window: { hits: 900, misses: 100, seconds: 3600, full: true },
    memory: { usedBytes: 10, maxBytes: 100 },
  };
  const names = (input: Parameters<typeof currentAlerts>[0]) => currentAlerts(input).map((alert) => alert.name);

  it('names none while all is well', () => {
    expect(currentAlerts(healthy)).toEqual([]);
  });

  it('names a hit rate under 70% over a whole window, not over a partial one or a handful of lookups', () => {
    const low = { ...healthy, window: { hits: 690, misses: 310, seconds: 3600, full: true } };
    expect(names(low)).toEqual(['SsrCacheHitRateLow']);
    expect(currentAlerts(low)[0]!.summary).toBe('hit rate 69.00% over the last 3600 s (1000 lookups), under 70.00%');
    expect(names({ ...healthy, window: { hits: 700, misses: 300, seconds: 3600, full: true } })).toEqual([]);
    expect(names({ ...low, window: { ...low.window, full: false } })).toEqual([]);
    expect(names({ ...healthy, window: { hits: 1, misses: 9, seconds: 3600, full: true } })).toEqual([]);
  });

  it('names Redis down, and a breaker that keeps Redis off the request path', () => {
    expect(names({ ...healthy, redisUp: false })).toEqual(['SsrCacheRedisDown']);
    expect(names({ ...healthy, breakerState: 'open' })).toEqual(['SsrCacheRedisDown']);
  });

  it('names Redis memory above 80% of maxmemory, and not without a maxmemory', () => {
    expect(names({ ...healthy, memory: { usedBytes: 81, maxBytes: 100 } })).toEqual(['SsrCacheRedisMemoryHigh']);
    expect(names({ ...healthy, memory: { usedBytes: 80, maxBytes: 100 } })).toEqual([]);
    expect(names({ ...healthy, memory: { usedBytes: 10_000, maxBytes: 0 } })).toEqual([]);
  });

  it('names nothing when the cache is turned off', () => {
    expect(names({ ...healthy, cacheConfigured: false, redisUp: false })).toEqual([]);
  });
});
