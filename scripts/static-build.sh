# Sourced, not run, by scripts/dist.sh, scripts/benchmarks.sh and
# install/install.sh: how this machine builds the static Linux binary (musl),
# and the flags that keep this machine's paths out of a release binary. POSIX
# sh, since install.sh runs under sh; its names start with static_, release_
# or cargo_.
# Run from the top of the source tree.

# The musl target of this machine's architecture; nothing when there is no
# static release for it (not Linux, or another architecture).
static_host_target() {
    [ "$(uname -s)" = Linux ] || return 0
    case "$(uname -m)" in
        x86_64|amd64) echo x86_64-unknown-linux-musl ;;
        aarch64|arm64) echo aarch64-unknown-linux-musl ;;
    esac
}

# Whether rustc has the standard library for the target $1 (added with
# `rustup target add`, or a distribution's package of it).
static_has_rust_target() {
    static_libdir=$(rustc --print target-libdir --target "$1" 2>/dev/null) &&
        ls "$static_libdir"/libstd-* >/dev/null 2>&1
}

# The C toolchain that builds the musl target $1 here, printed: `zigbuild`
# (cargo-zigbuild and zig, the release toolchain: zig brings its own musl for
# every architecture), else a musl C compiler: ARCH-linux-musl-gcc, or
# musl-gcc (Debian's musl-tools) on a machine of that architecture. Prints
# nothing when there is none.
static_toolchain() {
    static_arch=${1%%-*}
    if command -v cargo-zigbuild >/dev/null 2>&1 && command -v zig >/dev/null 2>&1; then
        echo zigbuild
    elif command -v "$static_arch-linux-musl-gcc" >/dev/null 2>&1; then
        echo "$static_arch-linux-musl-gcc"
    elif [ "$(uname -m)" = "$static_arch" ] && command -v musl-gcc >/dev/null 2>&1; then
        echo musl-gcc
    fi
}

# What this machine lacks to build the musl target $1 as the fixes, `; `
# between them; nothing when it lacks nothing.
static_missing() {
    static_fix=""
    static_has_rust_target "$1" || static_fix="rustup target add $1"
    [ -n "$(static_toolchain "$1")" ] ||
        static_fix="${static_fix:+$static_fix; }apt-get install musl-tools (or your distribution's musl package)"
    printf '%s' "$static_fix"
}

# Cargo's target directory (CARGO_TARGET_DIR, a config file, or target/).
cargo_target_dir() {
    cargo_dir=$(cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    [ -n "$cargo_dir" ] && printf '%s\n' "$cargo_dir"
}

# Sets release_target_dir (cargo's target directory) and release_rustflags,
# and exports CFLAGS and SOURCE_DATE_EPOCH, so that no path of this machine reaches a release
# binary: the source tree, cargo's home (registry sources in panic
# locations) and the target directory (build-script output, the C objects of
# ring and libdbus) are mapped to fixed names, for rustc and the C compiler
# alike; and symbols are stripped (not needed to run; nothing a user can
# use). A path with a blank in it is left as it is: RUSTFLAGS and CFLAGS are
# split at blanks. Once per shell: a second call changes nothing.
release_flags() {
    [ -z "${release_rustflags:-}" ] || return 0
    release_target_dir=$(cargo_target_dir) || return 1
    release_rustflags=""
    static_cmap=""
    for static_pair in "$PWD=/src" "${CARGO_HOME:-$HOME/.cargo}=/cargo" "$release_target_dir=/target"; do
        case "$static_pair" in *[[:space:]]*) continue ;; esac
        release_rustflags="$release_rustflags--remap-path-prefix=$static_pair "
        static_cmap="${static_cmap:+$static_cmap }-ffile-prefix-map=$static_pair"
    done
    release_rustflags="$release_rustflags-C strip=symbols"
    CFLAGS="${CFLAGS:+$CFLAGS }$static_cmap"
    export CFLAGS
    # The time any tool stamps (archives; C's __DATE__) is the commit's. The
    # C crates' build scripts watch it, so every release build sets it alike
    # (or cargo would rebuild them between dist.sh and install.sh).
    if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
        SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) || SOURCE_DATE_EPOCH=""
    fi
    [ -z "$SOURCE_DATE_EPOCH" ] || export SOURCE_DATE_EPOCH
}

# Builds the release binary for the musl target $1 with the toolchain $2
# (what static_toolchain printed) and the release flags; further arguments go
# to cargo. Prints the binary's path; cargo's output goes to stderr.
static_build() {
    static_target=$1 static_tc=$2
    shift 2
    release_flags || return 1
    static_env=$(printf '%s' "$static_target" | tr 'a-z-' 'A-Z_')
    case "$static_tc" in
        zigbuild)
            # zig cc compiles and links against its own musl.
            RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$release_rustflags" \
                cargo zigbuild --locked --release --target "$static_target" "$@" >&2 ;;
        *)
            # The C of ring and the vendored libdbus needs musl's headers: the
            # musl compiler. rustc links with its own musl (crt-static, the
            # default of the musl targets) through the host's cc, unless the
            # target is another architecture: then the cross compiler links.
            (
                if [ "$(uname -m)" != "${static_target%%-*}" ]; then
                    export "CARGO_TARGET_${static_env}_LINKER=$static_tc"
                fi
                export "CC_$(printf '%s' "$static_target" | tr - _)=$static_tc"
                RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$release_rustflags" \
                    cargo build --locked --release --target "$static_target" "$@" >&2
            ) ;;
    esac || return 1
    echo "$release_target_dir/$static_target/release/git-credential-entra"
}
