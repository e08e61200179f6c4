//! A Secret Service daemon that stops answering mid-run: a real
//! gnome-keyring on a private session bus, frozen with SIGSTOP while a `get`
//! is in flight. Every D-Bus call the helper makes is bounded (the Secret
//! Service client gives each call [`CALL_TIMEOUT`]), so git still gets its
//! token in seconds; nothing half-written is left; a token the kernel-keyring
//! front holds is served without the bus; and once the daemon answers again,
//! tokens are cached there again. The same for the bus daemon itself.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{SLACK, cache_row};
use crate::world::{World, token_of};

/// The Secret Service client's timeout for every D-Bus method call (the
/// proxies of dbus-secret-service, which the helper uses, wait 2 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A private `dbus-daemon` with an unlocked gnome-keyring on it; both end
/// on drop (the keyring killed even when frozen).
struct Keyring {
    log: std::path::PathBuf,
    bus: Child,
    daemon: Child,
    address: String,
}

impl Drop for Keyring {
    fn drop(&mut self) {
        for child in [&mut self.daemon, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `tool` is on PATH.
fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()))
}

impl Keyring {
    /// Starts both, and waits until the keyring's default collection
    /// answers; `None` (skipped) when the tools are missing outside CI.
    fn start(dir: &Path) -> Option<Keyring> {
        let tools = ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"];
        if let Some(missing) = tools.iter().find(|t| !have(t)) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must have {missing} (see .ci/run)"
            );
            eprintln!("SKIPPED: {missing} is not installed, so no keyring can be frozen");
            return None;
        }
        std::fs::create_dir_all(dir).expect("create the keyring's directory");
        // Its own environment: a service it starts on demand (before ours
        // owns the name) must not reach the real HOME.
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir)
            .env("XDG_RUNTIME_DIR", dir)
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().expect("piped stdout"))
            .read_line(&mut address)
            .expect("read the bus address");
        let address = address.trim().to_string();
        // In the foreground, so that this child is the daemon to freeze; a
        // password makes it create and unlock a default collection, whose
        // files stay in the test's directory.
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir)
            .env("XDG_RUNTIME_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("daemon.log")).expect("log"))
            .spawn()
            .expect("start gnome-keyring-daemon");
        daemon
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(b"throwaway-test-keyring")
            .expect("give the keyring its password");
        let kr = Keyring {
            log: dir.join("daemon.log"),
            bus,
            daemon,
            address,
        };
        kr.wait_for_default_collection();
        Some(kr)
    }

    /// Polls until our daemon owns the Secret Service's name (asking the
    /// bus, which would otherwise start another keyring on demand), then
    /// until its `default` alias names a collection.
    fn wait_for_default_collection(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let ask = |dest: &str, path: &str, method: &str, arg: &str| {
            let out = Command::new("dbus-send")
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .args(["--session", "--print-reply", "--reply-timeout=1000"])
                .arg(format!("--dest={dest}"))
                .args([path, method, arg])
                .output()
                .expect("run dbus-send");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let mut owned = false;
        loop {
            owned = owned
                || ask(
                    "org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                )
                .contains("boolean true");
            if owned
                && ask(
                    "org.freedesktop.secrets",
                    "/org/freedesktop/secrets",
                    "org.freedesktop.Secret.Service.ReadAlias",
                    "string:default",
                )
                .contains("/org/freedesktop/secrets/collection/")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the keyring did not come up: {:?}",
                std::fs::read_to_string(&self.log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the keyring daemon: the bus
    /// still takes calls for it, and nothing answers them.
    fn signal(&self, signal: libc::c_int) {
        send(&self.daemon, signal);
    }

    /// Freezes or thaws the bus daemon itself: connections are accepted by
    /// the kernel, and nothing answers on them.
    fn signal_bus(&self, signal: libc::c_int) {
        send(&self.bus, signal);
    }
}

fn send(child: &Child, signal: libc::c_int) {
    // SAFETY: signalling our own child, which has not been reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "signal {}", child.id());
}

/// The standard world with cache `mode`, on the keyring's bus.
fn world(kr: &Keyring, mode: &str) -> World {
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
    let Some(kr) = Keyring::start(dir.path()) else {
        return;
    };

    // `cache: keyring`: frozen while the token request is in flight, after
    // the lookup and before the save.
    let w = world(&kr, "keyring");
    let latency = Duration::from_secs(2);
    w.entra.set_delay(Some(latency));
    let started = Instant::now();
    let mut child = w
        .env
        .helper()
        .args(["get", "-v"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the helper");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(w.request().as_bytes())
        .expect("write the request");
    let deadline = Instant::now() + SLACK;
    while w.token_requests() == 0 {
        assert!(Instant::now() < deadline, "the get never asked Entra");
        std::thread::sleep(Duration::from_millis(5));
    }
    kr.signal(libc::SIGSTOP);
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
    kr.signal(libc::SIGCONT);
    let front = world(&kr, "auto");
    let first = front.helper(&["get", "-vv"], &front.request());
    assert!(first.status.success(), "{}", first.stderr);
    let kernel_front = first
        .stderr
        .contains("using the secret-service+keyutils store");
    kr.signal(libc::SIGSTOP);
    if kernel_front {
        let (out, took) = timed(&front);
        assert!(out.status.success(), "{}", out.stderr);
        assert_eq!(token_of(&out.stdout), token_of(&first.stdout));
        assert_eq!(front.token_requests(), 1);
        assert!(took < CALL_TIMEOUT, "no D-Bus call: {took:?}");
    } else {
        eprintln!("SKIPPED (front half): the kernel keyring is unusable here");
    }

    kr.signal(libc::SIGCONT);

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
