//! Git LFS through the helper: real git and git-lfs against the fake Azure
//! DevOps's LFS server. git-lfs asks git's credential helpers (`git
//! credential fill`, Basic only) for the batch API and for every object URL,
//! and calls `git credential reject` when a credential is refused.

use crate::support::ado::lfs::oid;
use crate::support::env::probe;
use crate::support::tls_world::{ADO_HOST, LOGIN_HOST, TlsWorld};
use crate::support::world::{CLIENT, NEW_GIT, World};
use crate::support::{AdoRequest, Ci, SeenAuth, assert_no_leak, skip_unless};
use std::path::Path;

/// A world whose git has the LFS filters (`git lfs install --skip-repo` in
/// the test's HOME) and the helper configured; `None` when git-lfs is
/// missing here (never in CI, which installs it).
fn lfs_world() -> Option<World> {
    let installed = probe(NEW_GIT, &["lfs", "version"]).is_some();
    if !skip_unless(installed, Ci::Provides, "git-lfs is not installed") {
        return None;
    }
    let w = World::new();
    w.configure_git();
    w.env.git_ok(NEW_GIT, &["lfs", "install", "--skip-repo"]);
    // One transfer at a time: git-lfs keeps every connection it opened
    // alive, each holds a thread of tiny_http's pool, and that pool can leave
    // a burst of new connections unserved (a lost wakeup) until one closes:
    // git-lfs's 30 s activity timeout, then a retry.
    let concurrency = ["config", "--global", "lfs.concurrenttransfers", "1"];
    w.env.git_ok(NEW_GIT, &concurrency);
    Some(w)
}

/// Three LFS files of the test repository: two in the root, one deeper.
fn lfs_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("big.bin", b"0123456789abcdef".repeat(64 * 1024)),
        ("small.bin", b"a small LFS object\n".to_vec()),
        (
            "assets/logo.bin",
            (0..=255u8).cycle().take(70_000).collect(),
        ),
    ]
}

/// Commits `files` to the test repository as LFS pointers, objects on the server.
fn seed(w: &World, files: &[(&str, Vec<u8>)]) {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_slice())).collect();
    w.ado.commit_lfs_files("contoso", "proj", "repo", &files);
}

/// The LFS requests the fake Azure DevOps saw, in order.
fn lfs_requests(w: &World) -> Vec<AdoRequest> {
    let all = w.ado.requests();
    all.into_iter()
        .filter(|r| r.path.contains("/info/lfs/"))
        .collect()
}

/// Whether `r` reached the LFS server with the helper's token (Basic, as
/// git-lfs only does Basic) and was answered.
fn served_with_token(r: &AdoRequest) -> bool {
    r.status == 200
        && r.auth
            == SeenAuth::Basic {
                username: CLIENT.to_string(),
            }
}

/// Asserts each file of `files` has its real content under `dir`.
fn assert_checked_out(dir: &Path, files: &[(&str, Vec<u8>)]) {
    for (path, content) in files {
        let got = std::fs::read(dir.join(path)).expect("the LFS file is checked out");
        assert!(
            got == *content,
            "{path} holds {} bytes, not its content: {:?}",
            got.len(),
            String::from_utf8_lossy(&got[..got.len().min(200)])
        );
    }
}

#[test]
fn clone_downloads_lfs_objects_through_the_helper_with_one_token() {
    let Some(w) = lfs_world() else { return };
    clone_with_lfs(&w, &w.repo_url);
}

#[test]
fn push_uploads_lfs_objects_through_the_cached_token() {
    let Some(w) = lfs_world() else { return };
    push_lfs(&w, &w.repo_url);
}

/// An LFS world behind a corporate proxy with TLS: git-lfs reads git's
/// `http.proxy` and `http.sslCAInfo` as git does, and so does the helper for
/// its token request.
fn lfs_tls_world() -> Option<TlsWorld> {
    let mut t = TlsWorld::around(lfs_world()?);
    // A helper or git-lfs that ignored git's proxy fails here, never asks DNS.
    t.w.env.set_env("HTTPS_PROXY", "http://127.0.0.1:9");
    for (key, value) in [
        ("http.proxy", t.proxy_url()),
        ("http.sslCAInfo", t.ca_pem()),
    ] {
        t.w.env
            .git_ok(NEW_GIT, &["config", "--global", key, &value]);
    }
    Some(t)
}

/// Both names were reached through the proxy, with the corporate CA trusted.
fn assert_through_the_proxy(t: &TlsWorld) {
    let tunnels = t.proxy.tunnels();
    for name in [ADO_HOST, LOGIN_HOST] {
        assert!(tunnels.contains(&format!("{name}:443")), "{tunnels:?}");
    }
    assert_eq!(t.entra_front.handshake_failures(), 0);
    assert_eq!(t.ado_front.handshake_failures(), 0);
}

