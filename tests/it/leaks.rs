//! No secret or token ever reaches stderr, a trace file, or a file outside the
//! keyring. (Every command the suite runs also has its stderr checked by
//! `TestEnv::run`.)

use crate::support::assert_no_leak;
use crate::world::{NEW_GIT, SECRET, World};

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

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files.extend(walk(&p)),
            Ok(t) if t.is_file() => files.push(p),
            _ => {}
        }
    }
    files
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
