#!/usr/bin/env bash
# Backups and point-in-time recovery of sanhu's PostgreSQL database, on this machine, as
# docs/OPERATIONS.md ("Backups and point-in-time recovery") tells an operator to do them.
#
# Makes a PostgreSQL cluster of its own under a temporary directory (port SANHU_BACKUP_PORT, 25440)
# with WAL archiving on, and a `sanhu serve` on it. Then:
#   1. signed load (`sanhu bench http transfer`), and a base backup taken with pg_basebackup while
#      sanhu serves;
#   2. more load after the backup; sanhu stopped; `sanhu verify` read: the ledger's figures and the
#      audit chain's head; a named restore point made;
#   3. more load after the restore point (the work a restore to the point must undo); its head read;
#   4. the cluster stopped, as a lost machine; the base backup restored into a new data directory with
#      the archived WAL up to the restore point, on its own port (SANHU_BACKUP_PORT + 1);
#   5. `sanhu verify` on the restored database: clean, with the same accounts, transfers and audit
#      head as at the restore point, and none of step 3's work.
#
# Every option of the pg_basebackup and recovery commands docs/OPERATIONS.md shows is one this script
# uses. Runs the cluster as the `postgres` user when started as root (PostgreSQL refuses root). Uses
# SANHU_BIN when given, else builds the binary. Bounded by SANHU_BACKUP_SECONDS (240) after the build.
# Without PostgreSQL's server binaries it skips with a message, except under CI=true, where it fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

LIMIT_S="${SANHU_BACKUP_SECONDS:-240}"
PORT="${SANHU_BACKUP_PORT:-25440}"
RESTORED_PORT=$((PORT + 1))
HTTP_PORT=$((PORT + 2))

TEST_NAME="backup test"
# shellcheck source=tests/lib.sh
. tests/lib.sh

# The commands docs/OPERATIONS.md shows for backups and recovery: every option in its blocks is one
# this script uses, and so is every recovery setting it names.
blocks=$(docs_blocks "Backups and point-in-time recovery")
require_options_used "$blocks"
require_settings_used "$blocks"

find_postgres_binaries
export PATH="$PGBIN:$PATH"

use_sanhu_binary
start_the_clock
require_free_ports SANHU_BACKUP_PORT "$PORT" "$RESTORED_PORT" "$HTTP_PORT"

make_cluster_dir sanhu-backup
pg mkdir "$DIR/wal" "$DIR/work"