#[test]
fn lfs_clone_behind_the_proxy_with_the_corporate_ca() {
    let Some(t) = lfs_tls_world() else { return };
    clone_with_lfs(&t.w, &t.repo_url);
    assert_through_the_proxy(&t);
}

#[test]
fn lfs_push_behind_the_proxy_with_the_corporate_ca() {
    let Some(t) = lfs_tls_world() else { return };
    push_lfs(&t.w, &t.repo_url);
    assert_through_the_proxy(&t);
}

/// Clones `url`, whose repository holds LFS files: their content is checked
/// out, and git's fetch, the batch and every download shared one token.
fn clone_with_lfs(w: &World, url: &str) {
    let files = lfs_files();
    seed(w, &files);
    w.env.git_ok(NEW_GIT, &["clone", "-q", url, "work"]);
    assert_checked_out(&w.env.path().join("work"), &files);
    assert_eq!(
        w.token_requests(),
        1,
        "git's fetch, the batch and every download share one token"
    );
    let lfs = lfs_requests(w);
    assert!(
        lfs.iter()
            .any(|r| r.path.ends_with("/info/lfs/objects/batch") && served_with_token(r)),
        "{lfs:#?}"
    );
    for (path, content) in &files {
        let oid = oid(content);
        assert!(
            lfs.iter()
                .any(|r| r.method == "GET" && r.path.ends_with(&oid) && served_with_token(r)),
            "{path} was downloaded with the token: {lfs:#?}"
        );
    }
    assert!(lfs.iter().all(|r| r.auth != SeenAuth::Invalid), "{lfs:#?}");
}

/// Clones `url`, then pushes new LFS files: they reach the server whole,
/// with the token the clone cached.
fn push_lfs(w: &World, url: &str) {
    w.env.git_ok(NEW_GIT, &["clone", "-q", url, "work"]);
    assert_eq!(w.token_requests(), 1, "the clone's token");
    let work = w.env.path().join("work");
    let dir = work.to_str().expect("utf8");
    w.env.git_ok(
        NEW_GIT,
        &["-C", dir, "lfs", "track", "*.bin", "assets/*.bin"],
    );
    let files = lfs_files();
    for (path, content) in &files {
        let file = work.join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
        std::fs::write(file, content).expect("write an LFS file");
    }
    w.env.git_ok(NEW_GIT, &["-C", dir, "add", "-A"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "commit", "-qm", "LFS files"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "push", "-q", "origin", "main"]);
    assert_eq!(
        w.token_requests(),
        1,
        "the push and its uploads use the cached token"
    );
    let lfs = lfs_requests(w);
    for (path, content) in &files {
        let oid = oid(content);
        // The fake stores an upload only when its SHA-256 is the object id.
        let stored = w.ado.lfs_object("contoso", "proj", "repo", &oid);
        assert!(
            stored.as_deref() == Some(content.as_slice()),
            "{path} reached the server whole"
        );
        assert!(
            lfs.iter()
                .any(|r| r.method == "PUT" && r.path.ends_with(&oid) && served_with_token(r)),
            "{path} was uploaded with the token: {lfs:#?}"
        );
    }
    // The commit holds pointers; a new clone gets the content back.
    w.env.git_ok(NEW_GIT, &["clone", "-q", url, "again"]);
    assert_checked_out(&w.env.path().join("again"), &files);
    assert_eq!(w.token_requests(), 1, "still the one token");
    assert!(
        w.authed_requests()
            .iter()
            .all(|r| r.auth != SeenAuth::Invalid)
    );
}

/// Clones the seeded test repository with git only (`GIT_LFS_SKIP_SMUDGE`:
/// pointers in the work tree, no LFS request yet), then makes Azure DevOps
/// refuse the token the helper cached; returns the work tree.
fn clone_then_revoke(w: &mut World, url: &str, files: &[(&str, Vec<u8>)]) -> std::path::PathBuf {
    seed(w, files);
    w.env.set_env("GIT_LFS_SKIP_SMUDGE", "1");
    w.env.git_ok(NEW_GIT, &["clone", "-q", url, "work"]);
    w.env.set_env("GIT_LFS_SKIP_SMUDGE", "0");
    assert!(lfs_requests(w).is_empty(), "git alone made the clone");
    let issued = w.entra.issued_tokens();
    assert_eq!(issued.len(), 1);
    w.ado.revoke(&issued[0]);
    w.env.path().join("work")
}

#[test]
fn a_token_azure_devops_refuses_is_erased_and_lfs_gets_a_fresh_one() {
    let Some(mut w) = lfs_world() else { return };
    let url = w.repo_url.clone();
    refused_token_is_erased_and_replaced(&mut w, &url);
}

#[test]
fn behind_the_proxy_a_refused_token_is_erased_and_replaced_too() {
    let Some(mut t) = lfs_tls_world() else { return };
    let url = t.repo_url.clone();
    refused_token_is_erased_and_replaced(&mut t.w, &url);
    assert_through_the_proxy(&t);
}

