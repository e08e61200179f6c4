#!/usr/bin/env sh
# Installs git-credential-entra (see usage() below, or run with --help).
set -eu

# Where --release downloads from: the project's GitHub releases. OWNER is a
# placeholder: the project has no public home yet, so until this line names
# it, --release needs --from (a mirror, an artifact store or a directory).
releases="https://github.com/OWNER/git-credential-entra/releases"

usage() {
    cat <<'EOF'
Usage: install/install.sh [--static|--dynamic] [--prefix DIR] [--binary FILE] [--no-configure]
       install/install.sh --release [VERSION] [--from URL|DIR] [--prefix DIR] [--no-configure]
       install/install.sh --uninstall [--prefix DIR]

Builds git-credential-entra in release mode, installs it to DIR/bin (default
~/.local/bin) with its man page in DIR/share/man/man1 and its bash, zsh and
fish completions under DIR/share, and runs `git-credential-entra configure`,
which prints every change it makes to your global git config (and keeps the
helper lines it replaces, so `git-credential-entra unconfigure` puts them
back). While no identity can answer yet (no config file with an identity, no
credentials `auto` can use here), configure changes nothing, so the
credential helpers you have keep working: write an identity, then run
`git-credential-entra configure` again.

On Linux it builds the static binary (musl: it starts faster and runs on any
distribution) where this machine has what that takes: the Rust target
(`rustup target add x86_64-unknown-linux-musl`, or aarch64-...) and a musl C
compiler (musl-gcc from musl-tools, ARCH-linux-musl-gcc, or cargo-zigbuild
with zig); otherwise the dynamically linked one, saying what the static one
would need.

With --release it builds nothing: it downloads the prebuilt archive for this
machine (Linux or macOS, x86_64 or arm64) and SHA256SUMS, checks the archive
against SHA256SUMS, and only then installs as above. A failed download, a
checksum mismatch or a platform without a prebuilt binary installs nothing.

Prerequisites (checked first, each with its fix): git; for building, Rust and
cargo >= 1.89 (https://rustup.rs) and a C compiler (cc, gcc or clang); for
--release, tar, sha256sum (or shasum) and, unless --from is a directory, curl
or wget.

Options:
  --static         build the static binary, or stop if this machine lacks
                   what that takes (and say what)
  --dynamic        build the dynamically linked binary, without the note
  --prefix DIR     install under DIR (made absolute); default ~/.local
  --binary FILE    install this already-built binary instead of building
                   (e.g. target/release/git-credential-entra)
  --release [VERSION]
                   install a prebuilt release: VERSION, or without one (or
                   `latest`) the latest; with --from, the only version its
                   SHA256SUMS lists for this machine
  --from URL|DIR   with --release: take the archives and SHA256SUMS from this
                   URL or directory (a mirror, an internal artifact store,
                   a dist/ directory) instead of the project's releases
  --no-configure   do not touch the git config
  --uninstall      run `unconfigure`, then remove what install put there
  -h, --help       this text
EOF
}

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

prefix="${HOME:?HOME is not set}/.local"
binary=""
configure=1
uninstall=0
release=0
release_version=""
from=""
link=auto
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary="$2"; shift 2 ;;
        --binary=*) binary="${1#--binary=}"; shift ;;
        --release=*) release=1; release_version="${1#--release=}"; shift ;;
        --release)
            release=1; shift
            # The version is optional: the next word, unless it is an option.
            case "${1:-}" in -*|"") ;; *) release_version="$1"; shift ;; esac ;;
        --from) [ $# -ge 2 ] || die "--from needs a URL or a directory"; from="$2"; shift 2 ;;
        --from=*) from="${1#--from=}"; shift ;;
        --static) link=static; shift ;;
        --dynamic) link=dynamic; shift ;;
        --no-configure) configure=0; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'install.sh: unknown option %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || die "--prefix needs a directory"
if [ "$link" != auto ] && { [ "$release" = 1 ] || [ -n "$binary" ]; }; then
    die "--$link chooses what install.sh builds; with --release or --binary it builds nothing: leave it out"
fi
if [ "$release" = 1 ]; then
    [ -z "$binary" ] || die "--release and --binary exclude each other: use one"
    release_version="${release_version#v}"
    [ "$release_version" != latest ] || release_version=""
    case "$release_version" in
        *[!0-9A-Za-z.+-]*) die "--release $release_version: not a version (like 1.2.0)" ;;
    esac
elif [ -n "$from" ]; then
    die "--from goes with --release (install/install.sh --release --from $from)"
