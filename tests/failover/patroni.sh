#!/usr/bin/env bash
# PostgreSQL failover under signed load with Patroni and etcd, on this machine.
#
# The same test as tests/failover/run.sh (pg_auto_failover), with the other high-availability tool
# docs/OPERATIONS.md describes: a one-member etcd and two Patroni nodes (each a local cluster on its
# own port and data directory under a temporary directory, synchronous mode on), made by this script
# from the configuration the docs show. Each round runs the failover test of
# crates/cli/tests/it/database_loss.rs against a fresh database: a `sanhu serve --database-url` given both hosts under
# transfers, payments and reads from several signed clients with Idempotency-Keys; the leader's
# machine dying (its Patroni and its postmaster killed with SIGKILL); Patroni on the other node taking
# the leader key when it expires and promoting its standby; sanhu following by itself; then
# exactly-once, balances, conservation and `sanhu verify`. Between rounds the dead node's Patroni starts
# again, finds the other node leading, rewinds its own data and rejoins as the standby; round 2 fails
# back.
#
#   bash tests/failover/patroni.sh          # SANHU_FAILOVER_ROUNDS rounds (2)
#
# Installs Debian's patroni and etcd-server when missing (as root); where it cannot, it skips with a
# message, except under CI=true, where that fails. Ports from SANHU_PATRONI_PORT (25450): etcd's client
# and peer ports, then the nodes' PostgreSQL ports, then their REST APIs; below Linux's ephemeral range
# (32768 and up), where any outgoing connection may hold a port (a first run at 55450 found its REST
# API's port taken). Bounded by
# SANHU_FAILOVER_SECONDS (300) after the build. Runs everything as the `postgres` user when started as
# root. Everything made is removed at the end, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."

# `patroni.sh kill-primary <dir>`: the leader's machine dies: its Patroni and its postmaster are killed
# with SIGKILL (the backends notice and exit). Prints the leader's host:port. The script starts that
# node's Patroni again after the round, as the machine coming back.
#
# Not a freeze: a Patroni frozen with SIGSTOP (a paused virtual machine) and let go after the standby
# was promoted went on from its stale view. Patroni 3.0.2 (Debian 12) took the leader key back,
# promoted its own node's old data on a timeline of its own, and the promoted standby demoted itself:
# what was written on it after the failover was gone. Patroni's watchdog exists to reset such a
# machine; docs/OPERATIONS.md requires it.
if [ "${1:-}" = kill-primary ]; then
  dir="$2"
  leader=$(patronictl -c "$dir/node-a.yml" list -f json \
    | python3 -c 'import json,sys; print(next(m["Member"] for m in json.load(sys.stdin) if m["Role"] == "Leader"))')
  [ -n "$leader" ] || { echo "no leader to kill" >&2; exit 1; }
  echo "$leader" >"$dir/killed"
  kill -KILL "$(cat "$dir/$leader.pid")" "$(head -n 1 "$dir/$leader/postmaster.pid")"
  cat "$dir/$leader.address"
  exit 0
fi

TEST_NAME="patroni test"
# shellcheck source=tests/lib.sh
. tests/lib.sh

# docs/OPERATIONS.md gives the Patroni configuration: every key of its YAML blocks and every option of
# its command blocks is one this script uses.
blocks=$(docs_blocks "PostgreSQL failover with Patroni")
for key in $(printf '%s\n' "$blocks" | grep -oE '^ *[a-z_0-9]+:' | tr -d ' :' | sort -u); do
  grep -qE -- "^ *$key:" "$0" || fail "docs/OPERATIONS.md sets $key, this test does not"
done
require_options_used "$blocks"

ROUNDS="${SANHU_FAILOVER_ROUNDS:-2}"
BASE_PORT="${SANHU_PATRONI_PORT:-25450}"
LIMIT_S="${SANHU_FAILOVER_SECONDS:-300}"

need_commands "patroni etcd" patroni etcd-server
echo "--- building the test"
${SANHU_CARGO_LOCK:+flock "$SANHU_CARGO_LOCK"} cargo test --locked -q -p sanhu --test it --no-run
start_the_clock
find_postgres_binaries
make_cluster_dir sanhu-patroni

