//! A Secret Service daemon that stops answering mid-run: a real
//! gnome-keyring on a private session bus, frozen with SIGSTOP while a `get`
//! is in flight. Every D-Bus call the helper makes is bounded (the Secret
//! Service client gives each call [`CALL_TIMEOUT`]), so git still gets its
//! token in seconds; nothing half-written is left; a token the kernel-keyring
//! front holds is served without the bus; and once the daemon answers again,
//! tokens are cached there again. The same for the bus daemon itself.

use std::time::{Duration, Instant};

use super::{SLACK, cache_row};
use crate::support::world::{World, token_of};
use crate::support::{Ci, PrivateKeyring, skip_unless};

/// The Secret Service client's timeout for every D-Bus method call (the
/// proxies of dbus-secret-service, which the helper uses, wait 2 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The standard world with cache `mode`, on the keyring's bus.
fn world(kr: &PrivateKeyring, mode: &str) -> World {
    let mut w = World::with_cache(mode);
    w.env.set_env("DBUS_SESSION_BUS_ADDRESS", &kr.address);
    w
}

/// Runs a `get` to its end (bounded by the test environment's deadline), timed.
fn timed(w: &World) -> (crate::support::RunOutput, Duration) {
    let started = Instant::now();
    let out = w.helper(&["get", "-v"], &w.request());
    let took = started.elapsed();
    super::report(&out, took);
    (out, took)
}

#[test]
fn a_keyring_daemon_that_stops_answering() {
    let dir = tempfile::tempdir().expect("a directory for the keyring");
    let Some(kr) = PrivateKeyring::start(dir.path()) else {
        return;
    };

    // `cache: keyring`: frozen while the token request is in flight, after
    // the lookup and before the save.
    let w = world(&kr, "keyring");
    let latency = Duration::from_secs(2);
    w.entra.set_delay(Some(latency));
    let started = Instant::now();
    let child = super::spawn_get(&w, &["-v"]);
    let deadline = Instant::now() + SLACK;
    while w.token_requests() == 0 {
        assert!(Instant::now() < deadline, "the get never asked Entra");
        std::thread::sleep(Duration::from_millis(5));
    }
    kr.signal_keyring(libc::SIGSTOP);
    let out = child.wait_with_output().expect("the get ends");
    let took = started.elapsed();
    eprintln!("keyring frozen mid-run: get ended in {took:.1?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    crate::support::assert_no_leak("stderr", &stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("could not store the token"),
        "frozen before the save: {stderr}"
    );
    assert_eq!(Some(&token_of(&stdout)), w.entra.issued_tokens().first());
    // The save's lookup times out, and with it the save.
    assert!(took <= latency + CALL_TIMEOUT * 2 + SLACK, "{took:?}");
    w.entra.set_delay(None);

    // Still frozen: opening the keyring times out, the token is served
    // uncached and said so, and `cache list` still answers.
    let (out, took) = timed(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr.contains("unusable here") && out.stderr.contains("Secret Service"),
        "{}",
        out.stderr
    );
    assert_eq!(w.token_requests(), 2);
    assert!(took <= CALL_TIMEOUT * 2 + SLACK, "{took:?}");
    cache_row(&w);

    // `auto`: a token the kernel-keyring front holds needs no bus at all.
    kr.signal_keyring(libc::SIGCONT);
    let front = world(&kr, "auto");
    let first = front.helper(&["get", "-vv"], &front.request());
    assert!(first.status.success(), "{}", first.stderr);
    let kernel_front = first
        .stderr
        .contains("using the secret-service+keyutils store");
    kr.signal_keyring(libc::SIGSTOP);
    if skip_unless(
        kernel_front,
        Ci::MayLack,
        "the front half, as the kernel keyring is unusable here",
    ) {
        let (out, took) = timed(&front);
        assert!(out.status.success(), "{}", out.stderr);
        assert_eq!(token_of(&out.stdout), token_of(&first.stdout));
        assert_eq!(front.token_requests(), 1);
        assert!(took < CALL_TIMEOUT, "no D-Bus call: {took:?}");
    }

    kr.signal_keyring(libc::SIGCONT);

    // The bus daemon itself frozen: libdbus would wait for it without end;
    // the helper gives up on the keyring after its connect timeout.
    kr.signal_bus(libc::SIGSTOP);
    let started = Instant::now();
    let out = w.helper(&["get", "-vv"], &w.request());
    let took = started.elapsed();
    super::report(&out, took);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr.contains("the D-Bus session bus did not answer"),
        "{}",
        out.stderr
    );
    assert!(took <= CALL_TIMEOUT * 2 + SLACK, "{took:?}");
    cache_row(&w);
    kr.signal_bus(libc::SIGCONT);

    // Answering again: the next get caches its fresh token there, and the
    // one after is served from it; nothing from the frozen time is left.
    let (out, _) = timed(&w);
    assert!(out.status.success(), "{}", out.stderr);
    let token = token_of(&out.stdout);
    let (again, _) = timed(&w);
    assert_eq!(token_of(&again.stdout), token);
    let row = cache_row(&w);
    assert!(
        row.contains("secret-service") && row.contains("fresh"),
        "{row}"
    );
    for world in [&w, &front] {
        world.helper(&["cache", "clear"], "");
    }
}