fi

# Where each file goes, under an absolute prefix (a relative one would put a
# broken path in the git config). The prefix must exist first.
locate() {
    prefix=$(cd "$prefix" && pwd -P)
    bindir="$prefix/bin"
    mandir="$prefix/share/man/man1"
    bin="$bindir/git-credential-entra"
    man="$mandir/git-credential-entra.1"
    # Where bash-completion, zsh (site-functions) and fish look under a prefix.
    bash_completion="$prefix/share/bash-completion/completions/git-credential-entra"
    zsh_completion="$prefix/share/zsh/site-functions/_git-credential-entra"
    fish_completion="$prefix/share/fish/vendor_completions.d/git-credential-entra.fish"
}

if [ "$uninstall" = 1 ]; then
    if [ ! -d "$prefix" ]; then
        say "nothing installed under $prefix"
        exit 0
    fi
    locate
    if [ -x "$bin" ]; then
        say "removing the git config that configure wrote"
        "$bin" unconfigure || die "unconfigure failed; the binary is left in place so you can retry: $bin unconfigure"
    else
        say "no binary at $bin; not touching the git config"
    fi
    removed=0
    for f in "$bin" "$man" "$bash_completion" "$zsh_completion" "$fish_completion"; do
        if [ -e "$f" ]; then
            rm -f "$f" && say "removed $f" && removed=1
        fi
    done
    [ "$removed" = 1 ] || say "nothing to remove under $prefix"
    # Directories this script created, only if nothing else lives there.
    for d in "$mandir" "$prefix/share/man" \
        "$prefix/share/bash-completion/completions" "$prefix/share/bash-completion" \
        "$prefix/share/zsh/site-functions" "$prefix/share/zsh" \
        "$prefix/share/fish/vendor_completions.d" "$prefix/share/fish" \
        "$prefix/share" "$bindir"; do
        rmdir "$d" 2>/dev/null || true
    done
    # Completion scripts written by hand where the docs suggest (outside the prefix) stay.
    for f in "${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion/completions/git-credential-entra" \
        "${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions/git-credential-entra.fish"; do
        [ ! -e "$f" ] || say "stays: $f (a completion script install.sh did not write; delete it if you no longer want it)"
    done
    exit 0
fi

# --release: the archive for this machine, fetched and checked. These only
# define functions; they run after the option checks below.

# This machine's release target (the archives' {target}), or one line and exit.
release_target() {
    os=$(uname -s) arch=$(uname -m)
    case "$arch" in
        x86_64|amd64) arch=x86_64 ;;
        aarch64|arm64) arch=aarch64 ;;
        *) arch="" ;;
    esac
    case "$os" in
        Linux) os=unknown-linux-musl ;;
        Darwin) os=apple-darwin ;;
        MINGW*|MSYS*|CYGWIN*) die "on Windows, install the release with PowerShell: install/install.ps1 -Release" ;;
        *) os="" ;;
    esac
    [ -n "$arch" ] && [ -n "$os" ] ||
        die "no prebuilt binary for $(uname -s) $(uname -m) (there are for Linux and macOS on x86_64 and arm64). Fix: build from source: install/install.sh without --release"
    target="$arch-$os"
}

release_prerequisites() {
    release_target
    case "$from" in
        ""|*://*)
            if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
                printf 'install.sh: missing curl or wget (downloads the release). Fix: apt-get install curl (or wget), or --from a directory holding the archive and SHA256SUMS\n' >&2
                missing=1
            fi ;;
    esac
    need tar "unpacks the release archive" "apt-get install tar"
    if ! command -v sha256sum >/dev/null 2>&1 && ! command -v shasum >/dev/null 2>&1; then
        printf 'install.sh: missing sha256sum or shasum (checks the download). Fix: apt-get install coreutils (macOS has shasum)\n' >&2
        missing=1
    fi
}

# Copies $1 (a name under $source) to the file $2: from a directory, or with
# curl or wget, each bounded in time; one line if that fails.
release_get() {
    case "$source" in
        *://*)
            if command -v curl >/dev/null 2>&1; then
                err=$(curl -fsSL --connect-timeout 20 --max-time 600 -o "$2" "$source/$1" 2>&1) ||
                    die "cannot download $source/$1 (${err:-curl failed}). Fix: check the version and --from, or the network"
            else
                wget -q --timeout=20 --tries=2 -O "$2" "$source/$1" 2>/dev/null || {
                    # wget -q says nothing: its exit status says what failed.
                    rc=$?
                    case $rc in
                        4) err="no network connection" ;;
                        8) err="the server answered with an error, such as 404 Not Found" ;;
                        *) err="exit status $rc" ;;
                    esac
                    die "cannot download $source/$1 (wget: $err). Fix: check the version and --from, or the network"
                }
            fi ;;
        *)
            [ -f "$source/$1" ] || die "no $1 in $source. Fix: point --from at the directory holding the archives and SHA256SUMS"
            cp "$source/$1" "$2" || die "cannot copy $source/$1" ;;
    esac
}

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

