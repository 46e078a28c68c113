import { z } from 'zod';
import { globProblem } from './glob';
import { CACHE_KEY_NAMESPACE, resolvePage, type ResolvedPage } from './key';
import type { PolicyTable } from './policy';

export const INVALIDATION_MODES = ['hard', 'soft', 'refresh'] as const;
/** hard deletes; soft marks stale (served at once, re-rendered once); refresh also re-renders the exact pages now. */
export type InvalidationModeName = (typeof INVALIDATION_MODES)[number];

/** What to make fresh: pages by key, by path, by key pattern and by tag. */
export interface InvalidateRequest {
  /** Cache keys as stored, e.g. `ssr:/posts/hello` (without the keyPrefix). */
  keys?: readonly string[];
  /** Request paths, resolved through the route table to their keys, e.g. `/posts/hello`. */
  paths?: readonly string[];
  /** Redis glob patterns over the part of the key after `ssr:`, e.g. `/tags/*`. */
  patterns?: readonly string[];
  /** Every page that named one of these tags (`cache.tag(res, ...)`). */
  tags?: readonly string[];
  /** Default hard. */
  mode?: InvalidationModeName;
  /** Who asked, for the `source` label of the metrics and the log line; default `api`. */
  source?: string;
}

export interface InvalidateResult {
  /** True when Redis took all of it (this instance's memory tier is cleared either way). */
  ok: boolean;
  /**
   * Redis could not be reached: the invalidation is applied to this instance's memory tier now and
   * to Redis (and the other instances) as soon as Redis answers, before any page is read from it.
   */
  queued: boolean;
  mode: InvalidationModeName;
  /** Pages deleted (hard) or marked stale (soft, refresh). */
  changed: number;
  /**
   * What was done: `deleted`, `marked-stale`, `queued` (applied once Redis answers) or `refused`
   * (Redis answered with an error: see `note`). A soft or refresh invalidation that Redis refused
   * to mark (full, noeviction) is `deleted`.
   */
  applied: 'deleted' | 'marked-stale' | 'queued' | 'refused';
  /** Why it was deleted instead of marked stale, or why it did not complete: what Redis answered. */
  note?: string;
  keys: string[];
  patterns: string[];
  tags: string[];
  /** Paths given that no cached route serves. */
  unmatchedPaths: string[];
  /** Pages being re-rendered now (mode refresh). */
  refreshing: number;
  /**
   * With patterns: about how many keys their SCAN examined, and whether it reached the end (it
   * stops after about 100,000; the pages it did not reach are stale on read all the same).
   */
  patternScan?: { examined: number; complete: boolean };
  durationMs: number;
}

/** The exact keys, key patterns and tags a request invalidates. */
export interface InvalidationPlan {
  keys: string[];
  patterns: string[];
  tags: string[];
  unmatchedPaths: string[];
}

const MAX_ITEMS = 1000;
/** Each pattern is a SCAN over the whole keyspace (on every master), and a pass over the memory tier. */
const MAX_PATTERNS = 100;
const MAX_ITEM_LENGTH = 2048;
const item = z.string().min(1, 'must not be empty').max(MAX_ITEM_LENGTH, `must be at most ${MAX_ITEM_LENGTH} characters`);
const list = (rule: z.ZodType<string>, max = MAX_ITEMS) => z.array(rule).max(max, `must hold at most ${max} items`);
/** Refused before anything is deleted: Redis would read it otherwise than written, or it costs too much to match. */
const pattern = item.startsWith('/', 'must start with "/" (it matches the part of the key after "ssr:")').superRefine((value, context) => {
  const problem = globProblem(value);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

/** The JSON body of POST /api/cache/invalidate (and the checks `invalidate` makes of its argument). */
export const invalidateRequestSchema = z
  .object({
    keys: list(item.startsWith(CACHE_KEY_NAMESPACE, `must start with "${CACHE_KEY_NAMESPACE}"`)).optional(),
    paths: list(item.startsWith('/', 'must start with "/"')).optional(),
    patterns: list(pattern, MAX_PATTERNS).optional(),
    tags: list(item.max(200, 'must be at most 200 characters')).optional(),
    mode: z.enum(INVALIDATION_MODES, { message: `must be one of: ${INVALIDATION_MODES.join(', ')}` }).default('hard'),
  })
  .refine((body) => body.keys || body.paths || body.patterns || body.tags, {
    message: 'the body must name what to invalidate: {"keys":[...]}, {"paths":[...]}, {"patterns":[...]} or {"tags":[...]}',
  });

export function describeValidationError(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}

export function planInvalidation(request: InvalidateRequest, policies: PolicyTable): InvalidationPlan {
  const plan: InvalidationPlan = { keys: [...(request.keys ?? [])], patterns: [], tags: [...new Set(request.tags ?? [])], unmatchedPaths: [] };
  for (const path of request.paths ?? []) {
    const page = resolvePage(path, policies);
    if (page) plan.keys.push(page.key);
    else plan.unmatchedPaths.push(path);
  }
  plan.patterns = (request.patterns ?? []).map((pattern) => CACHE_KEY_NAMESPACE + pattern);
  plan.keys = [...new Set(plan.keys)];
  return plan;
}

/** The page behind a key, when the key spells its URL (a hashed, over-long key does not). */
export function pageForKey(key: string, policies: PolicyTable): ResolvedPage | undefined {
  if (!key.startsWith(CACHE_KEY_NAMESPACE) || key.includes('#')) return undefined;
  const page = resolvePage(key.slice(CACHE_KEY_NAMESPACE.length), policies);
  return page?.key === key ? page : undefined;
}
