#!/usr/bin/env bash
# Builds the release artifacts into dist/: one archive per target holding the
# binary, LICENSE, README.md, the man page and the shell completions, and
# dist/SHA256SUMS (the format `sha256sum -c` reads).
#
#   scripts/dist.sh [--targets "x86_64-unknown-linux-musl aarch64-unknown-linux-musl ..."]
#
# The archives are byte-for-byte reproducible from the same commit
# (CONTRIBUTING.md, "Release artifacts"): every timestamp is the commit's
# time, entries are sorted, owner and mode fixed, and no path of the build
# machine reaches the binaries.
# Needs: the Rust targets (`rustup target add`), cargo-zigbuild and zig (the C and
# link toolchain of both musl targets), mingw-w64 (Windows), tar, gzip, zip.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-pc-windows-gnu"
while [ $# -gt 0 ]; do
    case "$1" in
        --targets) targets="${2:?--targets needs a list of targets}"; shift 2 ;;
        --targets=*) targets="${1#--targets=}"; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "dist.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

name=git-credential-entra
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || { echo "dist.sh: no version in Cargo.toml" >&2; exit 1; }
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
export SOURCE_DATE_EPOCH TZ=UTC LC_ALL=C
. scripts/static-build.sh
release_flags
target_dir=$release_target_dir

build() { # target -> path of the built binary
    local target=$1
    case "$target" in
        *-linux-musl)
            # One toolchain, pinned, for both arches (CONTRIBUTING.md, "Release artifacts").
            command -v cargo-zigbuild >/dev/null && command -v zig >/dev/null ||
                { echo "dist.sh: $target needs cargo-zigbuild and zig (see .ci/run)" >&2; return 1; }
            static_build "$target" zigbuild --quiet ;;
        *-windows-gnu)
            # GNU ld writes the build time into the PE header unless told not
            # to, and lays out the import tables by file name (the linker
            # wrapper makes the names the same wherever the target directory is).
            DIST_TARGET_DIR=$target_dir \
                CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER="$PWD/scripts/windows-gnu-link" \
                RUSTFLAGS="$release_rustflags -C link-arg=-Wl,--no-insert-timestamp" \
                cargo build --quiet --locked --release --target "$target"
            echo "$target_dir/$target/release/$name.exe" ;;
        *)
            RUSTFLAGS="$release_rustflags" cargo build --quiet --locked --release --target "$target"
            echo "$target_dir/$target/release/$name" ;;
    esac
}

# The man page and completions come from a binary that runs here: the x86_64
# musl one when it is built, otherwise the host's.
docs_from=""
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf dist
mkdir -p dist
for target in $targets; do
    echo "dist.sh: building $target" >&2
    bin=$(build "$target")
    case "$target" in x86_64-unknown-linux-*) docs_from=$bin ;; esac
    printf '%s %s\n' "$target" "$bin" >>"$stage/built"
done
if [ -z "$docs_from" ]; then
    echo "dist.sh: building the host binary (for the man page and completions)" >&2
    cargo build --quiet --locked --release
    docs_from="$target_dir/release/$name"
fi

docs="$stage/docs"
mkdir -p "$docs/completions"
"$docs_from" manpage >"$docs/$name.1"
"$docs_from" completions bash >"$docs/completions/$name.bash"
"$docs_from" completions zsh >"$docs/completions/_$name"
"$docs_from" completions fish >"$docs/completions/$name.fish"
"$docs_from" completions powershell >"$docs/completions/$name.ps1"
cp LICENSE README.md "$docs/"

while read -r target bin; do
    base="$name-$version-$target"
    dir="$stage/$base"
    cp -R "$docs" "$dir"
    cp "$bin" "$dir/"
    # Fixed modes and times whatever this machine's umask and clock.
    find "$dir" -type d -exec chmod 0755 {} +
    find "$dir" -type f -exec chmod 0644 {} +
    chmod 0755 "$dir/$(basename "$bin")"
    find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    case "$target" in
        *-windows-*)
            # zip -X: no extra fields (uid/gid, extended times); names sorted.
            (cd "$stage" && find "$base" -print | sort | zip -q -X -D -@ "$OLDPWD/dist/$base.zip") ;;
        *)
            tar -C "$stage" --sort=name --mtime="@$SOURCE_DATE_EPOCH" \
                --owner=0 --group=0 --numeric-owner --format=gnu -cf - "$base" |
                gzip -n -9 >"dist/$base.tar.gz" ;;
    esac
done <"$stage/built"

(cd dist && find . -maxdepth 1 -type f \( -name '*.tar.gz' -o -name '*.zip' \) -printf '%P\n' |
    sort | xargs sha256sum -- >SHA256SUMS)
cat dist/SHA256SUMS
