//! Caching weaker than asked for is said on stderr once — on the first `get`
//! that meets it, not on every one — because it changes how many token
//! requests the machine makes or where tokens are kept.

use crate::support::world::World;
use crate::support::{Ci, RunOutput, skip_unless};

/// Two `get`s in a row, both of which must succeed.
fn two_gets(w: &World) -> (RunOutput, RunOutput) {
    let first = w.helper(&["get"], &w.request());
    let second = w.helper(&["get"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    assert!(second.status.success(), "{}", second.stderr);
    (first, second)
}

/// The lines of the helper's own on `stderr` that contain `what`.
fn lines_with<'a>(stderr: &'a str, what: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("git-credential-entra: ") && l.contains(what))
        .collect()
}

#[test]
fn a_forced_keyring_that_is_missing_is_said_once() {
    let mut w = World::with_cache("keyring");
    // No session bus: no Secret Service can answer.
    w.env.set_env("DBUS_SESSION_BUS_ADDRESS", "");
    let (first, second) = two_gets(&w);
    let said = lines_with(
        &first.stderr,
        "GIT_CREDENTIAL_ENTRA_CACHE=keyring asks for the OS keyring",
    );
    assert_eq!(said.len(), 1, "{}", first.stderr);
    assert!(
        said[0].contains("no token is cached") && said[0].contains("Fix:"),
        "{}",
        said[0]
    );
    assert_eq!(second.stderr, "", "said once, not on every get");
    assert_eq!(w.token_requests(), 2, "nothing was cached");
}

#[test]
fn a_lock_directory_that_cannot_be_created_is_said_once() {
    let mut w = World::new();
    // Locks then live in the cache directory, where a file blocks them.
    w.env.set_env("XDG_RUNTIME_DIR", "");
    let cache = w.env.path().join("cache/git-credential-entra");
    std::fs::create_dir_all(&cache).expect("create the cache directory");
    std::fs::write(cache.join("locks"), "").expect("block the lock directory");
    let first = w.helper(&["get"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    let said = lines_with(&first.stderr, "cannot create the lock directory");
    assert_eq!(said.len(), 1, "{}", first.stderr);
    assert!(
        said[0].contains("each ask Entra") && said[0].contains("Fix:"),
        "{}",
        said[0]
    );
    // A miss again, so the lock is needed again: still not repeated.
    std::fs::remove_dir_all(cache.join("tokens")).expect("drop the cached token");
    let second = w.helper(&["get"], &w.request());
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(second.stderr, "", "said once, not on every get");
    assert_eq!(w.token_requests(), 2);
}

#[test]
fn auto_falling_back_to_files_is_said_once() {
    let mut w = World::with_cache("auto");
    w.env.set_env("DBUS_SESSION_BUS_ADDRESS", "");
    let mut cmd = w.env.helper();
    cmd.args(["get", "-vv"]);
    let probe = w.env.run(&mut cmd, w.request().as_bytes());
    assert!(probe.status.success(), "{}", probe.stderr);
    let files = probe.stderr.contains("using the file store");
    let used = probe.stderr.lines().find(|l| l.contains("using the"));
    let reason = format!(
        "a keyring is usable here, so auto does not fall back to files: {}",
        used.unwrap_or("")
    );
    if !skip_unless(files, Ci::MayLack, reason) {
        w.helper(&["cache", "clear"], "");
        return;
    }
    let said = lines_with(&probe.stderr, "access tokens are cached in private files");
    assert_eq!(said.len(), 1, "{}", probe.stderr);
    let (first, second) = two_gets(&w);
    assert_eq!(first.stderr, "", "said once, not on every get");
    assert_eq!(second.stderr, "");
}
