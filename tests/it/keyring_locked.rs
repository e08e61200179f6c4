//! A Secret Service whose default collection is locked, when prompts are
//! forbidden: the helper must not start the unlock prompt (nobody would
//! answer it), must not keep the token there, and must still cache it
//! elsewhere. Runs against a real gnome-keyring on a private session bus, so
//! locking it disturbs no other test.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::world::{World, token_of};

/// A private `dbus-daemon` with a gnome-keyring on it; both end on drop.
struct LockedKeyring {
    bus: Child,
    address: String,
}

impl Drop for LockedKeyring {
    fn drop(&mut self) {
        // gnome-keyring-daemon leaves when its bus goes away.
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// `dbus-send` on the private bus, to the Secret Service; its reply.
fn dbus_send(address: &str, args: &[&str]) -> String {
    let out = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
        ])
        .args(args)
        .output()
        .expect("run dbus-send");
    assert!(
        out.status.success(),
        "dbus-send {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `tool` is on PATH.
fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()))
}

impl LockedKeyring {
    /// Starts the bus and the keyring, then locks the default collection;
    /// `None` (skipped) when the tools are missing outside CI.
    fn start(dir: &Path) -> Option<LockedKeyring> {
        let tools = ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"];
        if let Some(missing) = tools.iter().find(|t| !have(t)) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must have {missing} (see .ci/run)"
            );
            eprintln!("SKIPPED: {missing} is not installed, so no locked keyring can be made");
            return None;
        }
        std::fs::create_dir_all(dir).expect("create the keyring's directory");
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the bus address");
        let kr = LockedKeyring {
            bus,
            address: line.trim().to_string(),
        };
        assert!(!kr.address.is_empty(), "dbus-daemon printed no address");
        // A password makes gnome-keyring create the "login" collection and
        // alias it as "default"; its files stay in the test's directory.
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DBUS_SESSION_BUS_ADDRESS", &kr.address)
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir)
            .env("XDG_RUNTIME_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        {
            use std::io::Write as _;
            let mut stdin = daemon.stdin.take().expect("piped stdin");
            stdin
                .write_all(b"throwaway-test-keyring")
                .expect("give the keyring its password");
        }
        daemon
            .wait()
            .expect("gnome-keyring-daemon forks and returns");
        let collection = kr.default_collection();
        dbus_send(
            &kr.address,
            &[
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                &format!("array:objpath:{collection}"),
            ],
        );
        assert!(kr.is_locked(&collection), "the collection did not lock");
        Some(kr)
    }

    /// The object path the `default` alias names.
    fn default_collection(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("dbus-send")
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.secrets",
                ])
                .args([
                    "/org/freedesktop/secrets",
                    "org.freedesktop.Secret.Service.ReadAlias",
                    "string:default",
                ])
                .output()
                .expect("run dbus-send");
            let reply = String::from_utf8_lossy(&out.stdout);
            if let Some(path) = reply
                .split('"')
                .find(|p| p.starts_with("/org/freedesktop/secrets/collection/"))
            {
                return path.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no default collection: {reply}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn is_locked(&self, collection: &str) -> bool {
        dbus_send(
            &self.address,
            &[
                collection,
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ],
        )
        .contains("boolean true")
    }

    /// How many items (locked or not) carry the helper's service name.
    fn helper_items(&self) -> usize {
        dbus_send(
            &self.address,
            &[
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.SearchItems",
                "dict:string:string:service,git-credential-entra",
            ],
        )
        .matches("object path \"/org/freedesktop/secrets/collection/")
        .count()
    }
}

/// `auto` with prompts forbidden: the token is served at once, cached
/// outside the locked collection (the kernel keyring, else a file), reused
/// by the next `get`, and the collection stays locked and untouched.
#[test]
fn a_locked_secret_service_is_skipped_when_prompts_are_forbidden() {
    let mut w = World::with_cache("auto");
    let Some(kr) = LockedKeyring::start(&w.env.path().join("keyring")) else {
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
    let Some(kr) = LockedKeyring::start(&w.env.path().join("keyring")) else {
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
