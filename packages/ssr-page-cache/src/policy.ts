import { compile, match, type MatchFunction, type PathFunction } from 'path-to-regexp';

/** Rewrites one query value to its canonical spelling; '' drops the parameter. */
export type QueryNormaliser = (value: string) => string;

/** How one route is cached. Only the listed query parameters change the page; others are dropped. */
export interface CachePolicy {
  /** Short name for logs and metrics, e.g. `detail`. */
  route: string;
  /** The route's path pattern (path-to-regexp syntax, as Express 5), e.g. `/posts/:slug`. */
  path: string;
  ttlSeconds: number;
  /** Seconds after ttlSeconds during which the page is served stale while one re-render runs. */
  graceSeconds: number;
  query: Readonly<Record<string, QueryNormaliser>>;
  /** Canonical default values: a parameter spelled to its default is dropped from the key (one page, one entry). */
  queryDefaults?: Readonly<Record<string, string>>;
}

/** A request path resolved to its policy, with the path spelled canonically. */
export interface PolicyMatch {
  policy: CachePolicy;
  path: string;
}

export interface PolicyTable {
  readonly policies: readonly CachePolicy[];
  match(pathname: string): PolicyMatch | undefined;
}

interface CompiledPolicy {
  policy: CachePolicy;
  matchPath: MatchFunction<Partial<Record<string, string | string[]>>>;
  buildPath: PathFunction<Partial<Record<string, string | string[]>>>;
}

export const queryNormalisers = {
  /**
   * `01`, `0000000001` and `1` are one page, however many zeros lead: digits are folded as text,
   * never through Number (which rounds past 2^53). Anything that is not a plain number is left
   * for the route to reject.
   */
  positiveInteger: (value: string): string => {
    const trimmed = value.trim();
    return /^\d+$/.test(trimmed) ? trimmed.replace(/^0+(?=\d)/, '') : trimmed;
  },
  /** Case and spacing variants (`New  York`, `new york`) are one page. */
  lowercaseWords: (value: string): string => value.trim().replace(/\s+/g, ' ').toLowerCase(),
} satisfies Record<string, QueryNormaliser>;

function compilePolicy(policy: CachePolicy): CompiledPolicy {
  try {
    return compileRoute(policy);
  } catch (error) {
    throw new Error(`"${policy.path}" is not a valid path pattern: ${(error as Error).message}`, { cause: error });
  }
}

function compileRoute(policy: CachePolicy): CompiledPolicy {
  return {
    policy,
    // Same matching rules as Express 5's router: case-insensitive, optional trailing slash.
    matchPath: match(policy.path, { decode: decodeURIComponent, sensitive: false, trailing: true }),
    buildPath: compile(policy.path, { encode: encodeURIComponent }),
  };
}

/** Compiles the policy table once, at start-up; `match` is then a few regex tests per request. */
export function createPolicyTable(policies: readonly CachePolicy[]): PolicyTable {
  const compiled = policies.map(compilePolicy);
  return {
    policies,
    match(pathname) {
      for (const { policy, matchPath, buildPath } of compiled) {
        let result;
        try {
          result = matchPath(pathname);
        } catch {
          return undefined; // malformed percent-encoding: the router answers it with a 400
        }
        if (result) return { policy, path: buildPath(result.params) };
      }
      return undefined;
    },
  };
}
