import fc from 'fast-check';
import { compileGlob, globProblem, MAX_GLOB_WILDCARDS, stepBudget } from '../../src/glob';
import { MAX_KEY_LENGTH } from '../../src/key';

/**
 * Redis 7's `stringmatchlen` (util.c), transcribed line by line over the same indices, for ASCII
 * input: the specification `compileGlob` is held to.
 */
function redisMatch(pattern: string, key: string): boolean {
  const state = { skipLongerMatches: false };
  const code = (text: string, index: number) => text.charCodeAt(index);

  function match(p: number, s: number, nesting: number): boolean {
    if (nesting > 1000) return false;
    while (p < pattern.length && s < key.length) {
      switch (pattern[p]) {
        case '*': {
          while (p + 1 < pattern.length && pattern[p + 1] === '*') p += 1;
          if (p + 1 === pattern.length) return true;
          for (; s < key.length; s += 1) {
            if (match(p + 1, s, nesting + 1)) return true;
            if (state.skipLongerMatches) return false;
          }
          state.skipLongerMatches = true;
          return false;
        }
        case '?':
          s += 1;
          break;
        case '[': {
          p += 1;
          const not = pattern[p] === '^';
          if (not) p += 1;
          let matched = false;
          for (;;) {
            if (pattern[p] === '\\' && pattern.length - p >= 2) {
              p += 1;
              if (pattern[p] === key[s]) matched = true;
            } else if (pattern[p] === ']') {
              break;
            } else if (p >= pattern.length) {
              p -= 1;
              break;
            } else if (pattern.length - p >= 3 && pattern[p + 1] === '-') {
              const [start, end] = [code(pattern, p), code(pattern, p + 2)].sort((a, b) => a - b) as [number, number];
              const c = code(key, s);
              p += 2;
              if (c >= start && c <= end) matched = true;
            } else if (pattern[p] === key[s]) {
              matched = true;
            }
            p += 1;
          }
          if (not) matched = !matched;
          if (!matched) return false;
          s += 1;
          break;
        }
        default:
          if (pattern[p] === '\\' && pattern.length - p >= 2) p += 1;
          if (pattern[p] !== key[s]) return false;
          s += 1;
      }
      p += 1;
      if (s === key.length) {
        while (pattern[p] === '*') p += 1;
        break;
      }
    }
    return p === pattern.length && s === key.length;
  }

  return match(0, 0, 0);
}

describe('globProblem', () => {
  it.each([
    ['/listings/[9-1]*', 'range "9-1" in "[9-1]" is reversed (write [1-9])'],
    ['/[a-Z]*', 'range "a-Z" in "[a-Z]" is reversed (write [a-zA-Z])'],
    ['/x[abc', '"[" at offset 2 is never closed'],
    ['/abc\\', 'ends in a lone "\\"'],
    ['/[]x', '"[]" at offset 1 is an empty class and matches nothing'],
    ['/[^]x', '"[^]" at offset 1 is an empty class and matches any character'],
    ['/[a-]', '"-" before "]" in "[a-]" makes Redis read a range up to "]", not a dash (write "[a\\-]")'],
    ['/[\\a-z]', '"\\a-z" in "[\\a-z]" is not a range'],
    ['/[a-\\]]', 'range "a-\\" in "[a-\\]" ends in "\\"'],
    ['/caf[é]', '"[é]" holds "é", which is not ASCII'],
    ['/*a'.repeat(MAX_GLOB_WILDCARDS + 1), `has ${MAX_GLOB_WILDCARDS + 1} "*" wildcards; at most ${MAX_GLOB_WILDCARDS} are allowed`],
  ])('refuses %s, naming the problem', (pattern, message) => {
    expect(globProblem(pattern)).toContain(message);
  });

  it.each([
    '/listings\\?*',
    '/listings/*',
    '/l[^a]st',
    '/[a-z]',
    '/[-a]',
    '/[a\\-]',
    '/[\\]]',
    '/\\*',
    '/\\[not a class\\]',
    '/café?',
    `/${'*a'.repeat(MAX_GLOB_WILDCARDS - 1)}*`,
  ])('accepts %s', (pattern) => {
    expect(globProblem(pattern)).toBeUndefined();
  });

  it('never throws, and a matcher never throws, whatever the string (property test)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (pattern, key) => {
        const problem = globProblem(pattern);
        const matcher = compileGlob(pattern);
        // An invalid pattern matches everything: a peer that gets one drops pages rather than crash.
        if (problem !== undefined) expect(matcher.matches(key)).toBe(true);
        else expect(typeof matcher.matches(key)).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
    expect(compileGlob(`${'a'.repeat(300_000)}*`).matches('aaa')).toBe(false);
    expect(compileGlob('[a]'.repeat(40_000)).matches('a'.repeat(40_000))).toBe(true);
  });
});

