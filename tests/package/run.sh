#!/usr/bin/env bash
# The Debian package, installed and run as docs/OPERATIONS.md ("Installing the Debian package") says:
#
#   1. built by packaging/debian/build.sh (from SANHU_BIN when given, as CI does with its debug build);
#   2. installed with dpkg: the `sanhu` user, /var/lib/sanhu (0750, the service's), /etc/sanhu/sanhu.toml
#      (root:sanhu 0640, a conffile), the schema migrated and the first API client's credential saved
#      (0600, the service's);
#   3. the service run as its unit file says (its User, WorkingDirectory and ExecStart, read from the
#      installed unit; this machine has no systemd to start it), on SANHU_PACKAGE_PORT (25460): /ready
#      answers, and a signed call with the saved credential is answered;
#   4. reinstalled over itself (an upgrade): the operator's edit of the configuration and the data kept,
#      no second API client made;
#   5. purged: the configuration and the user gone, the data directory kept.
#
# Needs root and dpkg; where it cannot run, it skips with a message, except under CI=true, where that
# fails. Refuses to run where a sanhu package is installed already. Bounded by SANHU_PACKAGE_SECONDS
# (120) after the build.
set -euo pipefail
cd "$(dirname "$0")/../.."

TEST_NAME="package test"
LIMIT_S="${SANHU_PACKAGE_SECONDS:-120}"
PORT="${SANHU_PACKAGE_PORT:-25460}"
# shellcheck source=tests/lib.sh
. tests/lib.sh

# Every command docs/OPERATIONS.md shows for the package is one this test runs: each option it uses.
require_options_used "$(docs_blocks "Installing the Debian package")"

[ "$(id -u)" = 0 ] || skip_or_fail "installing a package needs root"
command -v dpkg >/dev/null || skip_or_fail "dpkg is missing"
# Output is read whole before it is matched: under pipefail, `grep -q` leaving early would fail the pipe.
if [[ "$(dpkg-query -W -f '${Status}' sanhu 2>/dev/null || true)" == *installed* ]]; then
  fail "a sanhu package is installed on this machine already; this test installs and purges its own"
fi
[ ! -e /var/lib/sanhu ] || fail "/var/lib/sanhu exists; this test needs a machine without sanhu's data"

use_sanhu_binary
start_the_clock
require_free_ports SANHU_PACKAGE_PORT "$PORT"
WORK="$(mktemp -d /tmp/sanhu-package.XXXXXX)"
SERVE_PID=""
cleanup() {
  status=$?
  set +e
  if [ -n "$SERVE_PID" ]; then kill -TERM "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; fi
  if [ "$status" != 0 ]; then tail -n 30 "$WORK"/*.log >&2; fi
  dpkg --purge sanhu >/dev/null 2>&1
  rm -rf /var/lib/sanhu "$WORK"
}
trap cleanup EXIT

echo "--- building the package"
deb=$(CARGO_TARGET_DIR="$WORK/target" SANHU_BIN="$SANHU_BIN" bash packaging/debian/build.sh)
[[ "$(dpkg-deb --info "$deb")" == *"Package: sanhu"* ]] || fail "$deb is not sanhu's package"

echo "--- dpkg --install"
dpkg --install "$deb" >"$WORK/install.log" 2>&1 || fail "dpkg --install failed"
grep -q "^private_key: " "$WORK/install.log" || fail "the installation showed no first API client's key"

mode_of() { stat -c '%a %U:%G' "$1"; }
expect_mode() { # path "mode user:group"
  [ "$(mode_of "$1")" = "$2" ] || fail "$1 is $(mode_of "$1"), not $2"
}
getent passwd sanhu >/dev/null || fail "no sanhu user"
expect_mode /var/lib/sanhu "750 sanhu:sanhu"
expect_mode /etc/sanhu "750 root:sanhu"
expect_mode /etc/sanhu/sanhu.toml "640 root:sanhu"
expect_mode /var/lib/sanhu/sanhu-credentials.json "600 sanhu:sanhu"
expect_mode /var/lib/sanhu/sanhu-secret.key "600 sanhu:sanhu"
expect_mode /var/lib/sanhu/sanhu-data.key "600 sanhu:sanhu"
[ -f /var/lib/sanhu/sanhu.db ] || fail "the installation made no database"
[ -x /usr/bin/sanhu ] || fail "no /usr/bin/sanhu"
grep -qx /etc/sanhu/sanhu.toml /var/lib/dpkg/info/sanhu.conffiles || fail "the configuration is not a conffile"

# The service as its unit says.
unit=/lib/systemd/system/sanhu.service
[ -f "$unit" ] || fail "no $unit"
setting() { sed -n "s/^$1=//p" "$unit"; }
user=$(setting User)
directory=$(setting WorkingDirectory)
read -r -a exec_start <<<"$(setting ExecStart)"
[ "$user" = sanhu ] || fail "the unit runs as $user"
serve() {
  (cd "$directory" && SANHU_LISTEN="127.0.0.1:$PORT" exec runuser -u "$user" -- "${exec_start[@]}") >>"$WORK/serve.log" 2>&1 &
  SERVE_PID=$!
  wait_for "sanhu serve from the package" curl -fsS "http://127.0.0.1:$PORT/ready"
}
stop() { kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; SERVE_PID=""; }
call() {
  (cd "$directory" && runuser -u "$user" -- env SANHU_URL="http://127.0.0.1:$PORT" \
    /usr/bin/sanhu call "$@" --credentials /var/lib/sanhu/sanhu-credentials.json)
}

echo "--- the service, as $unit starts it"
serve
grep -qi "private.key" "$WORK/serve.log" && fail "the service printed a private key to its log"
account=$(call POST /v1/ledger/accounts --idempotency-key package-1 --data '{"currency":"CNY"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
read_back() { call GET "/v1/ledger/accounts/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
[ "$(read_back "$account")" = "$account" ] || fail "the account made is not read back"
stop

echo "--- dpkg --install again (an upgrade): the operator's configuration and the data kept"
sed -i 's/^time_zone = .*/time_zone = "Asia\/Urumqi"/' /etc/sanhu/sanhu.toml
dpkg --force-confold --install "$deb" >"$WORK/upgrade.log" 2>&1 || fail "the second dpkg --install failed"
grep -q 'Asia/Urumqi' /etc/sanhu/sanhu.toml || fail "the upgrade replaced the operator's configuration"
grep -q "^private_key: " "$WORK/upgrade.log" && fail "the upgrade made a second first client"
serve
[ "$(read_back "$account")" = "$account" ] || fail "the upgrade lost the data"
runuser -u sanhu -- /usr/bin/sanhu verify --config /etc/sanhu/sanhu.toml >"$WORK/verify.log" \
  || fail "sanhu verify failed after the upgrade"
stop

echo "--- dpkg --purge: configuration and user gone, data kept"
dpkg --purge sanhu >"$WORK/purge.log" 2>&1 || fail "dpkg --purge failed"
[ ! -e /etc/sanhu ] || fail "/etc/sanhu survived the purge"
getent passwd sanhu >/dev/null && fail "the sanhu user survived the purge"
[ -f /var/lib/sanhu/sanhu.db ] || fail "the purge removed the ledger's data"
echo "--- package test: passed in $(elapsed) s"
