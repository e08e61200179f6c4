//! What the cache refuses to trust: entries a fresh token response could not
//! carry, and files or directories someone else could have planted.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::support::now_secs;
use crate::support::world::{World, token_of};

/// The file store's directory in `w`.
fn tokens_dir(w: &World) -> PathBuf {
    w.env.path().join("cache/git-credential-entra/tokens")
}

/// The one entry file a first `get` left in the file store.
fn the_entry(w: &World) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(tokens_dir(w))
        .expect("the tokens directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// An entry in the store's format holding `token`, fresh for an hour.
fn entry_json(token: &str) -> String {
    let now = now_secs();
    serde_json::json!({
        "v": 1, "access_token": token, "expires_on": now + 3600, "obtained": now
    })
    .to_string()
}

#[test]
fn a_cached_token_git_could_not_take_is_replaced() {
    let w = World::new();
    let first = w.helper(&["get"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    let entry = the_entry(&w);
    for (n, bad) in ["planted\nline", "planted\rline", "planted\0nul"]
        .into_iter()
        .enumerate()
    {
        std::fs::write(&entry, entry_json(bad)).expect("plant a bad entry");
        let out = w.helper(&["get"], &w.request());
        assert!(out.status.success(), "{bad:?}: {}", out.stderr);
        assert!(!token_of(&out.stdout).contains("planted"), "{bad:?}");
        assert_eq!(w.token_requests(), n + 2, "{bad:?} is a miss");
        let healed = std::fs::read_to_string(&entry).expect("read the entry");
        assert!(!healed.contains("planted"), "{bad:?} was replaced");
    }
}

/// A token that looks valid to the helper but was never issued by Entra.
const PLANTED: &str = "eyJwbGFudGVkIjp0cnVlfQ.eyJhcHBpZCI6InBsYW50ZWQifQ.planted";

/// Runs `get` with the trace on stderr; the planted token must not be served,
/// a fresh one must be, and the trace must say `why` the entry was refused.
fn get_refuses_the_planted_entry(w: &World, requests_before: usize, why: &str) {
    let mut cmd = w.env.helper();
    cmd.args(["get", "-vv"]);
    let out = w.env.run(&mut cmd, w.request().as_bytes());
    assert!(out.status.success(), "{}", out.stderr);
    assert_ne!(
        token_of(&out.stdout),
        PLANTED,
        "the planted token was served"
    );
    assert_eq!(w.token_requests(), requests_before + 1, "a fresh token");
    assert!(
        out.stderr.contains(why),
        "the trace says why: {}",
        out.stderr
    );
}

#[test]
fn a_token_planted_in_a_directory_others_can_write_is_not_served() {
    let w = World::new();
    w.helper(&["get"], &w.request());
    let entry = the_entry(&w);
    std::fs::write(&entry, entry_json(PLANTED)).expect("plant");
    std::fs::set_permissions(tokens_dir(&w), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    get_refuses_the_planted_entry(&w, 1, "group or others can write it (mode 777)");
    let mode = std::fs::metadata(tokens_dir(&w))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "the next save makes it private again");
    let again = w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 2, "{}", again.stderr);
}

#[test]
fn an_entry_others_can_write_is_not_served() {
    // The mode check stands in for "owned by someone else", which a test
    // running as one user cannot arrange.
    let w = World::new();
    w.helper(&["get"], &w.request());
    let entry = the_entry(&w);
    std::fs::write(&entry, entry_json(PLANTED)).expect("plant");
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    get_refuses_the_planted_entry(&w, 1, "group or others can write it (mode 666)");
    let mode = std::fs::metadata(&entry)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "replaced by a private entry");
}

#[test]
fn a_symlink_at_an_entry_is_not_followed() {
    let w = World::new();
    w.helper(&["get"], &w.request());
    let entry = the_entry(&w);
    let elsewhere = w.env.path().join("planted.json");
    std::fs::write(&elsewhere, entry_json(PLANTED)).expect("plant");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::remove_file(&entry).expect("remove the entry");
    std::os::unix::fs::symlink(&elsewhere, &entry).expect("symlink");
    get_refuses_the_planted_entry(&w, 1, "symbolic link");
    assert!(
        !std::fs::symlink_metadata(&entry)
            .expect("meta")
            .is_symlink(),
        "replaced by a real entry"
    );
    let planted = std::fs::read_to_string(&elsewhere).expect("read");
    assert!(planted.contains(PLANTED), "the link's target is left alone");
}

#[test]
fn a_fifo_at_an_entry_does_not_hang_get() {
    let w = World::new();
    w.helper(&["get"], &w.request());
    let entry = the_entry(&w);
    std::fs::remove_file(&entry).expect("remove the entry");
    let c_path = std::ffi::CString::new(entry.to_str().expect("UTF-8")).expect("no NUL");
    // SAFETY: c_path is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    let started = std::time::Instant::now();
    get_refuses_the_planted_entry(&w, 1, "not a regular file");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "get finished"
    );
}
