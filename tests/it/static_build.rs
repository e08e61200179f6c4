//! The static release builds where they will run: the arm64 binary
//! `scripts/dist.sh` made, under an emulator (`qemu-aarch64` runs a static
//! binary as is), through the fake Entra with a service principal: a `get`,
//! a cached second `get`, `erase` of the rejected token, `cache list`; with
//! the file cache and with the Secret Service (the vendored libdbus).
//!
//! Ignored by default (it needs the built binary and the emulator); CI runs it
//! with `cargo test --test it static_build:: -- --ignored`, naming the binary
//! in `GIT_CREDENTIAL_ENTRA_TEST_BIN` and the emulator in
//! `GIT_CREDENTIAL_ENTRA_TEST_RUNNER` (see `.ci/run`). Without the binary it
//! fails, saying what is missing: it never passes untested.

use crate::support::env::{TEST_BIN_VAR, TEST_RUNNER_VAR};
use crate::support::secret_service_available;
use crate::support::world::{World, token_of};

/// The binary under test, checked to be there.
fn the_binary() {
    let bin = std::env::var_os(TEST_BIN_VAR).unwrap_or_else(|| {
        panic!(
            "{TEST_BIN_VAR} is not set: run scripts/dist.sh and set {TEST_BIN_VAR} to the built binary, \
             {TEST_RUNNER_VAR} to its emulator (qemu-aarch64) when this machine cannot run it (see .ci/run)"
        )
    });
    assert!(
        std::path::Path::new(&bin).is_file(),
        "{TEST_BIN_VAR}={} is not a file",
        bin.to_string_lossy()
    );
}

/// get, cached get, cache list, erase of the rejected token, a fresh get.
fn get_cache_erase_list(cache: &str, store: &str) {
    the_binary();
    let w = World::with_cache(cache);
    let first = w.helper(&["get"], &w.request());
    assert!(first.status.success(), "first get: {}", first.stderr);
    let token = token_of(&first.stdout);

    let second = w.helper(&["get"], &w.request());
    assert!(second.status.success(), "second get: {}", second.stderr);
    assert_eq!(token_of(&second.stdout), token);
    assert_eq!(
        w.token_requests(),
        1,
        "the second get is served from the cache"
    );

    let list = w.helper(&["cache", "list"], "");
    assert!(list.status.success(), "cache list: {}", list.stderr);
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("ci ") && l.contains(store) && l.contains("fresh")),
        "{}",
        list.stdout
    );
    assert!(
        !list.stdout.contains(&token),
        "cache list printed the token"
    );

    let rejected = format!(
        "capability[]=authtype\nauthtype=Bearer\ncredential={token}\n{}",
        w.request()
    );
    let erase = w.helper(&["erase"], &rejected);
    assert!(erase.status.success(), "erase: {}", erase.stderr);
    let fresh = w.helper(&["get"], &w.request());
    assert!(fresh.status.success(), "get after erase: {}", fresh.stderr);
    assert_ne!(token_of(&fresh.stdout), token);
    assert_eq!(w.token_requests(), 2, "the erased token was fetched again");
}

#[test]
#[ignore = "needs the static build: set GIT_CREDENTIAL_ENTRA_TEST_BIN (see .ci/run)"]
fn file_cache_get_cached_get_erase_list() {
    get_cache_erase_list("file", "file");
}

#[test]
#[ignore = "needs the static build: set GIT_CREDENTIAL_ENTRA_TEST_BIN (see .ci/run)"]
fn secret_service_get_cached_get_erase_list() {
    if secret_service_available() {
        get_cache_erase_list("keyring", "secret-service");
    }
}
