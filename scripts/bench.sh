#!/usr/bin/env bash
# Runs the latency benchmark (benches/latency.rs) from the repository root.
# When there is no D-Bus session but dbus-run-session and gnome-keyring-daemon
# exist, it runs inside a throwaway session bus with an unlocked keyring whose
# files live in a temporary directory, so the Secret Service figures are
# measured too. Extra arguments go to `cargo bench`.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]] &&
    command -v dbus-run-session >/dev/null &&
    command -v gnome-keyring-daemon >/dev/null; then
    # The keyring's files go to a temporary directory, not ~. gnome-keyring only
    # creates the login keyring (the default collection) for a non-empty
    # password; this one guards a throwaway keyring that is deleted afterwards.
    keyring_home="$(mktemp -d)"
    trap 'rm -rf "$keyring_home"' EXIT
    XDG_DATA_HOME="$keyring_home" dbus-run-session -- bash -c '
        set -euo pipefail
        printf "bench" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        cargo bench --bench latency "$@"
    ' bash "$@"
else
    cargo bench --bench latency "$@"
fi
