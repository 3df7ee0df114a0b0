#!/usr/bin/env bash
# PostgreSQL failover under signed load, on this machine.
#
# Makes a pg_auto_failover formation of local clusters under a temporary directory: a monitor and two
# nodes (a primary and its synchronous standby), each on its own port (SANHU_FAILOVER_PORT, 25430, and
# the two after it; below Linux's ephemeral range, as tests/lib.sh says). Then, each round, runs the failover test of crates/cli/tests/it/database_loss.rs
# against a fresh database of the formation: a `sanhu serve` under transfers, payments and reads from
# several signed clients with Idempotency-Keys; the primary's postmaster killed with SIGKILL; the
# monitor promoting the standby; sanhu following it by itself; then exactly-once, balances,
# conservation and `sanhu verify`. Round 2 kills the new primary, so the formation fails back to the
# first node (the old primary rejoins as a standby between rounds). Everything made is removed at the
# end, whatever happens.
#
#   bash tests/failover/run.sh                 # SANHU_FAILOVER_ROUNDS rounds (2)
#   SANHU_FAILOVER_ASYNC=1 SANHU_FAILOVER_ROUNDS=1 bash tests/failover/run.sh
#       asynchronous replication for the first round: the primary's WAL sender is paused for a second
#       before the kill, and what the primary acknowledged meanwhile is counted as lost, not refused
#
# Installs Debian's postgresql-15-auto-failover when pg_autoctl is missing (as root); where it cannot,
# it skips with a message, except under CI=true, where that fails. Bounded by SANHU_FAILOVER_SECONDS
# (300) in all, after the build. Runs the clusters as the `postgres` user when started as root (pg_autoctl refuses root).
set -euo pipefail
cd "$(dirname "$0")/../.."

# `run.sh kill-primary <dir>`: the primary's machine dies. Its pg_autoctl (the keeper, which would
# restart PostgreSQL at once and so race the monitor) is frozen with SIGSTOP, and its postmaster is
# killed with SIGKILL; the postmaster's backends notice and exit. Prints the primary's host:port. The
# script lets the keeper go on (SIGCONT) after the round, and the node rejoins as the standby.
if [ "${1:-}" = kill-primary ]; then
  dir="$2"
  port=$(psql "$(cat "$dir/monitor.url")" -Atc \
    "SELECT nodeport FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary') ORDER BY nodeid LIMIT 1")
  [ -n "$port" ] || { echo "no primary to kill" >&2; exit 1; }
  if [ -n "${SANHU_FAILOVER_ASYNC:-}" ]; then
    # Asynchronous: the standby lags. The primary's WAL sender is paused for a second while the
    # primary goes on acknowledging commits, and dies with it: the standby never gets them.
    # No pipe into `head`: under pipefail, a writer cut short (or a last pid that does not match) fails it.
    sender=""
    for pid in $(pgrep -f "postgres: .*walsender" || true); do
      if [ "$(readlink "/proc/$pid/cwd")" = "$dir/node-$port" ]; then sender="$pid"; break; fi
    done
    if [ -n "$sender" ]; then kill -STOP "$sender"; sleep 1; fi
  fi
  keeper=$(pgrep -g "$(cat "$dir/node-$port.pgid")" -x pg_autoctl | tr '\n' ' ')
  echo "$keeper" >"$dir/frozen"
  # shellcheck disable=SC2086
  kill -STOP $keeper
  kill -KILL "$(head -n 1 "$dir/node-$port/postmaster.pid")" ${sender:-}
  echo "127.0.0.1:$port"
  exit 0
fi

TEST_NAME="failover test"
# shellcheck source=tests/lib.sh
. tests/lib.sh

# docs/OPERATIONS.md gives the commands that make the formation: every option its pg_autoctl blocks
# show is one this script uses.
require_options_used "$(docs_blocks "PostgreSQL failover with pg_auto_failover" pg_autoctl)"

ROUNDS="${SANHU_FAILOVER_ROUNDS:-2}"
BASE_PORT="${SANHU_FAILOVER_PORT:-25430}"
LIMIT_S="${SANHU_FAILOVER_SECONDS:-300}"

need_commands pg_autoctl postgresql-15-auto-failover
echo "--- building the test"
${SANHU_CARGO_LOCK:+flock "$SANHU_CARGO_LOCK"} cargo test --locked -q -p sanhu --test it --no-run
# The time limit counts from here: the build is not the test's.
start_the_clock
find_postgres_binaries
export PATH="$PGBIN:$PATH"

make_cluster_dir sanhu-failover
pg() { "${AS_PG[@]}" env PATH="$PATH" XDG_CONFIG_HOME="$DIR/config" XDG_DATA_HOME="$DIR/data" "$@"; }

PIDS=()
cleanup() {
  set +e
  # shellcheck disable=SC2046
  [ -s "$DIR/frozen" ] && kill -CONT $(cat "$DIR/frozen") 2>/dev/null
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
  sleep 1
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  for data in "$DIR"/monitor "$DIR"/node-*; do
    [ -f "$data/postmaster.pid" ] && pg pg_ctl -D "$data" stop -m immediate >/dev/null 2>&1
  done
  rm -rf "$DIR"
}
trap cleanup EXIT

