import { currentAlerts } from '../../src/observe/alerts';

describe('/health alerts', () => {
  const healthy = {
    cacheConfigured: true,
    redisUp: true,
    breakerState: 'closed',
    window: { hits: 900, misses: 100, stale: 50, seconds: 3600, full: true },
    memory: { usedBytes: 10, maxBytes: 100 },
  };
  const names = (input: Parameters<typeof currentAlerts>[0]) => currentAlerts(input).map((alert) => alert.name);

  it('names none while all is well', () => {
    expect(currentAlerts(healthy)).toEqual([]);
  });

  it('names a hit rate under 70% over a whole window, not over a partial one or a handful of lookups', () => {
    const low = { ...healthy, window: { hits: 690, misses: 310, stale: 0, seconds: 3600, full: true } };
    expect(names(low)).toEqual(['SsrCacheHitRateLow']);
    expect(currentAlerts(low)[0]!.summary).toBe('hit rate 69.00% over the last 3600 s (1000 lookups), under 70.00%');
    expect(names({ ...healthy, window: { hits: 700, misses: 300, stale: 0, seconds: 3600, full: true } })).toEqual([]);
    expect(names({ ...low, window: { ...low.window, full: false } })).toEqual([]);
    expect(names({ ...healthy, window: { hits: 1, misses: 9, stale: 0, seconds: 3600, full: true } })).toEqual([]);
  });

  it('names a stale share over 20% of lookups (the cache masking a failing origin), even in a partial window, not a handful', () => {
    const masking = { ...healthy, window: { hits: 900, misses: 100, stale: 201, seconds: 3600, full: false } };
    expect(names(masking)).toEqual(['SsrCacheStaleShareHigh']);
    expect(currentAlerts(masking)[0]!.summary).toContain('20.10% of lookups over the last 3600 s were answered stale');
    expect(names({ ...masking, window: { ...masking.window, stale: 200 } })).toEqual([]);
    expect(names({ ...healthy, window: { hits: 9, misses: 1, stale: 9, seconds: 3600, full: true } })).toEqual([]);
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
