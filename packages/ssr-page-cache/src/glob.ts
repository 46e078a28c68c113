/**
 * Redis glob patterns (SCAN MATCH): refused when Redis would read them otherwise than written, and
 * matched here exactly as Redis's `stringmatchlen` matches them, in time linear in the key.
 */

/** Each `*` multiplies Redis's own work per key during SCAN; real patterns need one or two. */
export const MAX_GLOB_WILDCARDS = 16;
/**
 * The steps one match may take: 8 per key character (a realistic pattern needs 1 or 2) plus one
 * per pattern character; beyond, it gives up (the answer is then `matched`).
 */
export function stepBudget(keyBytes: number, patternBytes: number): number {
  return 8 * keyBytes + patternBytes;
}

export interface GlobMatcher {
  readonly pattern: string;
  /** Whether Redis would match the key; true too when the step budget runs out (the caller drops the page: the safe direction). */
  matches(key: string): boolean;
  /** What deciding a key costs; `overBudget` means the step budget ran out and the answer is `matched`. */
  measure(key: string): GlobMeasure;
}

export interface GlobMeasure {
  matched: boolean;
  steps: number;
  overBudget: boolean;
}

/** Token codes: a byte (0-255) to equal, or one of these, or a class (`classCode(index)`). */
const STAR = -1;
const ANY = -2;
const classCode = (index: number) => -3 - index;
const classIndex = (code: number) => -3 - code;

const FAILED = 0;
const MATCHED = 1;
const UNDECIDED = 2;
type Verdict = typeof FAILED | typeof MATCHED | typeof UNDECIDED;

interface ParsedClass {
  end: number;
  /** 1 for each byte the class accepts (negation applied). */
  table: Uint8Array;
  problem?: string;
}

interface ParsedGlob {
  codes: number[];
  classes: Uint8Array[];
  problem?: string;
}

const quote = (text: string) => `"${text}"`;
const isLetter = (char: string) => /^[a-zA-Z]$/.test(char);

/** `[1-9]` for `9-1`; `[a-zA-Z]` for `a-Z` (a range across cases is meant as both cases). */
function reversedRangeFix(text: string, offset: number, low: string, high: string): string {
  let fixed = `${high}-${low}`;
  if (isLetter(low) && isLetter(high) && (low === low.toLowerCase()) !== (high === high.toLowerCase())) {
    const [from, to] = [low.toLowerCase(), high.toLowerCase()].sort() as [string, string];
    fixed = `${from}-${to}${from.toUpperCase()}-${to.toUpperCase()}`;
  }
  return text.slice(0, offset) + fixed + text.slice(offset + 3);
}

/** A `[...]` class from `open`, read as Redis reads it: `]` first closes it, `\` escapes, `x-y` is a range. */
function parseClass(source: string, open: number): ParsedClass {
  const table = new Uint8Array(256);
  let at = open + 1;
  const negated = source[at] === '^';
  if (negated) at += 1;
  const bodyStart = at;
  let closed = false;
  let rangeProblem: ((text: string) => string) | undefined;
  const accept = (code: number) => {
    if (code < table.length) table[code] = 1;
  };
  while (at < source.length) {
    const char = source[at] as string;
    if (char === '\\' && at + 1 < source.length) {
      accept(source.charCodeAt(at + 1));
      if (source[at + 2] === '-' && at + 3 < source.length && source[at + 3] !== ']') {
        const written = source.slice(at, at + 4);
        const plain = written.slice(1);
        rangeProblem ??= (text) =>
          `${quote(written)} in ${quote(text)} is not a range: Redis cannot start a range with an escaped character (write ${quote(plain)})`;
      }
      at += 2;
    } else if (char === ']') {
      closed = true;
      at += 1;
      break;
    } else if (at + 2 < source.length && source[at + 1] === '-') {
      const low = char;
      const high = source[at + 2] as string;
      const offset = at - open;
      if (high === ']') {
        rangeProblem ??= (text) =>
          `"-" before "]" in ${quote(text)} makes Redis read a range up to "]", not a dash (write ${quote(text.slice(0, offset + 1) + '\\-]')})`;
      } else if (high === '\\') {
        rangeProblem ??= (text) => `range ${quote(`${low}-\\`)} in ${quote(text)} ends in "\\": Redis does not read escapes in a range`;
      } else if (low > high) {
        rangeProblem ??= (text) => `range ${quote(`${low}-${high}`)} in ${quote(text)} is reversed (write ${reversedRangeFix(text, offset, low, high)})`;
      }
      const [from, to] = [source.charCodeAt(at), source.charCodeAt(at + 2)].sort((a, b) => a - b) as [number, number];
      for (let code = from; code <= Math.min(to, 255); code += 1) accept(code);
      at += 3;
    } else {
      accept(source.charCodeAt(at));
      at += 1;
    }
  }
  const text = source.slice(open, at);
  if (negated) for (let code = 0; code < table.length; code += 1) table[code] = table[code] === 1 ? 0 : 1;
  const nonAscii = [...source.slice(bodyStart, at)].find((char) => char.charCodeAt(0) > 0x7f);
  let problem: string | undefined;
  if (rangeProblem) problem = rangeProblem(text);
  else if (!closed) problem = `"[" at offset ${open} is never closed (close it with "]", or write "\\[" to match a "[")`;
  else if (at === bodyStart + 1 && negated) problem = `"[^]" at offset ${open} is an empty class and matches any character (write "?")`;
  else if (at === bodyStart + 1) problem = `"[]" at offset ${open} is an empty class and matches nothing (write "\\[" and "\\]" to match brackets)`;
  else if (nonAscii !== undefined)
    problem = `${quote(text)} holds ${quote(nonAscii)}, which is not ASCII: Redis compares a class with one byte, so it cannot match it`;
  return { end: at, table, ...(problem ? { problem } : {}) };
}

