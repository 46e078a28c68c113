import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { freePort, inspectionClient, realRedisUrl, removeKeys, uniquePrefix } from '../helpers/redis';
import { GOOGLEBOT, waitFor } from '../helpers/app';
import { spawnServer } from '../helpers/server-process';
import { startTwentyStub, twentyRecord, type TwentyStub } from '../helpers/twenty-stub';

describe('the server process', () => {
  it('stops at start-up with a message naming a bad variable', async () => {
    const { child, output } = spawnServer({ SSR_CACHE_TTL_BROWSE: 'half an hour' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toMatch(/Invalid configuration: SSR_CACHE_TTL_BROWSE: must be a whole number/);
  });

  it('is started by npm start (after a build) and npm run start:prod with NODE_ENV=production unless NODE_ENV is set', () => {
    const scripts = (JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.prestart).toBe('npm run build');
    expect(scripts.start).toBe('npm run start:prod');
    const start = scripts['start:prod']!;
    expect(start).toContain('node dist/server/index.js');
    // The script as sh runs it, with the server swapped for a print of what it would see.
    const seen = (env: Record<string, string>) =>
      execFileSync('sh', ['-c', start.replace('node dist/server/index.js', 'node -p process.env.NODE_ENV')], {
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
      }).trim();
    expect(seen({})).toBe('production');
    expect(seen({ NODE_ENV: 'development' })).toBe('development');
  });

  it('warns at start-up when NODE_ENV is not production (React would render with its development build)', async () => {
    const prefix = uniquePrefix('process-env');
    const servers = await Promise.all(
      ([{}, { NODE_ENV: 'development' }, { NODE_ENV: 'production' }] as Record<string, string>[]).map(async (env) => {
        const server = spawnServer({ PORT: String(await freePort()), REDIS_URL: realRedisUrl(), REDIS_KEY_PREFIX: prefix, ...env });
        await waitFor(async () => (server.output().includes('listening') ? true : undefined), 15_000);
        server.child.kill('SIGTERM');
        // 'close', not 'exit': all the output has been read by then.
        await once(server.child, 'close');
        return server.output().includes('NODE_ENV is not production');
      }),
    );
    expect(servers).toEqual([true, true, false]);
  });

  describe('on SIGTERM', () => {
    let stub: TwentyStub;
    const prefix = uniquePrefix('process');
    beforeAll(async () => {
      stub = await startTwentyStub([twentyRecord('slow-1')]);
    });
    afterAll(async () => {
      await stub.close();
      const redis = inspectionClient();
      await removeKeys(redis, prefix);
      redis.disconnect();
    });

    it('finishes the request in flight, refuses new ones, closes Redis and exits 0', async () => {
      const answer = stub.respond;
      stub.respond = (req, path, query) => ({ ...answer(req, path, query), delayMs: path === '/rest/listings/slow-1' ? 800 : 0 });
      const port = await freePort();
      const { child, output } = spawnServer({
        PORT: String(port),
        REDIS_URL: realRedisUrl(),
        REDIS_KEY_PREFIX: prefix,
        LISTING_SOURCE: 'twenty',
        TWENTY_API_URL: stub.url,
        TWENTY_API_KEY: 'key',
      });
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (output().includes('listening') ? true : undefined), 15_000);

      const inFlight = fetch(`${base}/listings/slow-1`, { headers: { 'User-Agent': GOOGLEBOT } });
      await waitFor(async () => (stub.requests.some((seen) => seen.path === '/rest/listings/slow-1') ? true : undefined), 5000, 10);
      child.kill('SIGTERM');
      const exited = once(child, 'exit');

      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Listing slow-1');
      const [code] = await exited;
      expect(code).toBe(0);
      await expect(fetch(`${base}/health`)).rejects.toThrow();
      expect(output()).toMatch(/SIGTERM: draining/);
      expect(output()).toMatch(/"msg":"stopped"/);
    });
  });
});
