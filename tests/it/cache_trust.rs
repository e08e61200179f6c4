//! What the cache refuses to trust: entries a fresh token response could not
//! carry, and files or directories someone else could have planted.

use std::path::PathBuf;

use crate::support::now_secs;
use crate::world::{World, token_of};

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