/** One code per token (runs of `*` kept as one), read as Redis reads the pattern; the first problem found. */
function parseGlob(source: string): ParsedGlob {
  const codes: number[] = [];
  const classes: Uint8Array[] = [];
  let problem: string | undefined;
  let wildcards = 0;
  for (let at = 0; at < source.length;) {
    const char = source[at];
    if (char === '*') {
      wildcards += 1;
      if (codes.at(-1) !== STAR) codes.push(STAR);
      at += 1;
    } else if (char === '?') {
      codes.push(ANY);
      at += 1;
    } else if (char === '[') {
      const parsed = parseClass(source, at);
      codes.push(classCode(classes.length));
      classes.push(parsed.table);
      problem ??= parsed.problem;
      at = parsed.end;
    } else if (char === '\\' && at + 1 < source.length) {
      codes.push(source.charCodeAt(at + 1));
      at += 2;
    } else {
      // Redis matches a trailing lone `\` as itself.
      if (char === '\\') problem ??= 'ends in a lone "\\" (write "\\\\" to match a backslash)';
      codes.push(source.charCodeAt(at));
      at += 1;
    }
  }
  if (wildcards > MAX_GLOB_WILDCARDS) problem ??= `has ${wildcards} "*" wildcards; at most ${MAX_GLOB_WILDCARDS} are allowed`;
  return { codes, classes, ...(problem ? { problem } : {}) };
}

/** Why Redis would read the pattern otherwise than written (or it costs too much), or undefined when it is fine. */
export function globProblem(pattern: string): string | undefined {
  return parseGlob(pattern).problem;
}

const NON_ASCII = /[\u0080-\uffff]/;

