#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for a while and prints,
# per target: total runs, execs/s, coverage (edges) and features, corpus size,
# and crashes. New inputs go into fuzz/corpus/<target>; --minimize then
# shrinks each corpus with `cargo fuzz cmin` so the checked-in copy stays small.
#
#   scripts/fuzz.sh [--seconds N] [--minimize] [target...]
#
# Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-60}"
minimize=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --minimize) minimize=1; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
# The targets make no network calls; keep any stray managed-identity probe local anyway.
export AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:9

cargo +nightly fuzz build
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
status=0
rows=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    echo "== $t: ${seconds}s" >&2
    if ! cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -close_fd_mask=3 \
        >"$logs/$t.log" 2>&1; then
        status=1
        tail -n 30 "$logs/$t.log" >&2
    fi
    crashes=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    if [ "$minimize" = 1 ] && [ "$crashes" = 0 ]; then
        # A set cover keeps fewer inputs than a plain merge for the same features.
        cargo +nightly fuzz cmin "$t" "corpus/$t" -- -set_cover_merge=1 >"$logs/$t.cmin.log" 2>&1 || status=1
    fi
    files=$(find "corpus/$t" -type f | wc -l)
    kb=$(du -sk --apparent-size "corpus/$t" | cut -f1)
    rows+=("$(printf '%-15s %10s %9s %6s %7s %6s %7s %7s' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$files" "${kb}K" "$crashes")")
done
printf '%-15s %10s %9s %6s %7s %6s %7s %7s\n' target runs execs/s cov ft inputs corpus crashes
printf '%s\n' "${rows[@]}"
if [ "$status" != 0 ]; then
    echo "a target failed: its input is under fuzz/artifacts/<target>/ (rerun: cargo +nightly fuzz run <target> <file>)" >&2
fi
exit "$status"
