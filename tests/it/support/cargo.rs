//! Cargo started from a program cargo itself runs (the demo under `cargo
//! run`, a test under `cargo test`), leaving the build cache as it found it.
//!
//! Cargo describes the crate it runs in variables (`CARGO_MANIFEST_DIR`,
//! `CARGO_PKG_*`, `OUT_DIR`...), and some build scripts watch the same names
//! (`rerun-if-env-changed`: ring watches `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`
//! and `OUT_DIR`). A nested cargo that inherited them would see them changed
//! since the last plain build and rebuild ring and everything above it
//! (rustls, reqwest, this crate), and the next plain `cargo build` would
//! rebuild it all back. Everything else is inherited: the toolchain, flags and
//! target directory the user chose decide what is fresh.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::TestEnv;

/// Prefixes of the variables cargo sets for the crate it runs or builds.
const CRATE_PREFIXES: &[&str] = &[
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_BIN_EXE_",
    "DEP_",
];

/// The other variables cargo sets for the crate it runs or builds.
const CRATE_NAMES: &[&str] = &[
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// Whether cargo set `name` to describe the crate it runs (or builds), as
/// opposed to a setting of the user's (`CARGO_HOME`, `CARGO_TARGET_DIR`,
/// `CARGO_PROFILE_*`, `RUSTFLAGS`...), which a nested cargo must keep.
pub fn describes_the_running_crate(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    CRATE_NAMES.contains(&name.as_ref()) || CRATE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `cargo` (the one that runs us, when it does), in this package's
/// directory, without the variables describing the running crate.
pub fn command() -> Command {
    builder(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `program` (`cargo`, or a script that runs it) in this package's
/// directory, without the variables describing the running crate.
pub fn builder(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if describes_the_running_crate(&name) {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// [`command`] for a test: HOME and the XDG directories are the test's,
/// cargo's and rustup's own homes stay where they are (the registry and the
/// toolchains), and cargo works offline (a test asks no one outside loopback).
pub fn in_test_env(env: &TestEnv) -> Command {
    into_test_env(env, command())
}

/// [`in_test_env`] for another command made by [`builder`] (a script that
/// runs cargo: install.sh).
pub fn into_test_env(env: &TestEnv, mut cmd: Command) -> Command {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    for (var, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let dir = std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_deref().map(|h| h.join(default)));
        if let Some(dir) = dir {
            cmd.env(var, dir);
        }
    }
    let p = env.path();
    cmd.env("HOME", p.join("home"))
        .env("XDG_CONFIG_HOME", p.join("config"))
        .env("XDG_CACHE_HOME", p.join("cache"))
        .env("XDG_RUNTIME_DIR", p.join("runtime"))
        .env("CARGO_NET_OFFLINE", "true");
    cmd
}

/// The target directory and profile flags that built `exe` (a test or
/// example at `TARGET_DIR/PROFILE/{deps,examples}/NAME`), for a nested cargo
/// to find the same build: `None` for a cross build (`--target`) or a custom
/// profile.
pub fn build_of(exe: &Path) -> Option<(PathBuf, Vec<&'static str>)> {
    let profile_dir = exe.parent()?.parent()?;
    let target_dir = profile_dir.parent()?;
    // Cargo keeps what it learned of rustc at the top of a target directory.
    if !target_dir.join(".rustc_info.json").is_file() {
        return None;
    }
    let flags = match profile_dir.file_name()?.to_str()? {
        "debug" => vec![],
        "release" => vec!["--release"],
        _ => return None,
    };
    Some((target_dir.to_path_buf(), flags))
}