/// git-lfs's `reject` makes the helper drop the token Azure DevOps refused,
/// and the next request gets a new one from Entra.
fn refused_token_is_erased_and_replaced(w: &mut World, url: &str) {
    let trace = w.env.path().join("helper-trace.log");
    w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    let files = lfs_files();
    let work = clone_then_revoke(w, url, &files);
    // An LFS-only command: any erase can come only from git-lfs's reject.
    w.env.git_ok(
        NEW_GIT,
        &["-C", work.to_str().expect("utf8"), "lfs", "pull"],
    );
    assert_checked_out(&work, &files);
    let issued = w.entra.issued_tokens();
    assert_eq!(
        w.token_requests(),
        2,
        "one token for the clone, one after the refusal"
    );
    assert_ne!(issued[0], issued[1], "the fresh token is a new one");
    let lfs = lfs_requests(w);
    let refused: Vec<_> = lfs.iter().filter(|r| r.auth == SeenAuth::Invalid).collect();
    assert_eq!(refused.len(), 1, "the revoked token is sent once: {lfs:#?}");
    assert!(refused[0].path.ends_with("/objects/batch") && refused[0].status == 401);
    // Every later batch and download carried the new token (the revoked one would be Invalid).
    let after = lfs
        .iter()
        .skip_while(|r| r.auth != SeenAuth::Invalid)
        .skip(1);
    assert!(
        after
            .clone()
            .any(|r| r.path.ends_with("/objects/batch") && served_with_token(r)),
        "{lfs:#?}"
    );
    assert!(
        after.filter(|r| r.method == "GET").count() >= files.len(),
        "{lfs:#?}"
    );
    let traced = std::fs::read_to_string(&trace).expect("the helper traced");
    assert_eq!(
        traced
            .matches("erase for 'ci': dropped the rejected token")
            .count(),
        1,
        "{traced}"
    );
}

#[test]
fn lfs_traces_hold_no_token_or_secret() {
    let Some(mut w) = lfs_world() else { return };
    let trace = w.env.path().join("helper-trace.log");
    w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    // Everything git and git-lfs can say about HTTP, short of LFS_DEBUG_HTTP.
    for (k, v) in [
        ("GIT_TRACE", "1"),
        ("GIT_CURL_VERBOSE", "1"),
        ("GIT_TRACE_CURL", "1"),
        ("GIT_TRANSFER_TRACE", "1"),
    ] {
        w.env.set_env(k, v);
    }
    let files = lfs_files();
    let url = w.repo_url.clone();
    let work = clone_then_revoke(&mut w, &url, &files);
    let dir = work.to_str().expect("utf8");
    // TestEnv::run checks each command's stdout and stderr; its drop, every file.
    let pulled = w.env.git_ok(NEW_GIT, &["-C", dir, "lfs", "pull"]);
    assert!(
        pulled.stderr.contains("Authorization: Basic * * * * *"),
        "git-lfs traced its requests"
    );
    std::fs::write(work.join("pushed.bin"), b"pushed through LFS".repeat(100)).expect("write");
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "lfs", "track", "pushed.bin"]);
    w.env.git_ok(NEW_GIT, &["-C", dir, "add", "-A"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "commit", "-qm", "pushed"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "push", "origin", "main"]);
    assert_no_leak(
        "the helper's trace",
        &std::fs::read_to_string(&trace).expect("traced"),
    );
    // The check is live: git-lfs's own opt-in to print credentials is caught.
    w.env.set_env("LFS_DEBUG_HTTP", "1");
    let leaky = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.env
            .git_ok(NEW_GIT, &["clone", "-q", &w.repo_url, "leaky"]);
    }));
    let message = leaky.expect_err("LFS_DEBUG_HTTP prints the Authorization header");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("stderr of git leaks a registered AccessToken"),
        "{message}"
    );
}

#[test]
fn an_identity_azure_devops_keeps_refusing_stops_git_lfs_instead_of_looping() {
    let Some(mut w) = lfs_world() else { return };
    let files = lfs_files();
    let url = w.repo_url.clone();
    let work = clone_then_revoke(&mut w, &url, &files);
    // Not the token: the principal itself is refused from now on.
    w.ado.unmaterialize("contoso", CLIENT);
    let out = w.env.run(
        w.env
            .git(NEW_GIT)
            .args(["-C", work.to_str().expect("utf8"), "lfs", "pull"]),
        b"",
    );
    assert!(!out.status.success(), "{}", out.stderr);
    // The clone's token, the one let through after the first refusal, and
    // no more: git-lfs (3.7 and before) would otherwise loop, a new token a round.
    assert!(
        w.token_requests() <= 3,
        "{} token requests",
        w.token_requests()
    );
    assert!(
        out.stderr
            .contains("refused 2 new tokens of this identity in a row")
            && out.stderr.contains("Organization settings"),
        "{}",
        out.stderr
    );
}
