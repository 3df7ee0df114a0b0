#!/usr/bin/env bash
# Read replicas on this machine, as docs/OPERATIONS.md ("Read replicas") tells an operator to set
# them up: a primary and a streaming standby (pg_basebackup -R) as clusters of their own, the standby
# delayed with recovery_min_apply_delay, and `sanhu serve` with the standby in [database]
# read_replica_urls and a staleness bound of 1000 ms. Then:
#   1. the delay (300 ms) below the bound: a member's flow is read from the standby
#      (sanhu_reads_total{source="replica"} on /metrics rises, the answer says Sanhu-Read-From:
#      replica) and, once the standby has replayed it, shows what the primary shows;
#   2. money decisions right after a write: a recharge, then at once a payment of all of it, several
#      times; each is paid (the payment decided on the primary, which has the recharge; the standby
#      has not replayed it yet), and a read asked `--consistency strong` shows it at once;
#   3. the delay (5 s) above the bound, under signed load: reads go to the primary
#      (sanhu_reads_total{source="primary",reason="stale"}) and show a payment made just before;
#   4. the standby stopped: reads go to the primary and are answered;
#   5. `sanhu verify` clean on the primary.
#
# Ports SANHU_REPLICAS_PORT (25470) to +3: the primary, the standby, sanhu's API and its metrics.
# Runs the clusters as the `postgres` user when started as root (PostgreSQL refuses root). Uses
# SANHU_BIN when given, else builds the binary. Bounded by SANHU_REPLICAS_SECONDS (180) after the
# build. Without PostgreSQL's server binaries it skips with a message, except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/../.."

LIMIT_S="${SANHU_REPLICAS_SECONDS:-180}"
PORT="${SANHU_REPLICAS_PORT:-25470}"
STANDBY_PORT=$((PORT + 1))
HTTP_PORT=$((PORT + 2))
METRICS_PORT=$((PORT + 3))

TEST_NAME="replicas test"
# shellcheck source=tests/lib.sh
. tests/lib.sh

# The commands docs/OPERATIONS.md shows for read replicas: every option in its blocks is one this
# script uses, and so is every setting it names.
blocks=$(docs_blocks "Read replicas")
require_options_used "$blocks"
require_settings_used "$blocks"

find_postgres_binaries
export PATH="$PGBIN:$PATH"

use_sanhu_binary
start_the_clock
require_free_ports SANHU_REPLICAS_PORT "$PORT" "$STANDBY_PORT" "$HTTP_PORT" "$METRICS_PORT"

make_cluster_dir sanhu-replicas
pg mkdir "$DIR/work"

