# What the shell tests of PostgreSQL operations share: tests/failover/run.sh (pg_auto_failover),
# tests/failover/patroni.sh (Patroni), tests/backup/run.sh (backups and point-in-time recovery),
# tests/replicas/run.sh (read replicas) and tests/package/run.sh (the Debian package).
#
# Sourced, not run. The sourcing script sets TEST_NAME (how its messages begin, "backup test") and
# LIMIT_S (its time limit in seconds, counted from `start_the_clock`), and may define `on_give_up`,
# which `wait_for` calls before failing (to print the cluster's state and logs).

fail() {
  echo "$TEST_NAME: $*" >&2
  exit 1
}

# A test that cannot run here skips with a message, except under CI=true, where that is a failure.
skip_or_fail() {
  [ "${CI:-}" = true ] && fail "$1 (CI=true: failing rather than skipping)"
  echo "skipping the $TEST_NAME: $1" >&2
  exit 0
}

# `need_commands "pg_autoctl" postgresql-15-auto-failover`: when a command of the first argument is
# missing, installs the Debian packages named after it (as root), or skips (or fails under CI).
need_commands() {
  local commands="$1" missing=""
  shift
  for command in $commands; do command -v "$command" >/dev/null || missing="$missing $command"; done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "--- installing $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; } \
      || skip_or_fail "$* cannot be installed"
  else
    skip_or_fail "${missing# } is missing and cannot be installed here (needs root and apt-get)"
  fi
}

# PGBIN: the newest installed PostgreSQL's server binaries (pg_ctl, initdb, postgres).
find_postgres_binaries() {
  local pg_ctl
  pg_ctl="$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$pg_ctl" ] || skip_or_fail "PostgreSQL's server binaries (pg_ctl, initdb) are not installed"
  PGBIN="$(dirname "$(readlink -f "$pg_ctl")")"
}

# DIR: a new temporary directory for clusters, and AS_PG: the command prefix that runs a program as
# the `postgres` user when this script runs as root (PostgreSQL, pg_autoctl and Patroni refuse root).
make_cluster_dir() { # prefix
  DIR="$(mktemp -d "/tmp/$1.XXXXXX")"
  chmod 755 "$DIR"
  AS_PG=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DIR"
    AS_PG=(runuser -u postgres --)
  fi
}

# Refuses to start on a port something already listens on, naming the variable that moves the ports.
# The tests' ports are below Linux's ephemeral range (32768 and up), where an outgoing connection may
# hold any port.
require_free_ports() { # variable port...
  local variable="$1"
  shift
  for port in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port is taken; set $variable"; fi
  done
}

start_the_clock() { STARTED=$(date +%s); }
elapsed() { echo $(($(date +%s) - STARTED)); }

# Waits, within the time limit, until `$@` succeeds.
wait_for() {
  local what="$1"
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(elapsed)" -ge "$LIMIT_S" ]; then
      echo "$TEST_NAME: gave up waiting for $what after $(elapsed) s" >&2
      if declare -F on_give_up >/dev/null; then on_give_up >&2 || true; fi
      exit 1
    fi
    sleep 0.5
  done
}

# The code blocks of one section of docs/OPERATIONS.md (from its `## ` heading to the next), or only
# those of its blocks that mention a word.
docs_blocks() { # heading [word]
  local section
  section=$(awk -v heading="## $1" '$0 == heading {on=1; next} /^## /{on=0} on' docs/OPERATIONS.md)
  [ -n "$section" ] || fail "docs/OPERATIONS.md has no section '$1'"
  printf '%s\n' "$section" | awk -v word="${2:-}" '
    /^```/ { if (inside && (word == "" || block ~ word)) printf "%s", block; inside = !inside; block = ""; next }
    inside { block = block $0 "\n" }'
}

# Every `--option` the docs' blocks show is one the sourcing script uses, so the docs cannot show a
# command the test does not run.
require_options_used() { # blocks
  local options
  options=$(printf '%s\n' "$1" | tr ' ' '\n' | grep -- '^--' | sed 's/=.*//' | sort -u)
  [ -n "$options" ] || fail "docs/OPERATIONS.md shows no command options where this test expects them"
  for option in $options; do
    grep -q -- "$option" "$0" || fail "docs/OPERATIONS.md uses $option, this test does not"
  done
}

# Every setting (`name = value`) the docs' blocks show is one the sourcing script sets.
require_settings_used() { # blocks
  local setting
  for setting in $(printf '%s\n' "$1" | grep -oE '^[a-z_]+ *=' | tr -d ' =' | sort -u); do
    grep -qE -- "^$setting = " "$0" || fail "docs/OPERATIONS.md sets $setting, this test does not"
  done
}

# SANHU_BIN: the sanhu binary given, or built (under SANHU_CARGO_LOCK's lock when set), as an
# absolute path.
use_sanhu_binary() {
  if [ -z "${SANHU_BIN:-}" ]; then
    echo "--- building sanhu"
    ${SANHU_CARGO_LOCK:+flock "$SANHU_CARGO_LOCK"} cargo build --locked -q -p sanhu --bin sanhu
    SANHU_BIN="${CARGO_TARGET_DIR:-target}/debug/sanhu"
  fi
  SANHU_BIN="$(readlink -f "$SANHU_BIN")"
}

# Runs a PostgreSQL program as the cluster's user (see make_cluster_dir), with PGBIN on its PATH.
pg() { "${AS_PG[@]}" env PATH="$PATH" "$@"; }