SERVE_PID=""
cleanup() {
  status=$?
  set +e
  if [ "$status" != 0 ]; then
    for log in "$DIR"/*.log; do echo "--- $log" >&2; tail -n 15 "$log" >&2; done
  fi
  [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  for data in "$DIR/primary" "$DIR/restored"; do
    [ -f "$data/postmaster.pid" ] && pg pg_ctl -D "$data" stop -m immediate >/dev/null 2>&1
  done
  rm -rf "$DIR"
}
trap cleanup EXIT

echo "--- a cluster with WAL archiving in $DIR, port $PORT"
pg initdb -D "$DIR/primary" --auth trust -U postgres >"$DIR/initdb.log"
pg tee -a "$DIR/primary/postgresql.conf" >/dev/null <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_buffers = 16MB
max_connections = 40
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $DIR/wal/%f && cp %p $DIR/wal/%f'
CONF
pg pg_ctl -D "$DIR/primary" -l "$DIR/primary.log" -w start >/dev/null
PRIMARY="postgres://postgres@127.0.0.1:$PORT"
psql "$PRIMARY/postgres" -qc "CREATE DATABASE sanhu"

# sanhu serves from its own working directory (its credential file is written there).
serve() {
  (cd "$DIR/work" && exec "$SANHU_BIN" serve --database-url "$PRIMARY/sanhu" --listen "127.0.0.1:$HTTP_PORT") \
    >>"$DIR/serve.log" 2>&1 &
  SERVE_PID=$!
  wait_for "sanhu serve" curl -fsS "http://127.0.0.1:$HTTP_PORT/health"
}
stop_serving() { kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; SERVE_PID=""; }
load() {
  (cd "$DIR/work" && "$SANHU_BIN" bench http transfer --url "http://127.0.0.1:$HTTP_PORT" \
    --connections 4 --duration "$1" --warm-up 0s --accounts 20) >>"$DIR/load.log" 2>&1 \
    || { tail -n 20 "$DIR/load.log" >&2; fail "the load failed"; }
}
# `sanhu verify` on a database: exits non-zero (and so fails the test) unless everything holds; prints
# its figures (accounts and transfers checked, the audit chain's events and head).
verify() {
  local out
  out=$(cd "$DIR/work" && "$SANHU_BIN" verify --database-url "$1") || { echo "$out" >&2; fail "sanhu verify failed on $1"; }
  printf '%s\n' "$out" | grep -E 'accounts, .* transfers checked|audit chain: ' | sed 's/^verify: //'
}

echo "--- 1. sanhu serving under signed load; a base backup taken meanwhile"
serve
load 3s
load 3s &
LOAD_PID=$!
pg pg_basebackup --pgdata "$DIR/base" --host 127.0.0.1 --port "$PORT" --username postgres \
  --checkpoint fast --wal-method stream >"$DIR/basebackup.log" 2>&1 \
  || { cat "$DIR/basebackup.log" >&2; fail "pg_basebackup failed"; }
wait "$LOAD_PID"

echo "--- 2. more load after the backup; a restore point"
load 2s
stop_serving
AT_POINT=$(verify "$PRIMARY/sanhu")
printf '%s\n' "$AT_POINT"
psql "$PRIMARY/sanhu" -Atqc "SELECT pg_create_restore_point('before-the-mistake')" >/dev/null

echo "--- 3. work after the restore point (what the restore undoes)"
serve
load 2s
stop_serving
AFTER=$(verify "$PRIMARY/sanhu")
printf '%s\n' "$AFTER"
[ "$AFTER" != "$AT_POINT" ] || fail "the work after the restore point changed nothing"
# The segment holding the last of it is closed and archived before the machine is "lost".
last=$(psql "$PRIMARY/sanhu" -Atc "SELECT pg_walfile_name(pg_switch_wal())")
wait_for "the archiver to keep $last" test -f "$DIR/wal/$last"
pg pg_ctl -D "$DIR/primary" -m immediate stop >/dev/null

echo "--- 4. the base backup restored with the archived WAL up to the restore point, port $RESTORED_PORT"
pg cp -a "$DIR/base" "$DIR/restored"
pg tee -a "$DIR/restored/postgresql.conf" >/dev/null <<CONF
port = $RESTORED_PORT
archive_mode = off
restore_command = 'cp $DIR/wal/%f %p'
recovery_target_name = 'before-the-mistake'
recovery_target_action = 'promote'
CONF
pg touch "$DIR/restored/recovery.signal"
pg pg_ctl -D "$DIR/restored" -l "$DIR/restored.log" -w start >/dev/null
RESTORED="postgres://postgres@127.0.0.1:$RESTORED_PORT"
promoted() { [ "$(psql "$RESTORED/sanhu" -Atc 'SELECT NOT pg_is_in_recovery()')" = t ]; }
wait_for "recovery to end" promoted
grep -q 'recovery stopping at restore point "before-the-mistake"' "$DIR/restored.log" \
  || { tail -n 20 "$DIR/restored.log" >&2; fail "recovery did not stop at the restore point"; }

echo "--- 5. sanhu verify on the restored database"
RESTORED_FIGURES=$(verify "$RESTORED/sanhu")
printf '%s\n' "$RESTORED_FIGURES"
[ "$RESTORED_FIGURES" = "$AT_POINT" ] \
  || fail "the restored database is not the one at the restore point: expected
$AT_POINT"
echo "--- backup test: restored to the restore point, verify clean and the audit head the same, in $(elapsed) s"
