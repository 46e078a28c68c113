#!/usr/bin/env bash
# The production deploy path, as the Dockerfile runs it: in a copy of this checkout,
# `npm run build && npm prune --omit=dev`, then `npm run start:prod` with no TypeScript, tsx or
# test tools installed, and a listing page, /health and a sitemap must answer. Needs the
# checkout's node_modules installed (npm ci) and a Redis at REDIS_URL (the server caches in
# process without one). One line per check, then "N passed, M failed".
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ssr-deploy-check.XXXXXX")
server_pid=""
cleanup() {
  # npm runs the server as a child: the whole process group goes.
  if [ -n "$server_pid" ]; then kill -- -"$server_pid" 2>/dev/null || kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
ok() { printf 'ok   - %s\n' "$1"; passed=$((passed + 1)); }
not_ok() { printf 'FAIL - %s\n' "$1"; failed=$((failed + 1)); }

# A copy without build output or git: what a Docker build context holds.
tar -C "$repo" --exclude=./.git --exclude=./dist --exclude=./packages/ssr-page-cache/dist --exclude=./var -cf - . | tar -C "$work" -xf -
cd "$work"
if npm run build >"$work/build.log" 2>&1; then ok "npm run build"; else not_ok "npm run build"; tail -40 "$work/build.log"; fi
if npm prune --omit=dev --no-audit --no-fund >"$work/prune.log" 2>&1; then ok "npm prune --omit=dev"; else not_ok "npm prune --omit=dev"; tail -40 "$work/prune.log"; fi
dev_left=$(for tool in typescript tsx jest ts-node @swc/core eslint; do [ -e "node_modules/$tool" ] && echo "$tool"; done || true)
if [ -z "$dev_left" ]; then ok "no dev tools left (typescript, tsx, jest, ts-node, swc, eslint)"; else not_ok "dev tools left after the prune: $dev_left"; fi

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
PORT=$port SSR_CACHE_JOURNAL="$work/var/journal" LOG_LEVEL=warn setsid npm run start:prod >"$work/server.log" 2>&1 &
server_pid=$!
up=""
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then up=yes; break; fi
  sleep 0.1
done
if [ -n "$up" ]; then ok "npm run start:prod listens (port $port)"; else not_ok "npm run start:prod listens"; tail -40 "$work/server.log"; fi
page() {
  local path=$1 want=$2 status body
  body=$(mktemp "$work/body.XXXXXX")
  status=$(curl -s -o "$body" -w '%{http_code}' -A 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' "http://127.0.0.1:$port$path" || true)
  if [ "$status" = 200 ] && grep -q "$want" "$body"; then ok "GET $path: 200 with $want"; else not_ok "GET $path: $status"; head -c 400 "$body"; echo; fi
}
page /listings/1 '<h1'
page /health '"status"'
page /sitemap.xml '<sitemapindex'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
