import fc from 'fast-check';
import type Redis from 'ioredis';
import { compileGlob, globProblem } from '../../src/glob';
import { escapeGlob } from '../../src/redis/redis-tier';
import { inspectionClient, removeKeys, uniquePrefix } from '../helpers';

/** What SCAN MATCH finds under the prefix, without the prefix. */
async function scanMatch(redis: Redis, prefix: string, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', escapeGlob(prefix) + pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys.map((key) => key.slice(prefix.length)));
  } while (cursor !== '0');
  return found.sort();
}

describe('compileGlob against the real Redis', () => {
  const prefix = uniquePrefix('glob');
  let redis: Redis;
  const keyChar = fc.constantFrom('a', 'b', 'c', 'A', '/', '?', '=', '*', '[', ']', '\\', '^', '-', 'é');
  const keys = [
    ...new Set([
      '/listings',
      '/listings?page=2',
      '/listings/1',
      '/listings/19',
      '/café',
      '/cafe',
      ...fc.sample(
        fc.array(keyChar, { maxLength: 8 }).map((chars) => chars.join('')),
        { seed: 21, numRuns: 400 },
      ),
    ]),
  ].sort();
  const patternChar = fc.constantFrom('a', 'b', 'A', '/', '?', '*', '[', ']', '\\', '^', '-', 'é');
  const patterns = [
    '*',
    '/listings\\?*',
    '/listings/*',
    '/listings/[1-9]*',
    '/l[^a]*',
    '*[a-c]*',
    '/caf?',
    '/caf??',
    '/café*',
    '*\\**',
    '*[\\]]*',
    '*[-a]',
    ...fc
      .sample(
        fc.array(patternChar, { maxLength: 7 }).map((chars) => chars.join('')),
        { seed: 21, numRuns: 2000 },
      )
      .filter((pattern) => globProblem(pattern) === undefined)
      .slice(0, 250),
  ];

  beforeAll(async () => {
    redis = inspectionClient();
    // Expiring, in case a crashed run never reaches the clean-up.
    const writes = redis.pipeline();
    for (const key of keys) writes.set(prefix + key, '1', 'EX', 300);
    await writes.exec();
  });
  afterAll(async () => {
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  it(`finds the same keys as SCAN MATCH for ${patterns.length} patterns over ${keys.length} keys`, async () => {
    expect(patterns.length).toBeGreaterThan(200);
    for (const pattern of patterns) {
      const matcher = compileGlob(escapeGlob(prefix) + pattern);
      const ours = keys.filter((key) => matcher.matches(prefix + key));
      expect({ pattern, keys: ours }).toEqual({ pattern, keys: await scanMatch(redis, prefix, pattern) });
    }
  });
});
