#!/usr/bin/env sh
# Builds git-credential-entra in release mode, installs it, and routes Azure
# DevOps remotes to it in your global git config.
#
#   install/install.sh [--prefix DIR] [--no-configure]
#
# The binary goes to DIR/bin (default ~/.local/bin). The git config written
# is, for https://dev.azure.com and https://*.visualstudio.com: an empty
# `helper =` (so no other helper answers first with a stale token),
# `helper = entra` (or the absolute path when DIR/bin is not on PATH), and
# `useHttpPath = true` (the organization is in the URL path). Running it again
# changes nothing.
set -eu

prefix="${HOME:?HOME is not set}/.local"
configure=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --no-configure) configure=0; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")/.." && pwd)
command -v cargo >/dev/null 2>&1 || { echo "install.sh: cargo is needed (https://rustup.rs)" >&2; exit 1; }
cargo install --quiet --locked --force --path "$here" --root "$prefix"
bin="$prefix/bin/git-credential-entra"
echo "installed $bin"

[ "$configure" = 1 ] || exit 0
if [ "$(command -v git-credential-entra 2>/dev/null)" = "$bin" ]; then
    helper=entra
else
    case "$bin" in
        *" "*) helper="!'$bin'" ;;
        *) helper="$bin" ;;
    esac
    echo "note: $prefix/bin is not on PATH; git will run the helper by its absolute path"
fi
for url in https://dev.azure.com 'https://*.visualstudio.com'; do
    git config --global --unset-all "credential.$url.helper" 2>/dev/null || true
    git config --global --add "credential.$url.helper" ""
    git config --global --add "credential.$url.helper" "$helper"
    git config --global --replace-all "credential.$url.useHttpPath" true
done
echo "configured git: Azure DevOps remotes now use git-credential-entra ($helper)"
