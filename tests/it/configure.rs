//! `configure` through the real binary and real git config files: it takes
//! over only once something can answer without a person (an identity in the
//! config file, or what `auto` finds here without the network), `--force`
//! takes over anyway, a PATH change is not "another installation", and
//! `--local` outside a repository says what to do. The same guarantee
//! through a real git with a stored credential is in install.rs.

use crate::operator::with_identity;
use crate::support::imds::{FakeImds, MiKind};
use crate::support::{RunOutput, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_git-credential-entra");
const BEFORE: &str =
    "[credential]\n\thelper = store\n[credential \"https://dev.azure.com\"]\n\thelper = manager\n";

fn helper(env: &TestEnv, args: &[&str]) -> RunOutput {
    let out = env.run(env.helper().args(args), b"");
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        out.stdout,
        out.stderr
    );
    out
}

fn global(env: &TestEnv) -> std::path::PathBuf {
    env.path().join("home/.gitconfig")
}

/// The `credential.https://dev.azure.com.helper` lines of the global git
/// config, one per line, as `git config --get-all` prints them.
pub(crate) fn helpers_for_dev_azure_com(env: &TestEnv) -> String {
    let file = global(env);
    env.run(
        env.git("git").args([
            "config",
            "--file",
            file.to_str().expect("utf8"),
            "--get-all",
            "credential.https://dev.azure.com.helper",
        ]),
        b"",
    )
    .stdout
}

#[test]
fn with_nothing_that_can_answer_configure_writes_nothing_and_names_the_next_step() {
    let env = TestEnv::new();
    std::fs::write(global(&env), BEFORE).expect("write gitconfig");

    let dry = helper(&env, &["configure", "--dry-run"]);
    assert!(
        dry.stdout.contains("Nothing written (--dry-run)"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("Without --dry-run, configure would not take over either"),
        "{}",
        dry.stdout
    );

    let out = helper(&env, &["configure"]);
    assert_eq!(
        std::fs::read_to_string(global(&env)).expect("read"),
        BEFORE,
        "git's config is untouched: manager and store keep answering"
    );
    let text = &out.stdout;
    assert!(
        text.contains("Not taken over: nothing was written"),
        "{text}"
    );
    assert!(text.contains("no identity can answer yet"), "{text}");
    assert!(
        text.contains(&env.config_path().display().to_string()) && text.contains("docs/guides.md"),
        "where to write an identity: {text}"
    );
    assert!(text.contains("\"routes\""), "an example: {text}");
    // Not on PATH: the commands to run next are the full path.
    assert!(text.contains(&format!("    {BIN} configure\n")), "{text}");
    assert!(
        text.contains(&format!("    {BIN} configure --force\n")),
        "{text}"
    );
    assert!(
        text.contains("IMDS at http://127.0.0.1:9 not asked"),
        "IMDS is not probed: {text}"
    );

    let forced = helper(&env, &["configure", "--force"]);
    assert_eq!(helpers_for_dev_azure_com(&env), format!("\n{BIN}\n"));
    assert!(
        forced
            .stdout
            .contains("Warning: no identity can answer yet"),
        "{}",
        forced.stdout
    );
    assert!(
        forced
            .stdout
            .contains(&format!("Undo with: {BIN} unconfigure --global")),
        "the undo command by full path: {}",
        forced.stdout
    );
    // Taken over while nothing answers: the way back is named.
    let again = helper(&env, &["configure"]);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stdout
            .contains(&format!("{BIN} unconfigure --global")),
        "{}",
        again.stdout
    );
}

#[test]
fn what_auto_finds_here_without_a_person_lets_configure_take_over() {
    let token_file = |env: &TestEnv| {
        let f = env.path().join("federated-token");
        std::fs::write(&f, "eyJ.not-read.here").expect("write");
        f.display().to_string()
    };
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let client = "00001111-aaaa-2222-bbbb-3333cccc4444";
    for link in ["environment", "workload identity"] {
        let mut env = TestEnv::new();
        env.set_env("AZURE_TENANT_ID", tenant);
        env.set_env("AZURE_CLIENT_ID", client);
        if link == "environment" {
            env.set_env("AZURE_CLIENT_SECRET", "not-a-secret-only-present");
        } else {
            let f = token_file(&env);
            env.set_env("AZURE_FEDERATED_TOKEN_FILE", &f);
        }
        let out = helper(&env, &["configure"]);
        assert_eq!(
            helpers_for_dev_azure_com(&env),
            format!("\n{BIN}\n"),
            "{link}"
        );
        assert!(
            out.stdout
                .contains("every Azure DevOps remote uses 'auto', which found"),
            "{link}: {}",
            out.stdout
        );
    }
}

