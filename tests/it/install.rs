//! install/install.sh into a temporary prefix and a temporary global git
//! config, with the already-built binary (`--binary`), so the test does not
//! run a second release build; and, through real git, that installing never
//! breaks a credential that worked before.

use crate::operator::with_identity;
use crate::support::world::{NEW_GIT, OLD_GIT, World};
use crate::support::{TestEnv, jwt};

const BIN: &str = env!("CARGO_BIN_EXE_git-credential-entra");

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
    with_identity(&env);
    // A relative prefix, taken from the current directory (the env root).
    let out = env.run(
        env.git("sh")
            .args([&script(), "--prefix", "inst", "--binary", BIN]),
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
    // Not on PATH, so the undo command is the full path.
    assert!(
        out.stdout.contains(&format!(
            "Undo with: {} unconfigure --global",
            installed.display()
        )),
        "{}",
        out.stdout
    );
    for completion in [
        "share/bash-completion/completions/git-credential-entra",
        "share/zsh/site-functions/_git-credential-entra",
        "share/fish/vendor_completions.d/git-credential-entra.fish",
    ] {
        let text = std::fs::read_to_string(prefix.join(completion)).expect(completion);
        assert!(text.contains("unconfigure"), "{completion}");
    }

    let helpers = crate::configure::helpers_for_dev_azure_com(&env);
    // Absolute, although the prefix was given relative.
    assert_eq!(helpers, format!("\n{}\n", installed.display()));

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
        std::fs::read_to_string(env.path().join("home/.gitconfig")).expect("read"),
        "",
        "git config as before"
    );
    assert!(
        out.stdout
            .contains(&format!("removed {}", installed.display())),
        "{}",
        out.stdout
    );
}

#[test]
fn uninstall_names_what_stays_and_a_second_one_claims_nothing() {
    let env = TestEnv::new();
    let run = |args: &[&str]| {
        let out = env.run(env.git("sh").arg(script()).args(args), b"");
        assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
        out.stdout
    };
    run(&["--prefix", "inst", "--binary", BIN, "--no-configure"]);
    // A completion script written by hand, as the docs show: named, kept.
    let fish = env
        .path()
        .join("config/fish/completions/git-credential-entra.fish");
    std::fs::create_dir_all(fish.parent().expect("dir")).expect("mkdir");
    std::fs::write(&fish, "complete -c git-credential-entra\n").expect("write");
    let first = run(&["--uninstall", "--prefix", "inst"]);
    assert!(first.contains("removed "), "{first}");
    assert!(
        first.contains(&format!("stays: {}", fish.display())),
        "{first}"
    );
    assert!(fish.is_file());
    let again = run(&["--uninstall", "--prefix", "inst"]);
    assert!(!again.contains("removed"), "{again}");
    assert!(again.contains("nothing to remove"), "{again}");
}

#[cfg(unix)]
#[test]
fn install_sh_checks_prerequisites_before_creating_the_prefix() {
    let env = TestEnv::new();
    // A PATH with the tools the script uses, but no git.
    let tools = env.path().join("tools");
    std::fs::create_dir(&tools).expect("mkdir");
    for tool in ["mkdir", "dirname"] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} on PATH"));
        std::os::unix::fs::symlink(found, tools.join(tool)).expect("symlink");
    }
    let out = env.run(
        env.git("/bin/sh")
            .args([&script(), "--prefix", "new", "--binary", BIN])
            .env("PATH", &tools),
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("missing git"), "{}", out.stderr);
    assert!(
        !env.path().join("new").exists(),
        "nothing is written before the prerequisites are checked"
    );
}

#[test]
fn install_sh_with_no_identity_leaves_the_git_config_alone_and_says_what_to_do() {
    let env = TestEnv::new();
    let gitconfig = env.path().join("home/.gitconfig");
    let before = "[credential]\n\thelper = store\n[credential \"https://dev.azure.com\"]\n\thelper = manager\n";
    std::fs::write(&gitconfig, before).expect("write");
    let out = env.run(
        env.git("sh")
            .args([&script(), "--prefix", "inst", "--binary", BIN]),
        b"",
    );
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(std::fs::read_to_string(&gitconfig).expect("read"), before);
    let installed = env
        .path()
        .join("inst/bin/git-credential-entra")
        .canonicalize()
        .expect("installed");
    assert!(
        out.stdout.contains("Not taken over: nothing was written"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("    {} configure --force", installed.display())),
        "{}",
        out.stdout
    );
}

/// The newcomer's case: `credential.helper = store` holding a credential
/// for Azure DevOps, and no identity yet. After `configure` (as install.sh
/// runs it), a git without a terminal still gets the stored credential; once
/// an identity exists and `configure` runs again, git gets a new Entra token
/// from this helper, and the store neither answers nor receives it.
#[test]
fn a_stored_credential_keeps_working_until_an_identity_can_answer() {
    let w = World::new();
    let base = w.ado.base_url();
    // The "PAT": a token the fake Azure DevOps accepts as a Basic password,
    // obtained outside the helper's cache.
    let token = w.env.run(
        w.env
            .helper()
            .env("GIT_CREDENTIAL_ENTRA_CACHE", "none")
            .args(["token", &format!("{base}/contoso")]),
        b"",
    );
    assert!(token.status.success(), "{}", token.stderr);
    let stored = token.stdout.trim().to_string();
    let credentials = w.env.path().join("home/.git-credentials");
    let line = format!("http://pat:{stored}@{}\n", w.ado.host());
    std::fs::write(&credentials, &line).expect("write");
    w.env.planted(&credentials);
    std::fs::write(
        w.env.path().join("home/.gitconfig"),
        "[credential]\n\thelper = store\n",
    )
    .expect("write");
    // No identity: no config file.
    std::fs::remove_file(w.env.config_path()).expect("remove the config");

    let configure = |w: &World| {
        let out = w.helper(&["configure", "--host", &base], "");
        assert!(out.status.success(), "{}", out.stderr);
        out.stdout
    };
    let fill = |w: &World| {
        let out = w.env.run(
            w.env.git(NEW_GIT).args(["credential", "fill"]),
            format!("url={}\n\n", w.repo_url).as_bytes(),
        );
        assert!(out.status.success(), "git credential fill: {}", out.stderr);
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("password="))
            .expect("a password")
            .to_string()
    };
    let clone = |w: &World, git: &str, dir: &str| {
        w.env.git_ok(git, &["clone", "-q", &w.repo_url, dir]);
    };

    let said = configure(&w);
    assert_eq!(fill(&w), stored, "the store still answers: {said}");
    clone(&w, NEW_GIT, "before");
    assert!(said.contains("Not taken over"), "{said}");
    // git's approve hands the credential back to the store, which rewrites it.
    let kept = std::fs::read_to_string(&credentials).expect("read");
    assert!(kept.contains(&stored), "{kept}");

    w.write_config("");
    let said = configure(&w);
    assert!(said.contains("Done:"), "{said}");
    let ours = fill(&w);
    assert_ne!(ours, stored, "the stored credential is no longer used");
    assert!(jwt::verify(&ours).is_some(), "a token from the fake Entra");
    clone(&w, NEW_GIT, "after");
    // git < 2.46 ignores `ephemeral`: the masked store still gets nothing.
    if std::path::Path::new(OLD_GIT).is_file() {
        clone(&w, OLD_GIT, "after-old-git");
    }
    let after = std::fs::read_to_string(&credentials).expect("read");
    assert!(
        !after.contains(&ours),
        "our token never reaches ~/.git-credentials"
    );
    assert_eq!(after, kept, "the store was not asked to keep anything");
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