/** Redis matches bytes: a key as one char per byte of its UTF-8 (the key itself when it is ASCII). */
function toBytes(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

interface Meter {
  steps: number;
  budget: number;
}

/** A run of one-character tokens between `*`s; `literal` when all of them are plain characters. */
interface Segment {
  codes: Int32Array;
  literal: string | undefined;
}

/** The pattern split at its `*`s: `head*middle*...*tail`; without a `*` the head is the whole pattern. */
interface Program {
  starred: boolean;
  head: Segment;
  middles: Segment[];
  tail: Segment;
  classes: Uint8Array[];
  /** Pattern length in bytes. */
  size: number;
}

/** Whether the segment fits the text at `at`: one step per character compared (a literal compares natively). */
function segmentAt({ codes, literal }: Segment, text: string, at: number, classes: Uint8Array[], meter: Meter): Verdict {
  if (literal !== undefined) {
    meter.steps += literal.length;
    if (meter.steps > meter.budget) return UNDECIDED;
    return text.startsWith(literal, at) ? MATCHED : FAILED;
  }
  for (let offset = 0; offset < codes.length; offset += 1) {
    meter.steps += 1;
    if (meter.steps > meter.budget) return UNDECIDED;
    const code = codes[offset] as number;
    const byte = text.charCodeAt(at + offset);
    if (code >= 0 ? code !== byte : code !== ANY && (classes[classIndex(code)] as Uint8Array)[byte] !== 1) return FAILED;
  }
  return MATCHED;
}

/** Where the segment first fits in text[from, end): its index, NOWHERE, or OVER_BUDGET. */
const NOWHERE = -1;
const OVER_BUDGET = -2;
function findSegment(segment: Segment, text: string, from: number, end: number, classes: Uint8Array[], meter: Meter): number {
  const length = segment.codes.length;
  if (segment.literal !== undefined) {
    // indexOf is linear (Boyer-Moore); counted as the span it covers.
    const found = text.indexOf(segment.literal, from);
    const fits = found !== -1 && found + length <= end;
    meter.steps += fits ? found + length - from : end - from;
    if (meter.steps > meter.budget) return OVER_BUDGET;
    return fits ? found : NOWHERE;
  }
  for (let at = from; at + length <= end; at += 1) {
    const verdict = segmentAt(segment, text, at, classes, meter);
    if (verdict === MATCHED) return at;
    if (verdict === UNDECIDED) return OVER_BUDGET;
  }
  return NOWHERE;
}

/**
 * Head anchored at the start, tail at the end, each middle at its leftmost place in between. A
 * literal prefix with one trailing `*` (the common `/posts\?*`) is one `startsWith`.
 */
function runProgram(program: Program, text: string, meter: Meter): Verdict {
  const { starred, head, middles, tail, classes } = program;
  // Redis matches an empty key only with an empty pattern (not even `*`).
  if (text.length === 0) return program.size === 0 ? MATCHED : FAILED;
  if (!starred) return text.length === head.codes.length ? segmentAt(head, text, 0, classes, meter) : FAILED;
  const end = text.length - tail.codes.length;
  if (head.codes.length > end) return FAILED;
  const headVerdict = segmentAt(head, text, 0, classes, meter);
  if (headVerdict !== MATCHED) return headVerdict;
  const tailVerdict = segmentAt(tail, text, end, classes, meter);
  if (tailVerdict !== MATCHED) return tailVerdict;
  let from = head.codes.length;
  for (const middle of middles) {
    const at = findSegment(middle, text, from, end, classes, meter);
    if (at === NOWHERE) return FAILED;
    if (at === OVER_BUDGET) return UNDECIDED;
    from = at + middle.codes.length;
  }
  return MATCHED;
}

function toSegment(codes: number[]): Segment {
  return { codes: Int32Array.from(codes), literal: codes.every((code) => code >= 0) ? codes.map((code) => String.fromCharCode(code)).join('') : undefined };
}

function toProgram(parsed: ParsedGlob, size: number): Program {
  const pieces: number[][] = [[]];
  for (const code of parsed.codes) {
    if (code === STAR) pieces.push([]);
    else (pieces.at(-1) as number[]).push(code);
  }
  const segments = pieces.map(toSegment);
  return {
    starred: segments.length > 1,
    head: segments[0] as Segment,
    middles: segments.slice(1, -1).filter((segment) => segment.codes.length > 0),
    tail: segments.length > 1 ? (segments.at(-1) as Segment) : toSegment([]),
    classes: parsed.classes,
    size,
  };
}

function matcherOf(pattern: string, measureBytes: (text: string) => GlobMeasure): GlobMatcher {
  return {
    pattern,
    matches: (key) => measureBytes(toBytes(key)).matched,
    measure: (key) => measureBytes(toBytes(key)),
  };
}

/**
 * A matcher for the pattern that never throws. An invalid pattern, or a key it cannot decide within
 * its step budget, counts as matched: the caller then drops that page, the safe direction.
 */
export function compileGlob(pattern: string): GlobMatcher {
  if (globProblem(pattern) !== undefined) return matcherOf(pattern, () => ({ matched: true, steps: 0, overBudget: false }));
  const bytes = toBytes(pattern);
  const program = toProgram(parseGlob(bytes), bytes.length);
  return matcherOf(pattern, (text) => {
    const meter = { steps: 0, budget: stepBudget(text.length, bytes.length) };
    const verdict = runProgram(program, text, meter);
    return { matched: verdict !== FAILED, steps: meter.steps, overBudget: verdict === UNDECIDED };
  });
}
