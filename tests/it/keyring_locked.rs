//! A Secret Service whose default collection is locked, when prompts are
//! forbidden: the helper must not start the unlock prompt (nobody would
//! answer it), must not keep the token there, and must still cache it
//! elsewhere. Runs against a real gnome-keyring on a private session bus, so
//! locking it disturbs no other test.

use std::time::{Duration, Instant};

use crate::support::PrivateKeyring;
use crate::support::world::{World, token_of};

/// A private keyring whose default collection is locked; `None` (skipped)
/// when the tools are missing outside CI.
fn locked_keyring(dir: &std::path::Path) -> Option<PrivateKeyring> {
    let kr = PrivateKeyring::start(dir)?;
    kr.lock_default();
    Some(kr)
}

/// `auto` with prompts forbidden: the token is served at once, cached
/// outside the locked collection (the kernel keyring, else a file), reused
/// by the next `get`, and the collection stays locked and untouched.
#[test]
fn a_locked_secret_service_is_skipped_when_prompts_are_forbidden() {
    let mut w = World::with_cache("auto");
    let Some(kr) = locked_keyring(&w.env.path().join("keyring")) else {
        return;
    };
    w.env.set_env("DBUS_SESSION_BUS_ADDRESS", &kr.address);
    let collection = kr.default_collection();

    let started = Instant::now();
    let first = w.helper(&["get", "-vv"], &w.request());
    let took = started.elapsed();
    assert!(first.status.success(), "{}", first.stderr);
    assert!(
        took < Duration::from_secs(5),
        "get took {took:?}: it waited for an unlock prompt\n{}",
        first.stderr
    );
    let second = w.helper(&["get"], &w.request());
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(
        w.token_requests(),
        1,
        "the token was not cached elsewhere\n{}{}",
        first.stderr,
        second.stderr
    );
    assert_eq!(token_of(&first.stdout), token_of(&second.stdout));
    assert!(
        kr.is_locked(&collection),
        "the helper unlocked the collection"
    );
    assert_eq!(
        kr.helper_items(),
        0,
        "a token was kept in the locked keyring"
    );
    // The kernel keyring took it when usable; else `auto` said it used a file.
    assert!(
        !first.stderr.contains("refused a token") || first.stderr.contains("is locked"),
        "{}",
        first.stderr
    );
    w.helper(&["cache", "clear"], "");
}

/// `cache: keyring` chose the Secret Service: a locked collection is then
/// not used at all — nothing cached, so each `get` asks Entra, and the trace
/// says why.
#[test]
fn a_forced_keyring_that_is_locked_caches_nothing() {
    let mut w = World::with_cache("keyring");
    let Some(kr) = locked_keyring(&w.env.path().join("keyring")) else {
        return;
    };
    w.env.set_env("DBUS_SESSION_BUS_ADDRESS", &kr.address);
    let collection = kr.default_collection();
    let started = Instant::now();
    let first = w.helper(&["get", "-vv"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("default collection is locked")
            && first.stderr.contains("GIT_TERMINAL_PROMPT is 0"),
        "{}",
        first.stderr
    );
    let second = w.helper(&["get"], &w.request());
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(w.token_requests(), 2, "{}", second.stderr);
    assert!(kr.is_locked(&collection));
    assert_eq!(kr.helper_items(), 0);
}
