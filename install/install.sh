#!/usr/bin/env sh
# Installs git-credential-entra (see usage() below, or run with --help).
set -eu

usage() {
    cat <<'EOF'
Usage: install/install.sh [--prefix DIR] [--binary FILE] [--no-configure]
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

Prerequisites (checked first, each with its fix): git; for building, Rust and
cargo >= 1.89 (https://rustup.rs) and a C compiler (cc, gcc or clang).

Options:
  --prefix DIR     install under DIR (made absolute); default ~/.local
  --binary FILE    install this already-built binary instead of building
                   (e.g. target/release/git-credential-entra)
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
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary="$2"; shift 2 ;;
        --binary=*) binary="${1#--binary=}"; shift ;;
        --no-configure) configure=0; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'install.sh: unknown option %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || die "--prefix needs a directory"

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
if [ -z "$binary" ]; then
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
fi
[ "$missing" = 0 ] || exit 1

mkdir -p "$prefix" || die "cannot create $prefix"
locate

if [ -z "$binary" ]; then
    say "building in release mode (a few minutes the first time; cargo shows its progress)"
    (cd "$here" && cargo build --release --locked) || die "the build failed (see above)"
    binary="$here/target/release/git-credential-entra"
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
