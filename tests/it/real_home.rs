//! The suite leaves the real HOME alone: every program a test starts (the
//! helper, git, Chromium, openssl, curl, a private keyring, cargo) gets the
//! test's own HOME and XDG directories, never those of whoever runs the tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::TestEnv;

/// Tests that start programs outside the helper's own runner: a browser, a
/// tool making certificates, a probe for an installed tool, an installed
/// copy, a private D-Bus and keyring.
const STARTING_PROGRAMS: &[&str] = &[
    "user_signin::headless_chromium_signs_in_and_sees_the_landing_page",
    "user_signin::paste_on_a_terminal_finishes_the_sign_in",
    "certificates::pem_certificates_sign_ps256_that_openssl_verifies",
    "lfs::clone_downloads_lfs_objects_through_the_helper_with_one_token",
    "git_flow::clone_and_push_with_bearer_on_new_git",
    "install::install_sh_installs_configures_and_uninstalls_into_a_relative_prefix",
    "keyring_locked::a_locked_secret_service_is_skipped_when_prompts_are_forbidden",
];

/// Every file and folder under `dir`, recursively.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            all.extend(entries(&path));
        }
        all.push(path);
    }
    all
}

#[test]
fn tests_that_start_programs_leave_the_real_home_alone() {
    // The same tests in a child run of this binary, whose HOME stands in
    // for the real one: empty, with no XDG variable pointing elsewhere.
    let env = TestEnv::new();
    let home = env.path().join("real-home");
    std::fs::create_dir(&home).expect("create the stand-in HOME");
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut run = std::process::Command::new(exe);
    run.args(STARTING_PROGRAMS)
        .args(["--exact", "--test-threads=2"])
        .env("HOME", &home);
    for var in [
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "XDG_RUNTIME_DIR",
    ] {
        run.env_remove(var);
    }
    let out = env.run_within(&mut run, b"", Duration::from_secs(300));
    assert!(
        out.status.success(),
        "the tests failed with HOME={}:\n{}\n{}",
        home.display(),
        out.stdout,
        out.stderr
    );
    let ran = format!("{} passed", STARTING_PROGRAMS.len());
    assert!(out.stdout.contains(&ran), "{}", out.stdout);
    let left = entries(&home);
    assert!(
        left.is_empty(),
        "tests wrote into the HOME they were run with: {left:#?}"
    );
}
