#!/usr/bin/env bash
# Coverage-guided fuzzing of sanhu's parsers from inside: the cargo-fuzz targets of fuzz/ (libFuzzer),
# each run for a bounded time from its seed corpus in fuzz/corpus/<target>/. Fails on any crash: a
# panic, an overflow (debug assertions and overflow checks are on), an allocation over the malloc limit
# or a process over the RSS limit. A crashing input is left in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-...
#
# Environment:
#   SANHU_LIBFUZZER_SECONDS   seconds of fuzzing per target (default 30)
#   SANHU_LIBFUZZER_TARGETS   which targets, space-separated (default: every one `cargo fuzz list` names)
#   SANHU_LIBFUZZER_RSS_MB    libFuzzer's -rss_limit_mb (default 1024)
#   SANHU_LIBFUZZER_MALLOC_MB libFuzzer's -malloc_limit_mb: one allocation this large is a crash (default 256)
#   CARGO_TARGET_DIR          the instrumented build goes to ${CARGO_TARGET_DIR}-fuzz when it is set,
#                             else to $HOME/.cache/sanhu/target-fuzz (kept between runs, like the rest)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${SANHU_LIBFUZZER_SECONDS:-30}"
rss_mb="${SANHU_LIBFUZZER_RSS_MB:-1024}"
malloc_mb="${SANHU_LIBFUZZER_MALLOC_MB:-256}"
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR}-fuzz"
else
  export CARGO_TARGET_DIR="$HOME/.cache/sanhu/target-fuzz"
fi
# cargo-fuzz passes nightly flags (-Zsanitizer, -Cpasses=sancov); the stable toolchain takes them so.
export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL=0
started_at=$SECONDS
log() { printf '[libfuzzer %3ds] %s\n' "$((SECONDS - started_at))" "$*"; }

echo "--- coverage-guided fuzzing (cargo-fuzz): ${seconds} s per target"
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd "$repo"
targets="${SANHU_LIBFUZZER_TARGETS:-$(cargo fuzz list)}"
# The instrumented build, once for every target (debug assertions, so overflow panics).
log "building: $(echo $targets)"
cargo fuzz build --debug-assertions

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in $targets; do
  seeds="fuzz/corpus/$target"
  [[ -d "$seeds" ]] || { log "$target: no seed corpus at $seeds"; failed+=("$target"); continue; }
  # New inputs go to a scratch corpus (listed first); the kept seeds are only read.
  mkdir -p "$scratch/$target" "fuzz/artifacts/$target"
  log "$target: ${seconds} s from $(ls "$seeds" | wc -l) seeds"
  if cargo fuzz run --debug-assertions "$target" "$scratch/$target" "$seeds" -- \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$malloc_mb" \
    -timeout=10 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target/" \
    >"$scratch/$target.log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$scratch/$target.log" | tr '\n' ' '
    echo
  else
    tail -n 60 "$scratch/$target.log"
    log "$target: FAILED (inputs in fuzz/artifacts/$target/)"
    failed+=("$target")
  fi
done

if ((${#failed[@]})); then
  log "failed: ${failed[*]}"
  exit 1
fi
log "every target ran clean"
