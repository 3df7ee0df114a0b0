#!/usr/bin/env bash
# The operations console in a real browser: starts `sanhu serve` on SQLite in a temporary directory,
# makes a staff member (`sanhu staff create`) and a member with money in its wallet (`sanhu call`),
# then runs console.test.mjs (node's test runner) in Debian's Chromium through playwright-core (no
# browser download). Screenshots go to docs/console/ (SANHU_CONSOLE_SCREENSHOTS to change it; empty:
# none). For CI (.ci/run) and by hand:
#
#   bash tests/console/run.sh                     # builds the sanhu binary first
#   SANHU_BIN=path/to/sanhu bash tests/console/run.sh
#
# Installs what it lacks: the packages chromium and fonts-noto-cjk (apt-get, as root) and the npm
# packages of package-lock.json (npm ci).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CHROMIUM="${SANHU_CHROMIUM:-/usr/bin/chromium}"
export SANHU_CONSOLE_SCREENSHOTS="${SANHU_CONSOLE_SCREENSHOTS-$REPO/docs/console}"

say() { printf '\n== console: %s\n' "$*"; }
die() { printf 'console: %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$CHROMIUM" ]] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  say "installing chromium and the CJK fonts"
  [[ "$(id -u)" == 0 ]] || die "chromium or fonts-noto-cjk missing, and installing them needs root"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
    || die "apt-get install chromium fonts-noto-cjk failed"
fi
if [[ ! -d "$HERE/node_modules/playwright-core" ]]; then
  say "installing playwright-core"
  (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

if [[ -z "${SANHU_BIN:-}" ]]; then
  say "building sanhu"
  (cd "$REPO" && cargo build --locked -q -p sanhu --bin sanhu) || die "cargo build failed"
  TARGET_DIR="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  SANHU_BIN="$TARGET_DIR/debug/sanhu"
fi
[[ -x "$SANHU_BIN" ]] || die "no sanhu binary at $SANHU_BIN"

WORK="$(mktemp -d -t sanhu-console.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export SANHU_DATABASE_URL="sqlite://$WORK/sanhu.db"
say "starting sanhu serve on 127.0.0.1:$PORT"
cd "$WORK"
"$SANHU_BIN" serve --listen "127.0.0.1:$PORT" > serve.stdout 2> serve.stderr &
SERVER_PID=$!
for _ in $(seq 1 150); do
  if [[ -s sanhu-credentials.json ]] && python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
[[ -s sanhu-credentials.json ]] || { cat serve.stderr >&2; die "sanhu serve did not start"; }

say "a staff member and a member with money"
PASSWORD="a console test password"
"$SANHU_BIN" staff create --username li.wei --role finance --password-stdin <<< "$PASSWORD" > /dev/null
PHONE=13800138001
call() { "$SANHU_BIN" call "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
MEMBER="$(call POST /v1/members --data "{\"phone\":\"$PHONE\"}" | json '["member"]["id"]')"
ACCOUNT="$(call POST "/v1/members/$MEMBER/activate" --data '{}' | json '["accounts"][0]["id"]')"
call POST "/v1/members/$MEMBER/authentications" --data '{"type":"id_card","channel":"police_id_check","name":"张三","certificate_type":"id_card","certificate_number":"110101199003071233","result":"verified"}' > /dev/null
for n in 1 2; do
  call POST /v1/recharges --data "{\"order_number\":\"CZ-2026-000$n\",\"member_id\":\"$MEMBER\",\"account_id\":\"$ACCOUNT\",\"amount\":123456,\"channel\":\"alipay\"}" > /dev/null
  call POST "/v1/recharges/CZ-2026-000$n/confirm" --data '{}' > /dev/null
done

say "the browser tests"
cd "$HERE"
SANHU_CONSOLE_URL="http://127.0.0.1:$PORT" SANHU_CONSOLE_USER=li.wei SANHU_CONSOLE_PASSWORD="$PASSWORD" \
  SANHU_CONSOLE_PHONE="$PHONE" SANHU_CONSOLE_MEMBER="$MEMBER" SANHU_CHROMIUM="$CHROMIUM" \
  timeout 120 node --test console.test.mjs