describe('compileGlob', () => {
  it.each([
    ['ssr:/listings\\?*', 'ssr:/listings?page=2', true],
    ['ssr:/listings\\?*', 'ssr:/listings/2', false],
    ['ssr:/listings\\?*', 'ssr:/listings?', true],
    ['ssr:/listings?*', 'ssr:/listings/2', true],
    ['ssr:/l[io]st', 'ssr:/lost', true],
    ['ssr:/l[^io]st', 'ssr:/lost', false],
    ['ssr:/L[a-z]st', 'ssr:/lost', false],
    ['ssr:/a.b', 'ssr:/aXb', false],
    ['ssr:/(x)+', 'ssr:/(x)+', true],
    ['ssr:/tags/*/page', 'ssr:/tags/a/b/page', true],
    ['ssr:/tags/*/page', 'ssr:/tags/page', false],
    ['ssr:/caf?', 'ssr:/café', false],
    ['ssr:/caf??', 'ssr:/café', true],
    ['ssr:/café*', 'ssr:/café?x=1', true],
    ['*', '', false],
    ['', '', true],
  ])('%s matches %s: %s (as Redis does)', (pattern, key, expected) => {
    expect(compileGlob(pattern).matches(key)).toBe(expected);
    expect(compileGlob(pattern).pattern).toBe(pattern);
  });

  it('agrees with Redis on every valid pattern over a small alphabet (property test)', () => {
    const alphabet = fc.constantFrom('*', '?', '[', ']', '^', '-', '\\', 'a', 'b', 'c', 'Z');
    const text = (maxLength: number) => fc.array(alphabet, { maxLength }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(
        text(10).filter((pattern) => globProblem(pattern) === undefined),
        text(10),
        (pattern, key) => {
          const measured = compileGlob(pattern).measure(key);
          expect(measured.overBudget).toBe(false);
          expect([pattern, key, measured.matched]).toEqual([pattern, key, redisMatch(pattern, key)]);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('agrees with Redis on patterns built from stars, classes and escapes (property test)', () => {
    const literal = fc.constantFrom('a', 'b', '/', '\\*', '\\?', '\\[', '\\]', '\\\\', '^', '-');
    const member = fc.constantFrom('a', 'b', 'c', 'a-c', 'b-b', '\\]', '\\-', '-', '^', '*', '?', '[');
    const token = fc.oneof(
      literal,
      fc.constant('?'),
      fc.constant('*'),
      fc.tuple(fc.boolean(), fc.array(member, { minLength: 1, maxLength: 3 })).map(([not, members]) => `[${not ? '^' : ''}${members.join('')}]`),
    );
    const pattern = fc.array(token, { maxLength: 8 }).map((tokens) => tokens.join(''));
    const key = fc.array(fc.constantFrom('a', 'b', 'c', '/', '*', '?', '[', ']', '\\', '^', '-'), { maxLength: 12 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(pattern, key, (glob, text) => {
        if (globProblem(glob) !== undefined) return;
        expect([glob, text, compileGlob(glob).matches(text)]).toEqual([glob, text, redisMatch(glob, text)]);
      }),
      { numRuns: 20_000 },
    );
  });

  it(`decides a key of ${MAX_KEY_LENGTH} characters against ${MAX_GLOB_WILDCARDS} wildcards in steps linear in its length`, () => {
    const key = 'a'.repeat(MAX_KEY_LENGTH);
    for (const pattern of [
      `${'*a'.repeat(MAX_GLOB_WILDCARDS - 1)}*b`,
      `${'*a'.repeat(MAX_GLOB_WILDCARDS)}b`,
      `${'*a'.repeat(MAX_GLOB_WILDCARDS - 2)}*b*`,
      `${'*a?'.repeat(MAX_GLOB_WILDCARDS - 2)}*[b]*`,
      `a${'*aa'.repeat(MAX_GLOB_WILDCARDS)}`,
      `*${'a'.repeat(255)}b*`,
    ]) {
      expect(globProblem(pattern)).toBeUndefined();
      const measured = compileGlob(pattern).measure(key);
      expect({ pattern, overBudget: measured.overBudget }).toEqual({ pattern, overBudget: false });
      expect(measured.steps).toBeLessThanOrEqual(2 * key.length + pattern.length);
      expect(measured.matched).toBe(redisMatch(pattern, key));
    }
  });

  it('gives up on a key it cannot decide within its step budget, and counts it as matched', () => {
    const key = 'a'.repeat(MAX_KEY_LENGTH);
    const pattern = `*${'a'.repeat(254)}?b*`;
    const measured = compileGlob(pattern).measure(key);
    expect(measured).toEqual({ matched: true, steps: stepBudget(key.length, pattern.length) + 1, overBudget: true });
    expect(redisMatch(pattern, key)).toBe(false);
  });

  it('decides the common literal prefix with one comparison per prefix character', () => {
    const measured = compileGlob('ssr:/listings\\?*').measure(`ssr:/listings?${'q'.repeat(400)}`);
    expect(measured).toEqual({ matched: true, steps: 'ssr:/listings?'.length, overBudget: false });
  });
});
