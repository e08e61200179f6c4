//! No secret or token ever reaches stderr, a trace file, or a file outside the
//! keyring. Every command the suite runs has its stdout and stderr checked by
//! `TestEnv::run`, and every file a test leaves is scanned when its `TestEnv`
//! drops (support/scan.rs); the tests here prove that scanner catches what it
//! must and allows only what the rules allow.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::os::unix::fs::PermissionsExt as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::support::scan::{Kind, Place, find_leak, register, stdout_place, walk};
use crate::support::world::{NEW_GIT, SECRET, World};
use crate::support::{TestEnv, assert_no_leak, random_guid};

/// Fails when `token` (or the test secret) is in any file under `root`.
pub fn assert_no_token_in_files(root: &std::path::Path, token: &str) {
    for entry in walk(root) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(token),
            "a token was written to {}",
            entry.display()
        );
        assert!(
            !text.contains(SECRET),
            "the secret was written to {}",
            entry.display()
        );
    }
}

#[test]
fn traces_and_files_never_hold_secrets_or_tokens() {
    let mut w = World::with_cache("none");
    let trace = w.env.path().join("trace.log");
    w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    w.configure_git();
    // A failing request first (wrong answer from Entra), then a clone.
    w.entra.push_response(crate::support::Scripted::aadsts(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided.",
    ));
    let failed = w.helper(&["get", "-vv"], &w.request());
    assert_eq!(failed.stdout, "quit=1\n");
    w.env.git_ok(NEW_GIT, &["clone", &w.repo_url, "work"]);
    let traced = std::fs::read_to_string(&trace).expect("trace written");
    assert!(
        traced.contains("entra: POST") && traced.contains("-> 200"),
        "{traced}"
    );
    assert_no_leak("trace file", &traced);
    for t in w.entra.issued_tokens() {
        assert_no_token_in_files(w.env.path(), &t);
    }
}

#[test]
fn stderr_trace_is_redacted() {
    let w = World::new();
    let out = w.helper(&["get", "-vv"], &w.request());
    assert!(out.stderr.contains("cache miss"), "{}", out.stderr);
    assert!(
        out.stderr.contains("secret from $CI_SECRET"),
        "names the source, not the value: {}",
        out.stderr
    );
    // TestEnv::run already asserted that this stderr holds no secret or token.
}

/// The panic's message, which must name the leak but never hold the value.
fn panic_text(outcome: std::thread::Result<()>, value: &str) -> String {
    let payload = outcome.expect_err("the scanner must fail on a planted value");
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(text.contains("leaks a registered"), "{text}");
    assert!(
        !text.contains(value),
        "the scanner's own message printed the value"
    );
    text
}

#[test]
fn the_scanner_fails_on_a_value_planted_in_output_or_files() {
    let env = TestEnv::new();
    // stdout of a real command: git prints a config value we planted.
    let secret = format!("planted-secret-{}", random_guid());
    register(Kind::Secret, &secret);
    let gitconfig = env.path().join("home/.gitconfig");
    std::fs::write(&gitconfig, format!("[planted]\n\tvalue = {secret}\n")).expect("write");
    let out = catch_unwind(AssertUnwindSafe(|| {
        env.run(env.git(NEW_GIT).args(["config", "planted.value"]), b"");
    }));
    panic_text(out, &secret);
    // The same value in a file under the root: the scan on drop fails.
    let text = panic_text(
        catch_unwind(AssertUnwindSafe(|| env.assert_files_clean())),
        &secret,
    );
    assert!(
        text.contains(".gitconfig") && text.contains("Secret"),
        "{text}"
    );
    // A planted input file is exempt; with it marked, the root is clean.
    env.planted(&gitconfig);
    env.assert_files_clean();
}

#[test]
fn access_tokens_are_allowed_only_in_the_answer_token_output_and_a_private_store() {
    let token = format!("eyJ0eXAiOiJKV1QifQ.planted-{}.sig", random_guid());
    register(Kind::AccessToken, &token);
    let answer = format!("username=app\npassword={token}\npassword_expiry_utc=1\n");
    assert_eq!(find_leak(&answer, Place::Answer), None);
    assert!(
        find_leak(&answer, Place::Anywhere).is_some(),
        "stderr or a trace"
    );
    let misplaced = format!("username={token}\npassword=x\n");
    assert!(
        find_leak(&misplaced, Place::Answer).is_some(),
        "only credential lines"
    );
    assert_eq!(find_leak(&token, Place::TokenOutput), None);
    // Inside a Basic header (git-lfs's, or older git's) the token is base64-encoded.
    let basic = STANDARD.encode(format!("app:{token}"));
    for header in [
        format!("> Authorization: Basic {basic}\n"),
        format!("authorization: basic {basic}"),
    ] {
        assert!(find_leak(&header, Place::Anywhere).is_some(), "{header}");
    }
    // Which stdout is an answer: the helper's `get` and `token`, git's
    // `credential fill`, and the Windows `.exe` under Wine doing the same.
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (program, a, place) in [
        ("git-credential-entra", &["get"][..], Place::Answer),
        ("git-credential-entra", &["token", "ci"], Place::TokenOutput),
        ("git-credential-entra", &["cache", "list"], Place::Anywhere),
        ("git", &["credential", "fill"], Place::Answer),
        (
            "wine",
            &[r"C:\x\git-credential-entra.exe", "get"],
            Place::Answer,
        ),
        (
            "wine",
            &["/t/git-credential-entra.exe", "erase"],
            Place::Anywhere,
        ),
        ("wine", &[], Place::Anywhere),
    ] {
        assert_eq!(stdout_place(program, &args(a)), place, "{program} {a:?}");
    }

    // A store entry: allowed as a 0600 file in a 0700 directory, not otherwise.
    let env = TestEnv::new();
    let store = env.path().join("cache/git-credential-entra/tokens");
    std::fs::create_dir_all(&store).expect("mkdir");
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };
    mode(&store, 0o700);
    let entry = store.join("entry.json");
    std::fs::write(&entry, &token).expect("write");
    mode(&entry, 0o600);
    env.assert_files_clean();
    mode(&entry, 0o644);
    panic_text(
        catch_unwind(AssertUnwindSafe(|| env.assert_files_clean())),
        &token,
    );
    mode(&entry, 0o600);
    mode(&store, 0o755);
    panic_text(
        catch_unwind(AssertUnwindSafe(|| env.assert_files_clean())),
        &token,
    );
    mode(&store, 0o700);
    // Outside the store, even private, a token is a leak (a trace file, say).
    let trace = env.path().join("cache/trace.log");
    std::fs::write(&trace, &token).expect("write");
    mode(&trace, 0o600);
    panic_text(
        catch_unwind(AssertUnwindSafe(|| env.assert_files_clean())),
        &token,
    );
    std::fs::remove_file(&trace).expect("rm");
}

#[test]
fn secrets_refresh_tokens_and_assertions_are_never_allowed_anywhere() {
    for kind in [Kind::Secret, Kind::RefreshToken, Kind::Assertion] {
        let value = format!("planted-{kind:?}-{}", random_guid());
        register(kind, &value);
        for place in [
            Place::Anywhere,
            Place::Answer,
            Place::TokenOutput,
            Place::Store,
        ] {
            let text = format!("password={value}\n");
            assert_eq!(
                find_leak(&text, place).map(|(k, _)| k),
                Some(kind),
                "{kind:?} allowed at {place:?}"
            );
        }
    }
}
