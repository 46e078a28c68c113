import { ConfigError, loadConfig } from '../../server/config';

describe('loadConfig', () => {
  it('runs on embedded defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3002,
      publicUrl: 'http://localhost:3002',
      logLevel: 'info',
      redis: { host: '127.0.0.1', port: 6379, keyPrefix: '', commandTimeoutMs: 250 },
      cache: { enabled: true, allAgents: false, defaultTtlSeconds: 3600, invalidationToken: undefined },
      listings: { kind: 'embedded', catalogSize: 1000 },
    });
    expect(config.cache.routeTtlSeconds).toEqual({ home: 3600, browse: 1800, detail: 3600, sitemap: 3600 });
  });

  it('takes a route TTL from its own variable, else SSR_CACHE_TTL, else the route default', () => {
    expect(loadConfig({ SSR_CACHE_TTL_BROWSE: '60' }).cache.routeTtlSeconds).toEqual({ home: 3600, browse: 60, detail: 3600, sitemap: 3600 });
    expect(loadConfig({ SSR_CACHE_TTL: '600', SSR_CACHE_TTL_DETAIL: '7200' }).cache.routeTtlSeconds).toEqual({
      home: 600,
      browse: 600,
      detail: 7200,
      sitemap: 600,
    });
  });

  it.each([
    ['SSR_CACHE_TTL', 'abc'],
    ['SSR_CACHE_TTL', '0'],
    ['SSR_CACHE_TTL_HOME', '-5'],
    ['SSR_CACHE_TTL_DETAIL', '1.5'],
    ['PORT', '70000'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['PUBLIC_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['SSR_CACHE_ALL_AGENTS', 'maybe'],
    ['LISTING_SOURCE', 'mysql'],
    ['CACHE_INVALIDATION_TOKEN', 'short'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  });

  it('is in production only when NODE_ENV says so', () => {
    expect(loadConfig({}).production).toBe(false);
    expect(loadConfig({ NODE_ENV: 'development' }).production).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production' }).production).toBe(true);
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ SSR_CACHE_TTL: 'x', PORT: 'y' })).toThrow(/PORT.*SSR_CACHE_TTL|SSR_CACHE_TTL.*PORT/);
  });

  it.each(['CACHE_INVALIDATION_TOKEN', 'TWENTY_WEBHOOK_SECRET', 'METRICS_TOKEN', 'TWENTY_API_KEY'])(
    'refuses a %s no request could present (CRLF, spaces, control characters), naming it and never showing it',
    (name) => {
      const good = 'a-long-enough-secret-0123456789';
      expect(() => loadConfig({ [name]: good })).not.toThrow();
      const cases: [string, RegExp][] = [
        [`${good}\r`, /ends in a line break .*CRLF/],
        [`${good}\n`, /ends in a line break/],
        [`${good} tail`, /contains whitespace/],
        [`"${good}" `, /contains whitespace/],
        [`${good}\tx`, /contains whitespace/],
        [`${good}\u0000`, /control or non-ASCII/],
        [`${good}é`, /control or non-ASCII/],
      ];
      for (const [value, problem] of cases) {
        let message = '';
        try {
          loadConfig({ [name]: value });
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message).toMatch(new RegExp(`^Invalid configuration: ${name}: `));
        expect(message).toMatch(problem);
        expect(message).not.toContain(good);
      }
    },
  );

  it('needs the Twenty URL and key when LISTING_SOURCE=twenty', () => {
    expect(() => loadConfig({ LISTING_SOURCE: 'twenty' })).toThrow(/TWENTY_API_URL and TWENTY_API_KEY/);
    expect(loadConfig({ LISTING_SOURCE: 'twenty', TWENTY_API_URL: 'https://crm.example.com/', TWENTY_API_KEY: 'k' }).listings).toEqual({
      kind: 'twenty',
      apiUrl: 'https://crm.example.com',
      apiKey: 'k',
      timeoutMs: 5000,
      objectNamePlural: 'listings',
      objectNameSingular: undefined,
      // The fields are found by type in Twenty's metadata: these settings only override.
      cityField: undefined,
      priceField: undefined,
      rateLimit: { perMinute: 100, perSecond: 100 },
      dataCacheSeconds: 300,
    });
    expect(() => loadConfig({ TWENTY_RATE_LIMIT_PER_MINUTE: '0' })).toThrow(/TWENTY_RATE_LIMIT_PER_MINUTE/);
    expect(() => loadConfig({ SSR_CACHE_DEGRADED_TTL: 'soon' })).toThrow(/SSR_CACHE_DEGRADED_TTL/);
    expect(() => loadConfig({ TWENTY_PRICE_FIELD: 'price[amount]' })).toThrow(/TWENTY_PRICE_FIELD: must be a field name or field.subfield/);
    // The singular is Twenty's, given by TWENTY_LISTING_OBJECT_SINGULAR (or learnt from its metadata API), never derived.
    const properties = loadConfig({
      LISTING_SOURCE: 'twenty',
      TWENTY_API_URL: 'https://crm.example.com',
      TWENTY_API_KEY: 'k',
      TWENTY_LISTING_OBJECT: 'properties',
      TWENTY_LISTING_OBJECT_SINGULAR: 'property',
    });
    expect(properties.listings).toMatchObject({ objectNamePlural: 'properties', objectNameSingular: 'property' });
    expect(properties.cache.twentyWebhookObject).toEqual({ plural: 'properties', singular: 'property' });
  });

  it('treats empty variables as unset and trims URLs', () => {
    const config = loadConfig({ PORT: '', PUBLIC_URL: 'https://homes.example.com/', REDIS_URL: 'redis://cache:6380/2' });
    expect(config.port).toBe(3002);
    expect(config.publicUrl).toBe('https://homes.example.com');
    expect(config.redis.url).toBe('redis://cache:6380/2');
  });
});
