//! The default (`auto`) cache on a Linux desktop: the kernel keyring as a
//! front before the Secret Service. Needs the CI's D-Bus session with
//! gnome-keyring and a usable kernel keyring; skipped elsewhere.

use std::process::Command;

use crate::support::env::RunOutput;
use crate::support::world::{World, token_of};
use crate::support::{Ci, secret_service_available, skip_unless};

/// Runs the helper with the cache mode `mode` and, when given, another bus.
fn run(w: &World, mode: &str, bus: Option<&str>, args: &[&str], stdin: &str) -> RunOutput {
    let mut cmd: Command = w.env.helper();
    cmd.args(args).env("GIT_CREDENTIAL_ENTRA_CACHE", mode);
    if let Some(bus) = bus {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    w.env.run(&mut cmd, stdin.as_bytes())
}

/// What `cache list` says about `ci` when only the store `mode` is asked.
fn listed(w: &World, mode: &str) -> String {
    let out = run(w, mode, None, &["cache", "list"], "");
    assert!(out.status.success(), "{}", out.stderr);
    out.stdout
        .lines()
        .find(|l| l.starts_with("ci "))
        .unwrap_or_else(|| panic!("ci is listed: {}", out.stdout))
        .to_string()
}

/// A world whose default cache has the front, or `None` (skipped) when
/// this machine has no Secret Service or kernel keyring to test.
fn world() -> Option<World> {
    if !secret_service_available() {
        return None;
    }
    let w = World::with_cache("auto");
    let probe = run(&w, "keyutils", None, &["cache", "list", "-vv"], "");
    let usable = !probe.stderr.contains("keyutils unusable");
    let reason = format!("the kernel keyring is unusable here: {}", probe.stderr);
    if !skip_unless(usable, Ci::MayLack, reason) {
        return None;
    }
    Some(w)
}

#[test]
fn a_cached_get_is_served_by_the_kernel_keyring_without_the_bus() {
    let Some(w) = world() else { return };
    let first = run(&w, "auto", None, &["get", "-vv"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains("using the secret-service+keyutils store"),
        "{}",
        first.stderr
    );
    let token = token_of(&first.stdout);
    // Written through: each store alone holds it.
    assert!(listed(&w, "keyring").contains("fresh"));
    assert!(listed(&w, "keyutils").contains("fresh"));

    // A bus nobody listens on: only the front can answer.
    let dead_bus = format!("unix:path={}", w.env.path().join("no-bus").display());
    let second = run(&w, "auto", Some(&dead_bus), &["get", "-vv"], &w.request());
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(w.token_requests(), 1, "{}", second.stderr);
    assert_eq!(token_of(&second.stdout), token);
    assert!(
        second
            .stderr
            .contains("cache hit (secret-service+keyutils)"),
        "{}",
        second.stderr
    );
    run(&w, "auto", None, &["cache", "clear"], "");
}

#[test]
fn a_token_only_in_the_secret_service_fills_the_front() {
    let Some(w) = world() else { return };
    let first = run(&w, "keyring", None, &["get"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    assert!(listed(&w, "keyutils").contains("not cached"));
    let second = run(&w, "auto", None, &["get"], &w.request());
    assert_eq!(w.token_requests(), 1, "{}", second.stderr);
    assert_eq!(token_of(&second.stdout), token_of(&first.stdout));
    assert!(listed(&w, "keyutils").contains("fresh"));
    run(&w, "auto", None, &["cache", "clear"], "");
}

#[test]
fn erase_and_cache_clear_empty_both_stores() {
    let Some(w) = world() else { return };
    let token = token_of(&run(&w, "auto", None, &["get"], &w.request()).stdout);
    let rejected = format!(
        "capability[]=authtype\nauthtype=Bearer\ncredential={token}\n{}",
        w.request()
    );
    let erased = run(&w, "auto", None, &["erase"], &rejected);
    assert!(erased.status.success(), "{}", erased.stderr);
    assert!(listed(&w, "keyring").contains("not cached"));
    assert!(listed(&w, "keyutils").contains("not cached"));

    run(&w, "auto", None, &["get"], &w.request());
    assert_eq!(w.token_requests(), 2);
    assert!(listed(&w, "keyring").contains("fresh"));
    assert!(listed(&w, "keyutils").contains("fresh"));
    let cleared = run(&w, "auto", None, &["cache", "clear"], "");
    assert!(cleared.status.success(), "{}", cleared.stderr);
    assert!(listed(&w, "keyring").contains("not cached"));
    assert!(listed(&w, "keyutils").contains("not cached"));
}
