#!/usr/bin/env bash
# The package as a stranger gets it: `npm pack` (prepack builds it), publint and
# arethetypeswrong on what is packed, then for Express 4 and for Express 5 a fresh directory
# OUTSIDE the repo with the tarball, that Express, ioredis, typescript and their types installed,
# where
#   - an ESM blog (blog.mjs, `import`) and a CommonJS blog (blog.cjs, `require`), written only
#     against the public contract (package-check/blog-host.cjs), each run with and without
#     cache.front, in processes started with env vars the cache must ignore, are checked from
#     outside by package-check/checker.mjs (HTTP and Redis only);
#   - a TypeScript host (package-check/blog.ts, also as blog.mts) type-checks against the shipped
#     declarations.
# One line per check, then "N passed, M failed"; exits 1 on any failure. Needs node/npm, the npm
# registry, the repo's devDependencies installed (publint, attw, ioredis) and a Redis at
# REDIS_URL (default redis://127.0.0.1:6379), where it writes only under its own run's prefix
# and removes those keys with SCAN + UNLINK at the end.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixtures="$here/package-check"
repo=$(cd "${CHECK_REPO:-$here/..}" && pwd)
# The library: a workspace of the repo, packed on its own.
pkg=$repo/packages/ssr-page-cache
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
run_id="$(date +%s)-$$-$RANDOM"
key_base="pkgcheck:$run_id:"
# What the blogs get as REDIS_KEY_PREFIX: a cache that read it would write here.
wrong_prefix="wrong:pkgcheck:$run_id:"
token="pkgcheck-$run_id-$(node -e 'process.stdout.write(require("crypto").randomBytes(16).toString("hex"))')"

