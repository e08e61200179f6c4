#!/usr/bin/env bash
# Regenerates docs/benchmarks.md: builds the release profile, runs the soak and fault
# tests (for their targets) and the report bench (benches/report/), which measures
# everything in one run against local fakes on loopback and writes the file.
#
#   scripts/benchmarks.sh [--no-suite] [--with-az] [--out FILE]
#
# The cached `get` rows time the static (musl) release build beside the dynamic one:
# GIT_CREDENTIAL_ENTRA_BENCH_STATIC=FILE names it; otherwise it is built here when the
# musl target and a musl C compiler are present (see install/install.sh), and its rows
# are skipped, saying why, when not. GIT_CREDENTIAL_ENTRA_BENCH_OTHER=FILE adds rows for
# any other build.
#
# --no-suite  skip the soak and fault tests (their target then reads "not run")
# --with-az   also time `az account get-access-token` (uses your real sign-in)
# --out FILE  write the report there instead of docs/benchmarks.md
#
# Needs cargo and git. Optional Debian packages, each adding rows (missing ones are
# named and their rows skipped): git-credential-oauth, dbus and gnome-keyring (the
# Secret Service rows: the script starts a throwaway session bus and keyring whose
# files live in a temporary directory), openssl (certificate identities), binutils
# (`strip`, for the stripped size), curl (its token request through the proxy, next to
# the helper's). It installs nothing.
set -euo pipefail

cd "$(dirname "$0")/.."

out=docs/benchmarks.md
suite=1
az=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-suite) suite=0 ;;
        --with-az) az=1 ;;
        --out) out="$2"; shift ;;
        *) echo "usage: $0 [--no-suite] [--with-az] [--out FILE]" >&2; exit 64 ;;
    esac
    shift
done

for need in cargo git; do
    command -v "$need" >/dev/null || { echo "benchmarks: $need is required" >&2; exit 1; }
done
for pair in git-credential-oauth:git-credential-oauth dbus-run-session:dbus \
    gnome-keyring-daemon:gnome-keyring openssl:openssl strip:binutils curl:curl; do
    command -v "${pair%%:*}" >/dev/null ||
        echo "benchmarks: ${pair%%:*} not found (Debian package ${pair#*:}); its rows are skipped" >&2
done

# A managed identity never reaches the real IMDS from a run of this script.
export AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:9
export GIT_CREDENTIAL_ENTRA_BENCH_AZ="$az"
mkdir -p "$(dirname "$out")"
GIT_CREDENTIAL_ENTRA_BENCH_REPORT="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
export GIT_CREDENTIAL_ENTRA_BENCH_REPORT

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

echo "benchmarks: building the release profile" >&2
cargo build --release --quiet
# The static (musl) build, timed beside the dynamic one: GIT_CREDENTIAL_ENTRA_BENCH_STATIC
# names a binary, or it is built here as install.sh and dist.sh build it.
. scripts/static-build.sh
if [[ -z "${GIT_CREDENTIAL_ENTRA_BENCH_STATIC:-}" ]]; then
    static_target=$(static_host_target)
    fixes=$([[ -z $static_target ]] || static_missing "$static_target")
    if [[ -z $static_target ]]; then
        echo "benchmarks: no static build for $(uname -s) $(uname -m); its rows are skipped" >&2
    elif [[ -n $fixes ]]; then
        echo "benchmarks: no static build here (fix: $fixes); its rows are skipped" >&2
    else
        echo "benchmarks: building the static binary ($static_target)" >&2
        # In a subshell (the release flags change CFLAGS, which the host build watches).
        GIT_CREDENTIAL_ENTRA_BENCH_STATIC=$(static_build "$static_target" "$(static_toolchain "$static_target")" --quiet)
    fi
fi
export GIT_CREDENTIAL_ENTRA_BENCH_STATIC="${GIT_CREDENTIAL_ENTRA_BENCH_STATIC:-}"
cargo bench --bench report --no-run --quiet

# Tests whose names contain one of these words carry the soak and fault targets.
suite_filters=(soak:: faults::)
if [[ $suite == 1 ]]; then
    # Their own assertions are the targets' checks; the test build is the one
    # `cargo test` makes anyway.
    echo "benchmarks: running the soak and fault tests" >&2
    cargo test --quiet --test it --no-run
    cargo test --test it -- --include-ignored "${suite_filters[@]}" >"$scratch/suite.txt" 2>&1 || true
    export GIT_CREDENTIAL_ENTRA_BENCH_SUITE="$scratch/suite.txt"
fi

run_bench() {
    cargo bench --quiet --bench report
}

if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]] &&
    command -v dbus-run-session >/dev/null &&
    command -v gnome-keyring-daemon >/dev/null; then
    # gnome-keyring only creates the login keyring (the default collection) for a
    # non-empty password; this one guards a throwaway keyring deleted afterwards.
    mkdir -p "$scratch/keyring"
    export -f run_bench
    XDG_DATA_HOME="$scratch/keyring" dbus-run-session -- bash -c '
        set -euo pipefail
        printf "bench" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        run_bench
    '
else
    run_bench
fi
echo "benchmarks: wrote $out" >&2