#[test]
fn a_managed_identity_only_imds_would_answer_is_not_probed_and_not_counted() {
    let imds = FakeImds::start(MiKind::Imds, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    let mut env = TestEnv::new();
    env.set_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url());
    let out = helper(&env, &["configure"]);
    assert!(out.stdout.contains("Not taken over"), "{}", out.stdout);
    assert_eq!(helpers_for_dev_azure_com(&env), "");
    assert_eq!(imds.requests().len(), 0, "configure never waits on IMDS");
    // Named in the config file, it counts.
    env.write_config(r#"{ "identities": { "vm": { "type": "managed-identity" } } }"#);
    let out = helper(&env, &["configure"]);
    assert!(out.stdout.contains("Done:"), "{}", out.stdout);
    assert_eq!(imds.requests().len(), 0);
}

#[test]
fn configure_after_path_changed_calls_the_same_binary_the_same_installation() {
    let mut env = TestEnv::new();
    with_identity(&env);
    // First not on PATH: written by its path.
    helper(&env, &["configure"]);
    assert_eq!(helpers_for_dev_azure_com(&env), format!("\n{BIN}\n"));
    // Then its directory on PATH (as install.sh advises): written as `entra`.
    let dir = std::path::Path::new(BIN).parent().expect("bin dir");
    env.set_env(
        "PATH",
        &format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    let out = helper(&env, &["configure"]);
    assert_eq!(helpers_for_dev_azure_com(&env), "\nentra\n");
    assert!(
        out.stdout.contains(&format!(
            "replaces helper = {BIN}   (this same binary, named differently now that PATH changed)"
        )),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("older") && !out.stdout.contains("another installation"),
        "{}",
        out.stdout
    );
    // A helper line naming another file is another installation.
    let other = env.path().join("old/git-credential-entra");
    std::fs::create_dir_all(other.parent().expect("dir")).expect("mkdir");
    std::fs::copy(BIN, &other).expect("copy");
    env.git_ok(
        "git",
        &[
            "config",
            "--global",
            "--replace-all",
            "credential.https://dev.azure.com.helper",
            other.to_str().expect("utf8"),
            "^entra$",
        ],
    );
    let out = helper(&env, &["configure"]);
    assert!(
        out.stdout.contains("(another installation of this helper)"),
        "{}",
        out.stdout
    );
}

#[test]
fn configure_local_outside_a_repository_says_to_run_it_inside_one_or_use_global() {
    let env = TestEnv::new();
    with_identity(&env);
    for verb in ["configure", "unconfigure"] {
        // Run in the test's root, never in this project's own repository.
        let out = env.run(
            env.helper()
                .args([verb, "--local"])
                .current_dir(env.path())
                .env(
                    "GIT_CEILING_DIRECTORIES",
                    env.path().parent().expect("parent"),
                ),
            b"",
        );
        assert_eq!(out.status.code(), Some(1), "{verb}: {}", out.stdout);
        let line = out.stderr.trim_end();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        assert!(
            line.contains("not inside a git repository")
                && line.contains("cd into the repository")
                && line.contains("--global"),
            "{verb}: {line}"
        );
        assert!(!line.contains("fatal:"), "{line}");
    }
    // Inside one, it writes the repository's config.
    env.git_ok("git", &["init", "-q", "repo"]);
    let repo = env.path().join("repo");
    let out = env.run(
        env.helper()
            .args(["configure", "--local"])
            .current_dir(&repo),
        b"",
    );
    assert!(out.status.success(), "{}", out.stderr);
    let local = std::fs::read_to_string(repo.join(".git/config")).expect("read");
    assert!(
        local.contains("[credential \"https://dev.azure.com\"]"),
        "{local}"
    );
}
