//! install/install.sh into a temporary prefix and a temporary global git
//! config, with the already-built binary (`--binary`), so the test does not
//! run a second release build.

use crate::support::TestEnv;

fn script() -> String {
    format!("{}/install/install.sh", env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                found.extend(files_under(&p));
            } else {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

#[test]
fn install_sh_installs_configures_and_uninstalls_into_a_relative_prefix() {
    let env = TestEnv::new();
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    // A relative prefix, taken from the current directory (the env root).
    let out = env.run(
        env.git("sh")
            .args([&script(), "--prefix", "inst", "--binary", bin]),
        b"",
    );
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let prefix = env
        .path()
        .join("inst")
        .canonicalize()
        .expect("prefix exists");
    let installed = prefix.join("bin/git-credential-entra");
    let version = env.run(env.command(&installed).arg("--version"), b"");
    assert!(
        version.stdout.starts_with("git-credential-entra "),
        "{}",
        version.stdout
    );
    assert!(
        prefix
            .join("share/man/man1/git-credential-entra.1")
            .is_file()
    );
    assert!(
        out.stdout.contains("writes   helper = "),
        "configure printed its changes: {}",
        out.stdout
    );
    assert!(out.stdout.contains("is not on your PATH"), "{}", out.stdout);

    let gitconfig = env.path().join("home/.gitconfig");
    let helpers = env.run(
        env.git("git").args([
            "config",
            "--file",
            gitconfig.to_str().expect("utf8"),
            "--get-all",
            "credential.https://dev.azure.com.helper",
        ]),
        b"",
    );
    // Absolute, although the prefix was given relative.
    assert_eq!(helpers.stdout, format!("\n{}\n", installed.display()));

    let out = env.run(
        env.git("sh")
            .args([&script(), "--uninstall", "--prefix", "inst"]),
        b"",
    );
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        files_under(&prefix),
        Vec::<String>::new(),
        "nothing left behind"
    );
    assert_eq!(
        std::fs::read_to_string(&gitconfig).expect("read"),
        "",
        "git config as before"
    );
}

#[test]
fn install_sh_help_is_a_usage_text_and_unknown_options_are_refused() {
    let env = TestEnv::new();
    let out = env.run(env.git("sh").args([&script(), "--help"]), b"");
    assert!(out.status.success());
    assert!(
        out.stdout.starts_with("Usage: install/install.sh"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("--uninstall") && out.stdout.contains("1.89"));
    assert!(!out.stdout.contains("set -eu"), "{}", out.stdout);
    let out = env.run(env.git("sh").args([&script(), "--frobnicate"]), b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("unknown option --frobnicate"));
}
