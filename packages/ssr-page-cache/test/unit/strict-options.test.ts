import { PageCacheOptionsError, resolveOptions, type PageCacheOptions } from '../../src/options';
import { createMockRedis } from '../helpers';

const redis = createMockRedis();
const routes = { '/posts/:slug': { ttl: 60 } };
const resolve = (options: object) => resolveOptions({ redis, routes, ...options } as PageCacheOptions);
const refusal = (options: object): string => {
  try {
    resolve(options);
  } catch (error) {
    expect(error).toBeInstanceOf(PageCacheOptionsError);
    return (error as Error).message;
  }
  throw new Error('the options were accepted');
};

afterAll(() => redis.disconnect());

describe('options a cache does not know', () => {
  it('refuses an unknown top-level option at start, naming the one it most likely meant', () => {
    expect(refusal({ keyprefix: 'blog:' })).toBe('createPageCache: keyprefix: unknown option; did you mean keyPrefix?');
    expect(refusal({ rendertimeoutMS: 5000 })).toBe('createPageCache: rendertimeoutMS: unknown option; did you mean renderTimeoutMs?');
    expect(refusal({ memoryTier: 0 })).toBe('createPageCache: memoryTier: unknown option; did you mean memoryTierBytes?');
  });

  it('refuses an unknown key inside a route, naming the route and the key, not "must be an object"', () => {
    expect(refusal({ routes: { '/posts/:slug': { ttl: 60, grase: 30 } } })).toBe(
      'createPageCache: routes./posts/:slug.grase: unknown option; did you mean grace?',
    );
    expect(refusal({ routes: { '/posts/:slug': { ttl: 60, querry: ['page'] } } })).toBe(
      'createPageCache: routes./posts/:slug.querry: unknown option; did you mean query?',
    );
  });

  it('refuses an unknown key inside breaker and renderBudget', () => {
    expect(refusal({ breaker: { failureThreshold: 3, cooldown: 1000 } })).toBe('createPageCache: breaker.cooldown: unknown option; did you mean cooldownMs?');
    expect(refusal({ renderBudget: { persecond: 10 } })).toBe('createPageCache: renderBudget.persecond: unknown option; did you mean perSecond?');
  });

  it('names every unknown key, each where it is', () => {
    expect(refusal({ KeyPrefix: 'a:', routes: { '/a': { ttl: 1, nmae: 'a', tll: 2 } } })).toBe(
      'createPageCache: routes./a.nmae: unknown option; did you mean name?; routes./a.tll: unknown option; did you mean ttl?; ' +
        'KeyPrefix: unknown option; did you mean keyPrefix?',
    );
  });

  it('suggests nothing far from any known name, and lists the names accepted there instead', () => {
    expect(refusal({ routes: { '/a': { ttl: 1, cacheable: true } } })).toBe(
      'createPageCache: routes./a.cacheable: unknown option; the options here are ttl, grace, query, queryDefaults, name',
    );
    expect(refusal({ zzz: 1 })).toMatch(/^createPageCache: zzz: unknown option; the options here are redis, routes, keyPrefix, /);
  });

  it('keeps its messages for known options with wrong values', () => {
    expect(refusal({ routes: { '/posts/:slug': 300 } })).toBe('createPageCache: routes./posts/:slug: must be an object such as { ttl: 300 }');
    expect(refusal({ routes: { '/posts/:slug': { ttl: -1 } } })).toBe('createPageCache: routes./posts/:slug.ttl: must be at least 1');
    expect(refusal({ breaker: 5 })).toBe('createPageCache: breaker: must be an object such as { failureThreshold: 5, cooldownMs: 5000 }');
    expect(refusal({ renderBudget: true })).toBe('createPageCache: renderBudget: must be false or { perSecond, burst }');
  });

  it('accepts every documented option', () => {
    expect(() =>
      resolve({
        keyPrefix: 'a:',
        breaker: { failureThreshold: 2, cooldownMs: 1000 },
        renderBudget: { perSecond: 5, burst: 10 },
        routes: { '/a': { ttl: 1, grace: 2, query: ['page'], queryDefaults: { page: '1' }, name: 'a' } },
        liveHeaders: ['x-request-id'],
        ignoreCookies: ['_ga'],
      }),
    ).not.toThrow();
  });
});

describe('liveHeaders', () => {
  it('defaults to the request and correlation ids and the trace context', () => {
    expect(resolve({}).liveHeaders).toEqual(['x-request-id', 'x-correlation-id', 'request-id', 'traceparent', 'tracestate']);
  });

  it('takes header names in any case and resolves them lower-cased', () => {
    expect(resolve({ liveHeaders: ['X-Request-Id', 'CF-Ray'] }).liveHeaders).toEqual(['x-request-id', 'cf-ray']);
    expect(resolve({ liveHeaders: [] }).liveHeaders).toEqual([]);
  });

  it('refuses what is not a header name', () => {
    expect(refusal({ liveHeaders: ['x-request-id', 'x request id'] })).toBe('createPageCache: liveHeaders.[1]: must be a header name such as x-request-id');
    expect(refusal({ liveHeaders: 'x-request-id' })).toBe('createPageCache: liveHeaders: must be a list of header names');
  });
});

describe('ignoreCookies', () => {
  it('defaults to none, and keeps names and regular expressions as given', () => {
    expect(resolve({}).ignoreCookies).toEqual([]);
    const analytics = /^_ga_/;
    expect(resolve({ ignoreCookies: ['_ga', analytics] }).ignoreCookies).toEqual(['_ga', analytics]);
  });

  it('refuses what is neither a cookie name nor a regular expression, and an expression whose test() would alternate', () => {
    expect(refusal({ ignoreCookies: ['_ga', 5] })).toBe('createPageCache: ignoreCookies.[1]: must be a cookie name or a regular expression');
    expect(refusal({ ignoreCookies: [/^_ga_/g] })).toBe('createPageCache: ignoreCookies.[0]: must not have the g or y flag');
    expect(refusal({ ignoreCookies: '_ga' })).toBe('createPageCache: ignoreCookies: must be a list of cookie names or regular expressions');
  });
});
