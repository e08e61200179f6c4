//! install/install.sh building from source: the static binary (musl) where
//! this machine has the musl target and a musl C compiler, otherwise the
//! dynamically linked one and a line saying how to get the static one;
//! `--static` stops, before anything is written, when something is missing.
//!
//! The two tests that build are ignored by default (each is a release
//! build: minutes); CI runs them in the static builds lane, after
//! `scripts/dist.sh`, with `cargo test --test it install_static:: --
//! --ignored` (see `.ci/run`). The static build there is the one dist.sh
//! made (the same script, flags and caches), so it compiles nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{RunOutput, TestEnv, cargo};

/// A release build from nothing on a busy machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(1500);

fn script() -> String {
    format!("{}/install/install.sh", env!("CARGO_MANIFEST_DIR"))
}

/// Whether the ELF file at `path` asks for a program interpreter (the
/// dynamic loader): a `PT_INTERP` program header. A static (or static-pie)
/// executable has none.
fn has_interpreter(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let elf = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        elf.starts_with(b"\x7fELF"),
        "{} is no ELF file",
        path.display()
    );
    assert_eq!(elf[4], 2, "a 64-bit ELF file");
    assert_eq!(elf[5], 1, "a little-endian ELF file");
    let int = |at: usize, len: usize| {
        elf[at..at + len]
            .iter()
            .rev()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b))
    };
    // e_phoff, e_phentsize, e_phnum; then each header's p_type.
    let (phoff, phentsize, phnum) = (int(0x20, 8), int(0x36, 2), int(0x38, 2));
    (0..phnum).any(|i| int(phoff + i * phentsize, 4) == PT_INTERP as usize)
}

/// A directory of links to every program on PATH but the musl C compilers
/// and zig (`musl-gcc`, `*-linux-musl-gcc`, `zig`, `cargo-zigbuild`): the
/// PATH of a machine without them.
fn path_without_musl(env: &TestEnv) -> PathBuf {
    let hidden = |name: &str| {
        name == "musl-gcc"
            || name.ends_with("-linux-musl-gcc")
            || name == "zig"
            || name == "cargo-zigbuild"
    };
    let tools = env.path().join("tools-without-musl");
    std::fs::create_dir(&tools).expect("mkdir");
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let link = tools.join(&name);
            if !hidden(&name.to_string_lossy()) && !link.exists() {
                std::os::unix::fs::symlink(entry.path(), link).expect("symlink");
            }
        }
    }
    tools
}

/// `sh install.sh args` in the test's root, with cargo's and rustup's homes
/// and the rest of this environment (the target directory, the toolchain).
fn install(env: &TestEnv, args: &[&str], with: &[(&str, &std::ffi::OsStr)]) -> RunOutput {
    let mut cmd = cargo::into_test_env(env, cargo::builder("sh"));
    cmd.arg(script()).args(args).current_dir(env.path());
    for (name, value) in with {
        cmd.env(name, value);
    }
    env.run_within(&mut cmd, b"", BUILD_DEADLINE)
}

/// The installed binary, checked to run.
fn installed(env: &TestEnv) -> PathBuf {
    let bin = env.path().join("inst/bin/git-credential-entra");
    let version = env.run(env.command(&bin).arg("--version"), b"");
    assert!(
        version.stdout.starts_with("git-credential-entra "),
        "{}{}",
        version.stdout,
        version.stderr
    );
    bin
}

#[test]
#[ignore = "a release build of the static binary: CI runs it (see .ci/run)"]
fn with_the_musl_target_and_compiler_it_builds_and_installs_the_static_binary() {
    let env = TestEnv::new();
    // The same build caches as scripts/dist.sh's (cargo-zigbuild keeps its
    // compiler wrappers there, and cargo rebuilds when their path changes).
    let cache = std::env::var_os("XDG_CACHE_HOME").unwrap_or_else(|| {
        Path::new(&std::env::var_os("HOME").expect("HOME"))
            .join(".cache")
            .into_os_string()
    });
    let out = install(
        &env,
        &["--prefix", "inst", "--no-configure"],
        &[("XDG_CACHE_HOME", &cache)],
    );
    assert!(
        out.status.success(),
        "install.sh failed: is the musl target installed and is there a musl C compiler \
         (see .ci/run)?\n{}{}",
        out.stdout,
        out.stderr
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("building the static binary"), "{all}");
    assert!(!all.contains("dynamically linked"), "{all}");
    assert!(
        !has_interpreter(&installed(&env)),
        "the installed binary asks for a dynamic loader:\n{all}"
    );
}

#[test]
#[ignore = "a release build of the dynamic binary: CI runs it (see .ci/run)"]
fn without_a_musl_compiler_it_builds_the_dynamic_binary_and_says_how_to_get_the_static() {
    let env = TestEnv::new();
    let path = path_without_musl(&env);
    // Its own target directory, and a cheap release profile: this test is
    // about which binary is installed, not how fast it is.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-sh-dynamic");
    let out = install(
        &env,
        &["--prefix", "inst", "--no-configure"],
        &[
            ("PATH", path.as_os_str()),
            ("CARGO_TARGET_DIR", target_dir.as_os_str()),
            ("CARGO_PROFILE_RELEASE_LTO", "false".as_ref()),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16".as_ref()),
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0".as_ref()),
        ],
    );
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    let note: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("building the dynamically linked binary"))
        .collect();
    assert_eq!(note.len(), 1, "one line about the static binary:\n{all}");
    assert!(
        note[0].contains("apt-get install musl-tools") && note[0].starts_with("install.sh: "),
        "{}",
        note[0]
    );
    // The binary cargo built under CARGO_TARGET_DIR, not a stale one elsewhere.
    let bin = installed(&env);
    assert_eq!(
        std::fs::read(&bin).expect("read"),
        std::fs::read(target_dir.join("release/git-credential-entra")).expect("read"),
    );
    assert!(has_interpreter(&bin), "a dynamically linked binary");
}

#[test]
fn static_without_a_musl_compiler_stops_before_anything_is_written() {
    let env = TestEnv::new();
    let path = path_without_musl(&env);
    let out = install(
        &env,
        &["--static", "--prefix", "new", "--no-configure"],
        &[("PATH", path.as_os_str())],
    );
    assert_eq!(out.status.code(), Some(1), "{}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("musl") && lines[0].contains("Fix: ") && lines[0].contains("musl-tools"),
        "{}",
        lines[0]
    );
    assert!(!env.path().join("new").exists(), "nothing written");
}

#[test]
fn static_and_dynamic_go_with_building_only() {
    let env = TestEnv::new();
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    for args in [
        ["--static", "--binary", bin],
        ["--dynamic", "--release", "1.0.0"],
    ] {
        let out = install(&env, &args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("builds nothing: leave it out"),
            "{}",
            out.stderr
        );
    }
    assert!(!env.path().join("home/.local").exists(), "nothing written");
    let help = install(&env, &["--help"], &[]);
    assert!(
        help.stdout.contains("--static ") && help.stdout.contains("--dynamic "),
        "{}",
        help.stdout
    );
}