work=$(mktemp -d "${TMPDIR:-/tmp}/ssr-cache-package-check.XXXXXX")
case "$work/" in "$repo"/*)
  echo "the temp dir $work is inside the repo: set TMPDIR elsewhere" >&2
  exit 2
  ;;
esac

passed=0
failed=0
children=()
installs=()
attw_leftover=""

ok() {
  printf 'ok   - %s\n' "$1"
  passed=$((passed + 1))
}
not_ok() {
  printf 'FAIL - %s\n' "$1"
  failed=$((failed + 1))
}
# check NAME COMMAND...: one line; the command's output only when it fails.
check() {
  local name=$1 log
  shift
  log=$(mktemp "$work/check.XXXXXX")
  if "$@" >"$log" 2>&1; then
    ok "$name"
  else
    not_ok "$name"
    tail -n 60 "$log" | sed 's/^/    /'
  fi
}

# SCAN + UNLINK of every key matching the patterns, with the repo's ioredis (never FLUSH: the Redis is shared).
remove_keys() {
  (cd "$repo" && node -e '
    const Redis = require("ioredis");
    const [url, ...patterns] = process.argv.slice(1);
    const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
    (async () => {
      let removed = 0;
      for (const pattern of patterns) {
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
          cursor = next;
          if (keys.length > 0) removed += await redis.unlink(...keys);
        } while (cursor !== "0");
      }
      return removed;
    })().then((removed) => { console.log(removed); redis.disconnect(); }, (error) => { console.error(String(error)); redis.disconnect(); process.exitCode = 1; });
  ' "$redis_url" "$@")
}

stop_children() {
  local pid
  for pid in ${installs[@]+"${installs[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${children[@]+"${children[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${children[@]+"${children[@]}"}; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  children=()
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_children
  remove_keys "$key_base*" "$wrong_prefix*" >/dev/null 2>&1 || echo "warning: could not remove the keys under $key_base" >&2
  # attw --pack writes its tarball into the repo and removes it when done; not if it was cut short.
  if [ -n "$attw_leftover" ]; then rm -f "$attw_leftover"; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { process.stdout.write(String(s.address().port)); s.close(); });'
}

summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# --- Before anything: a Redis to check against.
if ! remove_keys "$key_base*" >/dev/null 2>&1; then
  not_ok "a Redis answers at $redis_url (set REDIS_URL)"
  summary
fi

# --- The tarball.
pkg_name=$(node -p 'require(process.argv[1]).name' "$pkg/package.json")
pkg_version=$(node -p 'require(process.argv[1]).version' "$pkg/package.json")
mkdir "$work/pack"
check "npm pack: $pkg_name@$pkg_version packed (prepack builds it)" bash -c 'cd "$1" && npm pack --pack-destination "$2"' _ "$pkg" "$work/pack"
shopt -s nullglob
tarballs=("$work/pack"/*.tgz)
shopt -u nullglob
if [ "${#tarballs[@]}" -ne 1 ]; then
  not_ok "npm pack wrote one tarball (found ${#tarballs[@]})"
  summary
fi
tarball=${tarballs[0]}

# --- Fresh consumer directories outside the repo, installed in the background (in parallel, from
# one npm cache) while publint and attw run.
declare -A express_spec=([4]='^4.21' [5]='^5')
declare -A install_pid=() install_ok=()
installs=()
for major in 4 5; do
  dir="$work/express$major"
  mkdir -p "$dir"
  (
    cd "$dir"
    npm init -y >/dev/null
    npm install --no-audit --no-fund --prefer-offline --loglevel=error \
      "$tarball" "express@${express_spec[$major]}" "@types/express@^$major" "ioredis@^5" "typescript@^5" "@types/node@^20" \
      compression cookie-parser cors helmet prom-client
  ) >"$work/install-express$major.log" 2>&1 &
  install_pid[$major]=$!
  installs+=("$!")
done

shipped() {
  local listing
  listing=$(tar -tzf "$tarball") || return 1
  echo "$listing"
  grep -qx 'package/package.json' <<<"$listing" || return 1
  if grep -E '^package/(server|test|bench|examples|scripts|tools|node_modules)/|\.test\.|\.env$|\.tsx?$' <<<"$listing" | grep -vE '\.d\.(c|m)?ts$'; then
    echo "^ not for the package"
    return 1
  fi
}
check "the tarball ships the built package only ($(tar -tzf "$tarball" | wc -l) files; no sources, tests or env)" shipped

# A library of its own: published (not private), an open-source license, its own README,
# LICENSE and CHANGELOG, and nothing of the listings server in it.
its_own() {
  local dir=$work/unpacked
  mkdir -p "$dir" && tar -xzf "$tarball" -C "$dir" || return 1
  node -e '
    const p = require(process.argv[1]);
    if (p.private) throw new Error("package.json says private");
    if (p.license !== "MIT") throw new Error(`license ${p.license}, not MIT`);
    console.log(`${p.name}@${p.version}, ${p.license}`);
  ' "$dir/package/package.json" || return 1
  for file in README.md LICENSE CHANGELOG.md; do [ -s "$dir/package/$file" ] || { echo "no $file"; return 1; }; done
  if grep -rniE 'listing|twenty' "$dir/package"; then
    echo "^ the listings server or Twenty named in the package"
    return 1
  fi
}
check "the tarball is a library of its own: not private, MIT, README, LICENSE and CHANGELOG, no listings or Twenty" its_own
check "npm publish --dry-run" bash -c 'cd "$1" && npm publish --dry-run --ignore-scripts' _ "$pkg"

# publint exits 1 on errors; --strict makes its warnings fail too (they are about files a
# consumer's Node or TypeScript would read in the wrong format).
check "publint --strict on the tarball" bash -c 'cd "$1" && npx --no-install publint --strict "$2"' _ "$repo" "$tarball"

# attw's default (strict) profile also checks the node10 resolution (TypeScript's old
# moduleResolution "node"), which a Node-only package with one entry point passes too; were it
# to fail for node10 alone, `--profile node16` would be the honest setting, and this says so.
attw_tgz="$pkg/$(node -p 'const p = require(process.argv[1]); `${p.name.replace("@", "").replace("/", "-")}-${p.version}.tgz`' "$pkg/package.json")"
[ -e "$attw_tgz" ] || attw_leftover=$attw_tgz
attw_run() {
  local log=$work/attw.log
  if (cd "$pkg" && npx --no-install attw --pack . --no-emoji --no-color) >"$log" 2>&1; then
    cat "$log"
    return 0
  fi
  cat "$log"
  if (cd "$pkg" && npx --no-install attw --pack . --no-emoji --no-color --profile node16) >/dev/null 2>&1; then
    echo "NOTE: passes with --profile node16: only the node10 resolution fails (irrelevant to Node itself, not to TypeScript users on moduleResolution node)"
  fi
  return 1
}
check "arethetypeswrong (attw --pack ., default profile)" attw_run

# --- The consumers.
for major in 4 5; do
  install_ok[$major]=yes
  wait "${install_pid[$major]}" || install_ok[$major]=""
done
installs=()

run_blog() {
  local major=$1 fmt=$2 mode=$3
  local dir="$work/express$major"
  local variant="e$major-$fmt-$mode"
  local label="express $major, $fmt, $( [ "$mode" = front ] && echo 'cache.front' || echo 'middleware only')"
  local prefix="$key_base$variant:"
  local name="pkgcheck-host-$run_id-$variant"
  local port_a port_b pid_a pid_b log_a="$work/$variant-a.log" log_b="$work/$variant-b.log"
  port_a=$(free_port)
  port_b=$(free_port)

  start() { # PORT CONNECTION-NAME LOG
    (cd "$dir" && exec env -i PATH="$PATH" HOME="$HOME" \
      PORT=1 LOG_LEVEL=trace REDIS_URL=redis://127.0.0.1:1 REDIS_KEY_PREFIX="$wrong_prefix" SSR_CACHE_ENABLED=false SSR_CACHE_TTL=1 \
      CHECK_REDIS_URL="$redis_url" CHECK_PORT="$1" CHECK_PREFIX="$prefix" CHECK_CONN_NAME="$2" CHECK_TOKEN="$token" \
      CHECK_FRONT="$([ "$mode" = front ] && echo 1 || echo 0)" \
      node "blog.$fmt") >"$3" 2>&1 &
  }
  start "$port_a" "$name" "$log_a"
  pid_a=$!
  children+=("$pid_a")
  start "$port_b" "$name-b" "$log_b"
  pid_b=$!
  children+=("$pid_b")

  local ready=""
  for _ in $(seq 1 150); do
    if grep -q '^READY ' "$log_a" && grep -q '^READY ' "$log_b"; then
      ready=yes
      break
    fi
    if ! kill -0 "$pid_a" 2>/dev/null || ! kill -0 "$pid_b" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    not_ok "$label: both instances start and print READY"
    tail -n 30 "$log_a" "$log_b" | sed 's/^/    /'
    stop_children
    return
  fi
  ok "$label: both instances start (env: PORT=1 REDIS_URL=redis://127.0.0.1:1 LOG_LEVEL=trace SSR_CACHE_ENABLED=false SSR_CACHE_TTL=1 REDIS_KEY_PREFIX=wrong:...)"

  local out="$work/$variant-checker.log" status=0 pid_checker
  # In the background so that a signal to this script is handled at once, not after the checker.
  (cd "$dir" && exec env CHECK_LABEL="$label" CHECK_BASE_A="http://127.0.0.1:$port_a" CHECK_BASE_B="http://127.0.0.1:$port_b" \
    CHECK_PREFIX="$prefix" CHECK_WRONG_PREFIX="$wrong_prefix" CHECK_TOKEN="$token" CHECK_CONN_NAME="$name" \
    CHECK_PID_A="$pid_a" CHECK_REDIS_URL="$redis_url" timeout 120 node checker.mjs) >"$out" 2>&1 &
  pid_checker=$!
  children+=("$pid_checker")
  wait "$pid_checker" || status=$?
  local lines_ok lines_fail
  lines_ok=$(grep -c '^ok ' "$out" || true)
  lines_fail=$(grep -c '^FAIL ' "$out" || true)
  grep -E '^(ok |FAIL )' "$out" || true
  passed=$((passed + lines_ok))
  failed=$((failed + lines_fail))
  if [ "$status" -ne 0 ] && [ "$lines_fail" -eq 0 ]; then
    not_ok "$label: the checker ran to its end (exit $status)"
    grep -vE '^(ok |FAIL )' "$out" | tail -n 30 | sed 's/^/    /'
  fi

  # No logger given: the cache must say nothing (LOG_LEVEL=trace is the host's, not the cache's).
  local extra
  extra=$(cat "$log_a" "$log_b" | grep -v '^READY ' || true)
  if [ -z "$extra" ]; then
    ok "$label: without a logger the cache writes nothing to stdout or stderr"
  else
    not_ok "$label: without a logger the cache writes nothing to stdout or stderr"
    head -n 20 <<<"$extra" | sed 's/^/    /'
  fi
  stop_children
  remove_keys "$prefix*" >/dev/null 2>&1 || true
}

for major in 4 5; do
  dir="$work/express$major"
  if [ -z "${install_ok[$major]}" ]; then
    not_ok "express $major: npm install of the tarball, express@${express_spec[$major]}, ioredis, typescript and types"
    tail -n 30 "$work/install-express$major.log" | sed 's/^/    /'
    continue
  fi
  versions=$(cd "$dir" && node -p '["express", "ioredis", "typescript"].map((n) => `${n}@${require(`${n}/package.json`).version}`).join(", ")')
  ok "express $major: installed outside the repo ($versions)"
  cp "$fixtures"/blog-host.cjs "$fixtures"/checker.mjs "$dir"/
  for file in blog.mjs blog.cjs blog.ts; do
    sed "s|@@PKG@@|$pkg_name|g" "$fixtures/$file" >"$dir/$file"
  done
  cp "$dir/blog.ts" "$dir/blog.mts"
  check "express $major: the TypeScript host type-checks as CommonJS (blog.ts) and ESM (blog.mts) against the shipped declarations" \
    bash -c 'cd "$1" && npx --no-install tsc --noEmit --strict --module nodenext --moduleResolution nodenext blog.ts blog.mts' _ "$dir"
  # A small public surface: the main entry holds what hosts use; the Redis tier is its own subpath.
  check "express $major: the main entry exports no internals; $pkg_name/redis-tier gives RedisTier, createEntry, escapeGlob (require and import)" \
    bash -c 'cd "$1" && node -e "
      const main = require(process.argv[1]);
      const internals = [\"RedisTier\", \"createEntry\", \"checkBearer\", \"secretsMatch\", \"refusalText\", \"countName\", \"escapeGlob\"].filter((name) => name in main);
      if (internals.length > 0) throw new Error(\"main entry exports \" + internals.join(\", \"));
      const tier = require(process.argv[1] + \"/redis-tier\");
      for (const name of [\"RedisTier\", \"createEntry\", \"escapeGlob\"]) if (typeof tier[name] !== \"function\") throw new Error(\"redis-tier lacks \" + name);
    " "$2" && node --input-type=module -e "
      const tier = await import(process.argv[1] + \"/redis-tier\");
      if (typeof tier.RedisTier !== \"function\" || typeof tier.createEntry !== \"function\") throw new Error(\"no RedisTier over import\");
    " "$2"' _ "$dir" "$pkg_name"
  for fmt in mjs cjs; do
    for mode in front app; do
      run_blog "$major" "$fmt" "$mode"
    done
  done
  # A shop with the usual middleware stack (compression, request ids, cookie-parser, express.json
  # before the router, helmet with nonces, cors): it checks itself and prints a line per check.
  cp "$fixtures/shop.cjs" "$dir/"
  shop_log=$(mktemp "$work/shop.XXXXXX")
  (cd "$dir" && REDIS_URL="$redis_url" KEY_PREFIX="${key_base}shop$major:" TOKEN="$token" LABEL="express $major, shop" timeout 120 node shop.cjs) >"$shop_log" 2>&1 || true
  while IFS= read -r line; do
    case "$line" in
      "ok   - "*) ok "${line#ok   - }" ;;
      "FAIL - "*) not_ok "${line#FAIL - }" ;;
    esac
  done <"$shop_log"
  if ! grep -q '^ok   - ' "$shop_log"; then
    not_ok "express $major, shop: ran"
    tail -n 30 "$shop_log" | sed 's/^/    /'
  fi
  remove_keys "${key_base}shop$major:*" >/dev/null 2>&1 || true
done
children=()

summary
