#!/usr/bin/env bash
# Fuzz every target (or those named) for SECONDS each, one at a time, then minimise each
# committed corpus together with what the run found (libFuzzer -merge=1, as
# `cargo fuzz cmin` does; inputs named regression-* are always kept). Prints libFuzzer's
# final numbers per target (docs/hardening.md records them). Crashes land in
# fuzz/artifacts/TARGET/.
#
#   fuzz/run.sh [SECONDS] [TARGET...]        (from anywhere; needs nightly + cargo-fuzz)
#
# FUZZ_CPU=1 makes SECONDS a budget of CPU time, not of wall time: the fuzzer runs until
# its own utime+stime (/proc) reaches SECONDS, then is interrupted (libFuzzer prints its
# final numbers on SIGINT) — for runs at `nice -n 19` on a machine busy with other work,
# where wall time says little. Each target's line then also gives the CPU seconds used.
# FUZZ_NO_BUILD=1 skips the build; FUZZ_LOGS names the log folder; FUZZ_MAX_LEN=N
# limits new inputs to N bytes and keeps longer ones out of the merged corpus (to keep
# the committed corpora small). Builds into target/fuzz (inside the stable target dir,
# not a new top-level one).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
tdir="$(cd .. && pwd)/target/fuzz"
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
    cargo +nightly fuzz build --target-dir "$tdir"
fi
work=$(mktemp -d /tmp/warden-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
logs=${FUZZ_LOGS:-/tmp/warden-fuzz-logs}
mkdir -p "$logs"
for t in "${targets[@]}"; do
    bin="$tdir/x86_64-unknown-linux-gnu/release/$t"
    mkdir -p "$work/$t" "$work/$t.min" "corpus/$t" "artifacts/$t"
    log="$logs/$t.log"
    status=0
    limit=()
    if [ -n "${FUZZ_MAX_LEN:-}" ]; then
        limit=(-max_len="$FUZZ_MAX_LEN")
    fi
    wall=$secs
    if [ -n "${FUZZ_CPU:-}" ]; then
        wall=$((secs * 50))
    fi
    "$bin" "$work/$t" "corpus/$t" -max_total_time="$wall" -timeout=10 -rss_limit_mb=2048 \
        "${limit[@]}" -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 &
    pid=$!
    cpu=0
    if [ -n "${FUZZ_CPU:-}" ]; then
        hz=$(getconf CLK_TCK)
        while kill -0 "$pid" 2>/dev/null; do
            ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
            cpu=$((ticks / hz))
            if [ "$cpu" -ge "$secs" ]; then
                kill -INT "$pid" 2>/dev/null || true
                break
            fi
            sleep 5
        done
    fi
    wait "$pid" || status=$?
    if [ -n "${FUZZ_CPU:-}" ] && [ "$cpu" -ge "$secs" ] && grep -q 'run interrupted' "$log"; then
        status=0 # the budget ran out: the interrupt was ours
    fi
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    if [ -z "$done_line" ] && [ "$status" -eq 0 ]; then # interrupted: its last progress line
        done_line=$(grep -E '^#[0-9]+[[:space:]].*cov:' "$log" | tail -1 || true)
    fi
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    crashes=$(find "artifacts/$t" -type f | wc -l)
    echo "$t: exit=$status execs=${execs:-?} cpu_s=${cpu} ${done_line:-no DONE line (crash?)} artifacts=$crashes"
    if [ "$status" -ne 0 ]; then
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -5 || true
    fi
    mkdir -p "$work/$t.all"
    cp "corpus/$t"/* "$work/$t"/* "$work/$t.all/" 2>/dev/null || true
    if [ -n "${FUZZ_MAX_LEN:-}" ]; then
        find "$work/$t.all" -type f -size +"${FUZZ_MAX_LEN}"c ! -name 'regression-*' -delete
    fi
    if "$bin" -merge=1 "$work/$t.min" "$work/$t.all" >"$logs/$t.merge.log" 2>&1; then
        find "corpus/$t" -type f ! -name 'regression-*' -delete
        cp -n "$work/$t.min"/* "corpus/$t/" 2>/dev/null || true
    else
        echo "$t: merge failed (see $logs/$t.merge.log); corpus left as it was"
    fi
    echo "$t: corpus $(find "corpus/$t" -type f | wc -l) files, $(du -sb "corpus/$t" | cut -f1) bytes"
done
