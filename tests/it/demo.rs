//! The README's demo (`cargo run --example demo`): it says what it is doing
//! before it builds, and leaves cargo's build cache as it found it.

use std::time::Duration;

use crate::support::{Ci, TestEnv, cargo, skip_unless};

/// Long enough for a first build of the example on a busy machine; a fresh
/// build and the demo itself take seconds.
const CARGO_DEADLINE: Duration = Duration::from_secs(600);

#[test]
fn the_demo_says_what_it_does_first_and_a_build_after_it_compiles_nothing() {
    let exe = std::env::current_exe().expect("the test binary's path");
    let build = cargo::build_of(&exe);
    let found = skip_unless(
        build.is_some(),
        Ci::MayLack,
        "a cross or custom-profile build: its target directory is not the plain one",
    );
    let Some((target_dir, profile)) = build.filter(|_| found) else {
        return;
    };
    let env = TestEnv::new();
    let cargo = |args: &[&str]| {
        let mut cmd = cargo::in_test_env(&env);
        cmd.args(args)
            .args(&profile)
            .arg("--target-dir")
            .arg(&target_dir);
        let out = env.run_within(&mut cmd, b"", CARGO_DEADLINE);
        assert!(
            out.status.success(),
            "cargo {args:?} failed ({}):\n{}\n{}",
            out.status,
            out.stdout,
            out.stderr
        );
        out
    };
    // The library and binary as a plain build makes them (already, after
    // `cargo test`); the demo, on the same build.
    cargo(&["build"]);
    let demo = cargo(&["run", "--example", "demo"]);
    let first = demo.stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains("Building the helper binary"),
        "the demo's first line says what it is doing while cargo builds: {first:?}\n{}",
        demo.stdout
    );
    assert!(
        demo.stdout.contains("Demo passed"),
        "{}\n{}",
        demo.stdout,
        demo.stderr
    );
    let after = cargo(&["build"]);
    let compiled: Vec<&str> = after
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Compiling"))
        .collect();
    assert!(
        compiled.is_empty(),
        "the demo disturbed the build cache: `cargo build` after it compiled {compiled:#?}"
    );
}