# Downloads SHA256SUMS and this machine's archive into a temporary directory,
# checks the archive, unpacks it and sets $binary to the binary in it.
release_fetch() {
    if [ -n "$from" ]; then
        source="${from%/}"
        case "$source" in
            *://*) ;;
            *) [ -d "$source" ] || die "--from $from: no such directory (nor a URL)" ;;
        esac
    else
        case "$releases" in
            */OWNER/*) die "this copy of install.sh names no download location yet (the project has no public releases page). Fix: --from URL|DIR, where the archives and SHA256SUMS are" ;;
        esac
        if [ -n "$release_version" ]; then
            source="$releases/download/v$release_version"
        else
            source="$releases/latest/download"
        fi
    fi
    tmp=$(mktemp -d) || die "cannot create a temporary directory"
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' HUP INT TERM
    release_get SHA256SUMS "$tmp/SHA256SUMS"
    # "<hex>  <name>" lines (or "<hex> *<name>"), perhaps with CRLF endings.
    sums=$(tr -d '\r' < "$tmp/SHA256SUMS" | sed -n "s/^\([0-9a-fA-F]\{64\}\) [ *]\(git-credential-entra-.*-$target\.tar\.gz\)\$/\1 \2/p")
    if [ -n "$release_version" ]; then
        name="git-credential-entra-$release_version-$target.tar.gz"
        sums=$(printf '%s\n' "$sums" | awk -v n="$name" '$2 == n { print; exit }')
        [ -n "$sums" ] || die "SHA256SUMS at $source has no $name, so nothing was installed. Fix: check the version (the archives there are listed in SHA256SUMS)"
    else
        [ -n "$sums" ] || die "SHA256SUMS at $source lists no archive for $target, so nothing was installed"
        [ "$(printf '%s\n' "$sums" | wc -l)" -eq 1 ] ||
            die "SHA256SUMS at $source lists several versions for $target. Fix: name one: --release VERSION"
    fi
    expected=${sums%% *}
    name=${sums#* }
    release_get "$name" "$tmp/$name"
    actual=$(sha256 "$tmp/$name")
    [ "$actual" = "$(printf '%s' "$expected" | tr 'A-F' 'a-f')" ] ||
        die "$name does not match its SHA256SUMS entry (a corrupted or altered download), so nothing was installed. Fix: download again; if it persists, report it"
    mkdir "$tmp/unpacked" && tar -xzf "$tmp/$name" -C "$tmp/unpacked" ||
        die "cannot unpack $name"
    stem=${name%.tar.gz}
    for binary in "$tmp/unpacked/$stem/git-credential-entra" "$tmp/unpacked/git-credential-entra"; do
        [ ! -f "$binary" ] || break
    done
    say "checked $name against SHA256SUMS from $source"
}

# The static binary (Linux): its target and the toolchain that builds it
# here (scripts/static-build.sh, shared with scripts/dist.sh), or, when
# something is missing, the note saying how to get it (--static: a missing
# prerequisite).
static_target="" static_with="" static_note=""
static_prerequisites() {
    [ "$link" != dynamic ] || return 0
    static_target=$(static_host_target)
    if [ -z "$static_target" ]; then
        [ "$link" = auto ] ||
            die "--static: no static build for $(uname -s) $(uname -m) (only for Linux on x86_64 or arm64). Fix: leave out --static"
        return 0
    fi
    command -v rustc >/dev/null 2>&1 || return 0
    fixes=$(static_missing "$static_target")
    if [ -z "$fixes" ]; then
        static_with=$(static_toolchain "$static_target")
    elif [ "$link" = static ]; then
        printf 'install.sh: missing the musl target or a musl C compiler (--static builds with them). Fix: %s\n' "$fixes" >&2
        missing=1
    else
        static_note="building the dynamically linked binary: the static one (faster to start, runs on any Linux) needs the musl target and a musl C compiler. Fix: $fixes, then run install.sh again"
    fi
}

# Prerequisites, each with its fix, before anything is built or written.
missing=0
need() { # command, what it is for, fix
    if ! command -v "$1" >/dev/null 2>&1; then
        printf 'install.sh: missing %s (%s). Fix: %s\n' "$1" "$2" "$3" >&2
        missing=1
    fi
}
need git "git runs the helper" "install git (apt-get install git, brew install git, ...)"
here=$(cd "$(dirname "$0")/.." && pwd -P)
if [ "$release" = 1 ]; then
    release_prerequisites
elif [ -z "$binary" ]; then
    . "$here/scripts/static-build.sh"
    need cargo "builds the helper" "install Rust >= 1.89 from https://rustup.rs"
    if command -v cargo >/dev/null 2>&1; then
        version=$(cargo --version | sed -n 's/^cargo \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
        set -- $version
        if [ $# -ne 2 ] || [ "$1" -lt 1 ] || { [ "$1" -eq 1 ] && [ "$2" -lt 89 ]; }; then
            printf 'install.sh: %s is too old; 1.89 or newer is needed. Fix: rustup update stable\n' "$(cargo --version)" >&2
            missing=1
        fi
    fi
    if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1 && ! command -v clang >/dev/null 2>&1; then
        printf 'install.sh: missing a C compiler (cc, gcc or clang; the crypto and keyring crates compile C). Fix: apt-get install build-essential, or xcode-select --install on macOS\n' >&2
        missing=1
    fi
    static_prerequisites
fi
[ "$missing" = 0 ] || exit 1

# Everything is downloaded and checked in a temporary directory before the
# prefix is touched, so a failure leaves nothing there.
[ "$release" = 0 ] || release_fetch

mkdir -p "$prefix" || die "cannot create $prefix"
locate

if [ -z "$binary" ]; then
    if [ -n "$static_with" ]; then
        say "building the static binary ($static_target, with $static_with) in release mode (a few minutes the first time; cargo shows its progress)"
        binary=$(cd "$here" && static_build "$static_target" "$static_with") ||
            die "the build failed (see above). Fix: the cause above, or build the dynamically linked binary: install/install.sh --dynamic"
    else
        [ -z "$static_note" ] || say "$static_note"
        say "building in release mode (a few minutes the first time; cargo shows its progress)"
        binary=$(cd "$here" && cargo build --release --locked >&2 && cargo_target_dir) ||
            die "the build failed (see above)"
        binary="$binary/release/git-credential-entra"
    fi
fi
[ -f "$binary" ] && [ -x "$binary" ] || die "no executable at $binary"

mkdir -p "$bindir" "$mandir"
# Copy then rename: a running git never sees a half-written helper.
cp "$binary" "$bin.tmp.$$" && chmod 755 "$bin.tmp.$$" && mv -f "$bin.tmp.$$" "$bin"
say "installed $bin ($("$bin" --version))"
"$bin" manpage > "$man.tmp.$$" && mv -f "$man.tmp.$$" "$man"
say "installed the man page $man"
for pair in "bash $bash_completion" "zsh $zsh_completion" "fish $fish_completion"; do
    shell=${pair%% *}
    file=${pair#* }
    mkdir -p "$(dirname "$file")" &&
        "$bin" completions "$shell" > "$file.tmp.$$" && mv -f "$file.tmp.$$" "$file" ||
        die "cannot write the $shell completions to $file"
done
say "installed completions for bash, zsh and fish under $prefix/share (zsh needs fpath+=($prefix/share/zsh/site-functions) in ~/.zshrc, before compinit)"

if [ "$configure" = 1 ]; then
    # With the prefix on PATH, configure writes `helper = entra`; otherwise
    # the absolute path. While no identity can answer it writes nothing and
    # says what to do (exit 0): the helpers the user had keep working.
    "$bin" configure || die "configure failed; fix the cause above and run: $bin configure"
fi

case ":$PATH:" in
    *":$bindir:"*) ;;
    *)
        say "$bindir is not on your PATH, so commands like 'git-credential-entra configure' are not found."
        say "Fix: add this line to your ~/.profile (or ~/.bashrc, ~/.zshrc) and open a new shell:"
        printf '    export PATH="%s:$PATH"\n' "$bindir"
        ;;
esac
case ":${MANPATH:-}:" in
    *":$prefix/share/man:"*|"::") ;;
    *) say "man git-credential-entra may need: export MANPATH=\"$prefix/share/man:\$MANPATH\"" ;;
esac