PIDS=()
cleanup() {
  status=$?
  set +e
  if [ "$status" != 0 ]; then
    for log in "$DIR"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
  fi
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
  sleep 2
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  for data in "$DIR"/node-a "$DIR"/node-b; do
    [ -f "$data/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$data" stop -m immediate >/dev/null 2>&1
  done
  rm -rf "$DIR"
}
trap cleanup EXIT

on_give_up() { patronictl -c "$DIR/node-a.yml" list; }
# Starts a command in its own process group as the postgres user, logging to $1.log; its pid in $1.pid.
start() {
  local name="$1"; shift
  setsid "${AS_PG[@]}" "$@" >>"$DIR/$name.log" 2>&1 &
  PIDS+=($!)
  disown
}

ETCD=$BASE_PORT
ETCD_PEER=$((BASE_PORT + 1))
PG_A=$((BASE_PORT + 2))
PG_B=$((BASE_PORT + 3))
API_A=$((BASE_PORT + 4))
API_B=$((BASE_PORT + 5))
require_free_ports SANHU_PATRONI_PORT "$ETCD" "$ETCD_PEER" "$PG_A" "$PG_B" "$API_A" "$API_B"

echo "--- etcd :$ETCD and two Patroni nodes (:$PG_A, :$PG_B) in $DIR"
start etcd etcd --name sanhu-etcd --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD" --advertise-client-urls "http://127.0.0.1:$ETCD" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "sanhu-etcd=http://127.0.0.1:$ETCD_PEER"
wait_for etcd curl -fsS "http://127.0.0.1:$ETCD/health"

# One node's configuration, as docs/OPERATIONS.md shows it (ports and directories are the test's).
# The timings are tighter than Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10) so that a
# round takes seconds: the leader key expires 20 s after the dead leader last renewed it.
node_config() { # name pg_port api_port
  cat <<YAML
scope: sanhu
name: $1
restapi:
  listen: 127.0.0.1:$3
  connect_address: 127.0.0.1:$3
etcd3:
  hosts: 127.0.0.1:$ETCD
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 40
        shared_buffers: 16MB
  initdb:
    - encoding: UTF8
    - data-checksums
postgresql:
  listen: 127.0.0.1:$2
  connect_address: 127.0.0.1:$2
  data_dir: $DIR/$1
  bin_dir: $PGBIN
  pgpass: $DIR/$1.pgpass
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
    rewind:
      username: postgres
      password: postgres
  parameters:
    unix_socket_directories: $DIR
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
YAML
}
run_node() { # name pg_port api_port
  node_config "$@" | "${AS_PG[@]}" tee "$DIR/$1.yml" >/dev/null
  echo "127.0.0.1:$2" >"$DIR/$1.address"
  start "$1" patroni "$DIR/$1.yml"
  # The Patroni process itself (its process group's leader is runuser when run as root).
  local pid=""
  for _ in $(seq 1 50); do
    pid=$(pgrep -n -f "bin/patroni $DIR/$1.yml" || true)
    [ -n "$pid" ] && break
    sleep 0.2
  done
  [ -n "$pid" ] || fail "Patroni for $1 did not start"
  echo "$pid" >"$DIR/$1.pid"
}
members() { patronictl -c "$DIR/node-a.yml" list -f json 2>/dev/null; }
# A leader running and a synchronous standby streaming from it.
healthy() {
  members | python3 -c '
import json, sys
m = json.load(sys.stdin)
leader = [x for x in m if x["Role"] == "Leader" and x["State"] == "running"]
standby = [x for x in m if x["Role"] == "Sync Standby" and x["State"] in ("running", "streaming")]
sys.exit(0 if len(leader) == 1 and len(standby) == 1 else 1)'
}
leader_address() {
  members | python3 -c 'import json,sys; m = next(m for m in json.load(sys.stdin) if m["Role"] == "Leader"); h = m["Host"]; print(h if ":" in h else h + ":5432")'
}

run_node node-a "$PG_A" "$API_A"
wait_for "the first node to lead" test -f "$DIR/node-a/postmaster.pid"
wait_for "the first node to lead" sh -c "patronictl -c '$DIR/node-a.yml' list -f json | grep -q Leader"
run_node node-b "$PG_B" "$API_B"

for round in $(seq 1 "$ROUNDS"); do
  wait_for "a leader and its synchronous standby" healthy
  primary=$(leader_address)
  sync=$(psql "postgres://postgres@$primary/postgres" -Atc "SHOW synchronous_standby_names")
  echo "--- round $round: leader $primary (synchronous_standby_names '$sync'), $(elapsed) s in"
  psql "postgres://postgres@$primary/postgres" -qc "CREATE DATABASE sanhu_r$round"
  left=$((LIMIT_S - $(elapsed)))
  [ "$left" -gt 30 ] || fail "no time left for round $round"
  SANHU_FAILOVER_URL="postgres://postgres@127.0.0.1:$PG_A,127.0.0.1:$PG_B/sanhu_r$round?target_session_attrs=read-write" \
  SANHU_FAILOVER_KILL="bash $PWD/tests/failover/patroni.sh kill-primary $DIR" \
    timeout "$left" cargo test --locked -q -p sanhu --test it \
      -- --exact database_loss::postgres_failover_loses_nothing_acknowledged_and_service_follows_the_new_primary --nocapture
  now=$(leader_address)
  [ "$now" != "$primary" ] || fail "$primary still leads"
  patronictl -c "$DIR/node-a.yml" list
  # The dead machine comes back: its Patroni finds the other node leading, rewinds its data and follows.
  killed=$(cat "$DIR/killed")
  case "$killed" in
    node-a) run_node node-a "$PG_A" "$API_A" ;;
    node-b) run_node node-b "$PG_B" "$API_B" ;;
    *) fail "no node was killed in round $round" ;;
  esac
  rm -f "$DIR/killed"
done
wait_for "the old leader to rejoin" healthy
echo "--- Patroni failover test: $ROUNDS rounds passed in $(elapsed) s"
