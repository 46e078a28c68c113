#!/usr/bin/env bash
# The packed package as a stranger uses it: publint and arethetypeswrong on the tarball, then in
# fresh directories outside the repo, with Express 4 and with Express 5 and ioredis, an ESM and a
# CommonJS blog written only against the public API (scripts/package-check/) and a TypeScript one
# type-checked against the shipped declarations. Needs the npm registry and a Redis (REDIS_URL).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ssr-page-cache-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@" >"$work/log" 2>&1; then
    echo "ok: $name"
    passed=$((passed + 1))
  else
    echo "FAILED: $name"
    sed 's/^/  /' "$work/log"
    failed=$((failed + 1))
  fi
}

cd "$repo"
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
check "publint: the tarball's package.json and files" npx --no-install publint "$tarball"
check "arethetypeswrong: types for require and import" npx --no-install attw --pack .
for express in 4 5; do
  dir="$work/express$express"
  mkdir -p "$dir"
  cp scripts/package-check/* "$dir"
  # The same blog as a CommonJS host: only the imports differ.
  sed -E -e "s#^import ([A-Za-z]+) from '([^']+)';#const \1 = require('\2');#" -e "s#^import \{ ([A-Za-z]+) \} from '([^']+)';#const { \1 } = require('\2');#" "$dir/blog.mjs" >"$dir/blog.cjs"
  (cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "$tarball" "express@^$express" "@types/express@^$express" ioredis@^5 typescript@^5 @types/node@^20 >/dev/null)
  check "Express $express, ESM host" node "$dir/checker.mjs" "$dir/blog.mjs"
  check "Express $express, CommonJS host" node "$dir/checker.mjs" "$dir/blog.cjs"
  check "Express $express, TypeScript host type-checks against the shipped declarations" "$dir/node_modules/.bin/tsc" -p "$dir/tsconfig.json"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