SERVE_PID=""
cleanup() {
  status=$?
  set +e
  if [ "$status" != 0 ]; then
    for log in "$DIR"/*.log; do echo "--- $log" >&2; tail -n 15 "$log" >&2; done
  fi
  [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  for data in "$DIR/primary" "$DIR/standby"; do
    [ -f "$data/postmaster.pid" ] && pg pg_ctl -D "$data" stop -m immediate >/dev/null 2>&1
  done
  rm -rf "$DIR"
}
trap cleanup EXIT

echo "--- a primary on port $PORT and a streaming standby on port $STANDBY_PORT in $DIR"
pg initdb -D "$DIR/primary" --auth trust -U postgres >"$DIR/initdb.log"
pg tee -a "$DIR/primary/postgresql.conf" >/dev/null <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_buffers = 16MB
max_connections = 40
wal_level = replica
CONF
pg pg_ctl -D "$DIR/primary" -l "$DIR/primary.log" -w start >/dev/null
PRIMARY="postgres://postgres@127.0.0.1:$PORT"
psql "$PRIMARY/postgres" -qc "CREATE DATABASE sanhu"

pg pg_basebackup --pgdata "$DIR/standby" --host 127.0.0.1 --port "$PORT" --username postgres \
  --checkpoint fast --wal-method stream --write-recovery-conf >"$DIR/basebackup.log" 2>&1 \
  || { cat "$DIR/basebackup.log" >&2; fail "pg_basebackup failed"; }
pg tee -a "$DIR/standby/postgresql.conf" >/dev/null <<CONF
port = $STANDBY_PORT
hot_standby = on
recovery_min_apply_delay = '300ms'
CONF
pg pg_ctl -D "$DIR/standby" -l "$DIR/standby.log" -w start >/dev/null
STANDBY="postgres://postgres@127.0.0.1:$STANDBY_PORT"
streaming() { [ "$(psql "$PRIMARY/postgres" -Atc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ]; }
wait_for "the standby to stream" streaming
[ "$(psql "$STANDBY/postgres" -Atc 'SELECT pg_is_in_recovery()')" = t ] || fail "the standby is not in recovery"

# The standby's apply delay, changed while it runs (a reload takes it).
set_delay() {
  pg sed -i '/^recovery_min_apply_delay/d' "$DIR/standby/postgresql.conf"
  echo "recovery_min_apply_delay = '$1'" | pg tee -a "$DIR/standby/postgresql.conf" >/dev/null
  pg pg_ctl -D "$DIR/standby" reload >/dev/null
  delay_is() { [ "$(psql "$STANDBY/postgres" -Atc 'SHOW recovery_min_apply_delay')" = "$1" ]; }
  wait_for "the delay to be $1" delay_is "$1"
}

# sanhu serves from its own working directory (its credential file is written there), configured
# by its file as docs/OPERATIONS.md shows.
pg tee "$DIR/work/sanhu.toml" >/dev/null <<CONF
database_url = "$PRIMARY/sanhu"
listen = "127.0.0.1:$HTTP_PORT"
metrics_listen = "127.0.0.1:$METRICS_PORT"

[database]
read_replica_urls = ["$STANDBY/sanhu"]
read_max_staleness_ms = 1000
read_replica_sample_ms = 100
CONF
(cd "$DIR/work" && exec "$SANHU_BIN" serve) >>"$DIR/serve.log" 2>&1 &
SERVE_PID=$!
wait_for "sanhu serve" curl -fsS "http://127.0.0.1:$HTTP_PORT/ready"

call() { (cd "$DIR/work" && "$SANHU_BIN" call "$@"); }
# A counter of sanhu_reads_total by source and reason (0 before its first count).
reads() { # source reason
  curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" \
    | awk -v series="sanhu_reads_total{source=\"$1\",reason=\"$2\"}" '$1 == series {print $2; found=1} END {if (!found) print 0}'
}
flow() { # [call options…]: the member's flow, its lines' transfers, newest first
  call GET "/v1/members/$MEMBER/wallet/flow?limit=100" "$@" | jq -c '[.data[].transfer_id]'
}
flow_lines() { flow "$@" | jq length; }

echo "--- a member and a shop, and money"
MEMBER=$(call POST /v1/members --data '{"phone":"13800000001"}' | jq -r .member.id)
SHOP=$(call POST /v1/members --data '{"phone":"13800000002"}' | jq -r .member.id)
call POST "/v1/members/$MEMBER/activate" >/dev/null
SHOP_BASIC=$(call POST "/v1/members/$SHOP/activate" | jq -r '.accounts[0].id')
round=0
# A recharge of $1 (minor units) confirmed, then at once a payment of all of it: the payment is
# decided on the primary, which has the recharge, whatever the standby has replayed.
recharge_and_spend() {
  round=$((round + 1))
  call POST /v1/recharges --data "{\"order_number\":\"R-$round\",\"member_id\":\"$MEMBER\",\"amount\":$1,\"channel\":\"alipay\"}" >/dev/null
  local credited
  credited=$(call POST "/v1/recharges/R-$round/confirm" | jq -r .credited)
  [ "$credited" = "$1" ] || fail "recharge R-$round credited $credited, not $1"
  local paid
  paid=$(call POST /v1/payments --idempotency-key "pay-$round" \
    --data "{\"order_number\":\"P-$round\",\"member_id\":\"$MEMBER\",\"amount\":$1,\"receiver_account_id\":\"$SHOP_BASIC\"}" \
    | jq -r .status) || fail "payment P-$round after recharge R-$round was refused"
  [ "$paid" = paid ] || fail "payment P-$round is $paid, not paid"
}
recharge_and_spend 5000

echo "--- 1. the delay (300ms) below the bound: the flow is read from the standby"
sleep 1.5
before=$(reads replica fresh)
same_as_primary() { [ "$(flow)" = "$(flow --consistency strong)" ]; }
wait_for "the standby's flow to be the primary's" same_as_primary
call GET "/v1/members/$MEMBER/wallet/flow" --include 2>"$DIR/headers" >/dev/null
grep -qi '^sanhu-read-from: replica' "$DIR/headers" || { cat "$DIR/headers" >&2; fail "the flow was not read from the standby"; }
after=$(reads replica fresh)
[ "$after" -gt "$before" ] || fail "sanhu_reads_total{source=\"replica\"} did not rise ($before, $after)"
echo "reads from the standby: $before before, $after after"

echo "--- 2. money decisions right after a write, with the standby 300ms behind"
for _ in 1 2 3 4 5; do
  known=$(flow_lines --consistency strong)
  recharge_and_spend 2000
  # The caller's own write, read at once: asked strong, from the primary, with the round's lines.
  lines=$(flow_lines --consistency strong)
  [ "$lines" -ge $((known + 2)) ] || fail "a strong read after round $round shows $lines lines, not $known + 2"
done
call GET "/v1/members/$MEMBER/wallet/flow" --consistency strong --include 2>"$DIR/headers" >/dev/null
grep -qi '^sanhu-read-from: primary' "$DIR/headers" || fail "a strong read was not the primary's"
echo "5 recharges each spent at once: every payment paid"

echo "--- 3. the delay (5s) above the bound, under load: reads go to the primary and are fresh"
set_delay 5s
(cd "$DIR/work" && "$SANHU_BIN" bench http transfer --url "http://127.0.0.1:$HTTP_PORT" \
  --connections 2 --duration 12s --warm-up 0s --accounts 10) >>"$DIR/load.log" 2>&1 &
LOAD_PID=$!
sleep 3
stale_before=$(reads primary stale)
replica_before=$(reads replica fresh)
for _ in 1 2 3; do
  recharge_and_spend 1000
  # Read at once, not asked strong: the primary's answer all the same, with the round's lines.
  eventual=$(flow)
  [ "$eventual" = "$(flow --consistency strong)" ] || fail "a read with the standby past the bound was stale"
done
call GET "/v1/members/$MEMBER/wallet/flow" --include 2>"$DIR/headers" >/dev/null
grep -qi '^sanhu-read-from: primary' "$DIR/headers" || fail "a read with the standby past the bound was not the primary's"
[ "$(reads primary stale)" -gt "$stale_before" ] || fail "sanhu_reads_total{reason=\"stale\"} did not rise"
[ "$(reads replica fresh)" = "$replica_before" ] || fail "the standby was read while past the bound"
wait "$LOAD_PID" || { tail -n 20 "$DIR/load.log" >&2; fail "the load failed"; }
lag=$(psql "$PRIMARY/postgres" -Atc "SELECT coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication")
echo "reads past the bound: every one the primary's (replay lag $lag s)"

echo "--- 4. the standby stopped: reads go to the primary"
pg pg_ctl -D "$DIR/standby" -m fast stop >/dev/null
sleep 1.5
for _ in 1 2 3; do
  [ "$(flow)" = "$(flow --consistency strong)" ] || fail "a read with the standby stopped was not the primary's"
done
call GET "/v1/members/$MEMBER/wallet/flow" --include 2>"$DIR/headers" >/dev/null
grep -qi '^sanhu-read-from: primary' "$DIR/headers" || fail "a read with the standby stopped was not the primary's"

echo "--- 5. sanhu verify on the primary"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=""
(cd "$DIR/work" && "$SANHU_BIN" verify --database-url "$PRIMARY/sanhu") | tail -n 3 \
  || fail "sanhu verify failed"
echo "--- replicas test: reads from the standby within the bound, the primary beyond it, every payment decided on the primary, verify clean, in $(elapsed) s"