on_give_up() {
  pg pg_autoctl show state --pgdata "$DIR/monitor"
  tail -n 30 "$DIR"/*.log
}
# Small clusters: the machine is shared.
small() {
  cat >>"$1/postgresql.conf" <<CONF
shared_buffers = 16MB
max_connections = 40
max_wal_size = 256MB
CONF
}
# Starts `pg_autoctl run` for a data directory in its own process group, logging beside it.
run() {
  setsid "${AS_PG[@]}" env PATH="$PATH" XDG_CONFIG_HOME="$DIR/config" XDG_DATA_HOME="$DIR/data" \
    pg_autoctl run --pgdata "$1" >"$1.log" 2>&1 &
  PIDS+=($!)
  echo $! >"$1.pgid"
  disown
}

MONITOR_PORT=$BASE_PORT
N1=$((BASE_PORT + 1))
N2=$((BASE_PORT + 2))
MONITOR="postgres://autoctl_node@127.0.0.1:$MONITOR_PORT/pg_auto_failover"
echo "$MONITOR" >"$DIR/monitor.url"
require_free_ports SANHU_FAILOVER_PORT "$MONITOR_PORT" "$N1" "$N2"

echo "--- pg_auto_failover formation in $DIR: monitor :$MONITOR_PORT, nodes :$N1 and :$N2"
pg pg_autoctl create monitor --pgdata "$DIR/monitor" --pgport "$MONITOR_PORT" --hostname 127.0.0.1 \
  --auth trust --no-ssl >"$DIR/create-monitor.log" 2>&1
small "$DIR/monitor"
# The monitor's health checks, tighter than pg_auto_failover's defaults (5 s period and timeout, 2
# retries 2 s apart, a node unhealthy 20 s after its last report, and 30 s for an unreachable primary
# to acknowledge its demotion before the standby is promoted), so that a round takes seconds.
cat >>"$DIR/monitor/postgresql.conf" <<CONF
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 5000
pgautofailover.primary_demote_timeout = 5000
CONF
run "$DIR/monitor"
wait_for "the monitor" psql "$MONITOR" -Atc "SELECT 1"

node_state() { # port -> reported state
  psql "$MONITOR" -Atc "SELECT reportedstate || '/' || goalstate FROM pgautofailover.node WHERE nodeport = $1"
}
in_state() { [ "$(node_state "$1")" = "$2/$2" ]; }
for port in $N1 $N2; do
  pg pg_autoctl create postgres --pgdata "$DIR/node-$port" --pgport "$port" --hostname 127.0.0.1 --name "node-$port" \
    --auth trust --no-ssl --monitor "$MONITOR" --dbname sanhu >"$DIR/create-node-$port.log" 2>&1
  small "$DIR/node-$port"
  run "$DIR/node-$port"
  if [ "$port" = "$N1" ]; then wait_for "the first node" in_state "$N1" single; fi
done

if [ -n "${SANHU_FAILOVER_ASYNC:-}" ]; then
  # Asynchronous: the primary acknowledges a commit before the standby has it.
  wait_for "the standby" in_state "$N2" secondary
  pg pg_autoctl set node replication-quorum false --pgdata "$DIR/node-$N2" >/dev/null
  export SANHU_FAILOVER_ASYNC=1
fi

healthy() {
  local primary secondary
  primary=$(psql "$MONITOR" -Atc "SELECT count(*) FROM pgautofailover.node WHERE reportedstate = 'primary' AND goalstate = 'primary'")
  secondary=$(psql "$MONITOR" -Atc "SELECT count(*) FROM pgautofailover.node WHERE reportedstate = 'secondary' AND goalstate = 'secondary'")
  [ "$primary" = 1 ] && [ "$secondary" = 1 ]
}


for round in $(seq 1 "$ROUNDS"); do
  wait_for "a primary and its standby" healthy
  primary=$(psql "$MONITOR" -Atc "SELECT nodeport FROM pgautofailover.node WHERE reportedstate = 'primary'")
  sync=$(psql "postgres://postgres@127.0.0.1:$primary/sanhu" -Atc "SHOW synchronous_standby_names")
  echo "--- round $round: primary :$primary (synchronous_standby_names '$sync'), $(elapsed) s in"
  psql "postgres://postgres@127.0.0.1:$primary/sanhu" -qc "CREATE DATABASE sanhu_r$round"
  left=$((LIMIT_S - $(elapsed)))
  [ "$left" -gt 30 ] || fail "no time left for round $round"
  SANHU_FAILOVER_URL="postgres://postgres@127.0.0.1:$N1,127.0.0.1:$N2/sanhu_r$round?target_session_attrs=read-write" \
  SANHU_FAILOVER_KILL="bash $PWD/tests/failover/run.sh kill-primary $DIR" \
    timeout "$left" cargo test --locked -q -p sanhu --test it \
      -- --exact database_loss::postgres_failover_loses_nothing_acknowledged_and_service_follows_the_new_primary --nocapture
  now=$(psql "$MONITOR" -Atc "SELECT nodeport FROM pgautofailover.node WHERE goalstate IN ('primary', 'wait_primary')")
  [ "$now" != "$primary" ] || fail ":$primary is still the primary"
  # The old primary's keeper goes on: it finds its node demoted and rejoins as the standby.
  # shellcheck disable=SC2046
  [ -s "$DIR/frozen" ] && kill -CONT $(cat "$DIR/frozen") && rm -f "$DIR/frozen"
  pg pg_autoctl show state --pgdata "$DIR/monitor"
done
echo "--- failover test: $ROUNDS rounds passed in $(elapsed) s"
