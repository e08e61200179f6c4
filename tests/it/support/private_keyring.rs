//! A real gnome-keyring on a private D-Bus session bus, for tests that lock,
//! freeze or inspect a Secret Service without disturbing any other test.
//! Both daemons get their own environment (HOME, XDG dirs under the test's
//! directory), so a service the bus starts on demand never reaches the real
//! HOME, and both end on drop (the keyring killed even when frozen).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Ci, skip};

/// The Secret Service's well-known name and object.
const SERVICE: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";

/// A private `dbus-daemon` with an unlocked gnome-keyring on it.
pub struct PrivateKeyring {
    /// The bus address, for the helper's `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
    /// Its directory: HOME and the XDG directories of everything it runs.
    dir: PathBuf,
    log: PathBuf,
    bus: Child,
    daemon: Child,
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        for child in [&mut self.daemon, &mut self.bus] {
            // A frozen daemon still dies of SIGKILL.
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

/// A command whose whole environment is the keyring's own, under `dir`.
fn isolated(program: &str, dir: &Path) -> Command {
    let mut c = super::env::isolated(program, dir);
    c.env("XDG_DATA_HOME", dir).env("XDG_RUNTIME_DIR", dir);
    c
}

impl PrivateKeyring {
    /// Starts the bus and the keyring (in the foreground, so that the child
    /// is the daemon to freeze), and waits until the keyring owns the
    /// Secret Service's name and its `default` alias names a collection.
    /// `None` (the test is skipped) when the tools are missing outside CI.
    pub fn start(dir: &Path) -> Option<PrivateKeyring> {
        let tools = ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"];
        if let Some(missing) = tools.iter().find(|t| !have(t)) {
            let reason = format!("{missing} is not installed, so no private keyring can be made");
            skip(Ci::Provides, reason);
            return None;
        }
        std::fs::create_dir_all(dir).expect("create the keyring's directory");
        let mut bus = isolated("dbus-daemon", dir)
            .args(["--session", "--nofork", "--print-address=1"])
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
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        // A password makes gnome-keyring create and unlock a default
        // collection, whose files stay in the test's directory.
        let log = dir.join("daemon.log");
        let mut daemon = isolated("gnome-keyring-daemon", dir)
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the keyring's log"))
            .spawn()
            .expect("start gnome-keyring-daemon");
        daemon
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(b"throwaway-test-keyring")
            .expect("give the keyring its password");
        let kr = PrivateKeyring {
            address,
            dir: dir.to_path_buf(),
            log,
            bus,
            daemon,
        };
        kr.wait_until_ready();
        Some(kr)
    }

    /// `dbus-send --print-reply` on the private bus; its stdout, or `None`
    /// when the call failed.
    fn call(&self, dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
        let out = isolated("dbus-send", &self.dir)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--session", "--print-reply", "--reply-timeout=2000"])
            .arg(format!("--dest={dest}"))
            .args([path, method])
            .args(args)
            .output()
            .expect("run dbus-send");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A call to the Secret Service that must succeed; its reply.
    fn secrets(&self, path: &str, method: &str, args: &[&str]) -> String {
        self.call(SERVICE, path, method, args)
            .unwrap_or_else(|| panic!("Secret Service call {method} {args:?} failed"))
    }

    /// Polls until our daemon owns the Secret Service's name (asking the
    /// bus, which would otherwise start another keyring on demand), then
    /// until its `default` alias names a collection.
    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut owned = false;
        loop {
            owned = owned
                || self
                    .call(
                        "org.freedesktop.DBus",
                        "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.NameHasOwner",
                        &[&format!("string:{SERVICE}")],
                    )
                    .is_some_and(|r| r.contains("boolean true"));
            if owned && self.try_default_collection().is_some() {
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

    fn try_default_collection(&self) -> Option<String> {
        let reply = self.call(
            SERVICE,
            SERVICE_PATH,
            "org.freedesktop.Secret.Service.ReadAlias",
            &["string:default"],
        )?;
        reply
            .split('"')
            .find(|p| p.starts_with("/org/freedesktop/secrets/collection/"))
            .map(str::to_string)
    }

    /// The object path the `default` alias names.
    pub fn default_collection(&self) -> String {
        self.try_default_collection()
            .expect("the keyring has a default collection")
    }

    /// Locks the default collection, as a screen lock or a reboot would.
    pub fn lock_default(&self) {
        let collection = self.default_collection();
        self.secrets(
            SERVICE_PATH,
            "org.freedesktop.Secret.Service.Lock",
            &[&format!("array:objpath:{collection}")],
        );
        assert!(self.is_locked(&collection), "the collection did not lock");
    }

    /// Whether `collection` is locked.
    pub fn is_locked(&self, collection: &str) -> bool {
        self.secrets(
            collection,
            "org.freedesktop.DBus.Properties.Get",
            &["string:org.freedesktop.Secret.Collection", "string:Locked"],
        )
        .contains("boolean true")
    }

    /// How many items (locked or not) carry the helper's service name.
    pub fn helper_items(&self) -> usize {
        self.secrets(
            SERVICE_PATH,
            "org.freedesktop.Secret.Service.SearchItems",
            &["dict:string:string:service,git-credential-entra"],
        )
        .matches("object path \"/org/freedesktop/secrets/collection/")
        .count()
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the keyring daemon: the bus
    /// still takes calls for it, and nothing answers them.
    pub fn signal_keyring(&self, signal: libc::c_int) {
        send(&self.daemon, signal);
    }

    /// Freezes or thaws the bus daemon itself: connections are accepted by
    /// the kernel, and nothing answers on them.
    pub fn signal_bus(&self, signal: libc::c_int) {
        send(&self.bus, signal);
    }
}

fn send(child: &Child, signal: libc::c_int) {
    // SAFETY: signalling our own child, which has not been reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "signal {}", child.id());
}
