//! Test support: fake Entra and Azure DevOps servers, an isolated environment per test, TLS
//! fronts and a proxy to put the fakes behind (`tls`, `proxy`), the ready-made worlds built of
//! them (`world`, `mi_world`, `tls_world`), and a registry of every secret and
//! token so that tests can prove none of them leak.

pub mod ado;
pub mod authorize;
pub mod cargo;
pub mod cert;
pub mod entra;
pub mod env;
#[cfg(unix)]
pub mod fake_tool;
pub mod imds;
pub mod jwt;
pub mod keyvault;
pub mod mi_world;
pub mod oidc;
#[cfg(unix)]
pub mod private_keyring;
pub mod proxy;
pub mod relay;
pub mod scan;
pub mod skip;
pub mod terminal;
// The self-tests of this support code, in the test crate only (the demo and
// the bench include this module too).
#[cfg(all(test, unix))]
mod tests;
#[cfg(all(test, unix))]
mod tests_tls;
pub mod tls;
pub mod tls_world;
pub mod world;

pub use ado::{AdoRequest, FakeAdo, SeenAuth};
pub use entra::{Delivery, FakeEntra, Federation, Scripted};
pub use env::{RunOutput, TestEnv, check_output};
pub use imds::{CLOUD_SHELL_USER, FakeImds, MiKind};
pub use keyvault::{FakeKeyVault, VAULT_RESOURCE};
pub use oidc::{EXCHANGE_AUDIENCE, FakeOidc};
#[cfg(unix)]
pub use private_keyring::PrivateKeyring;
pub use skip::{Ci, skip_unless};
#[cfg(unix)]
pub use skip::{secret_service_available, skip};

use ring::rand::{SecureRandom as _, SystemRandom};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

/// The Azure DevOps resource (application) ID that tokens must be issued for.
pub const ADO_RESOURCE: &str = "499b84ac-1321-427f-aa17-267ca6975798";

/// Records `s` as a secret (never anywhere); see [`scan`] for the other kinds.
pub fn register_sensitive(s: &str) {
    scan::register(scan::Kind::Secret, s);
}

/// Panics, naming `what` but not the value, if `text` holds any registered
/// value (access tokens included): for stderr, traces and panic messages.
pub fn assert_no_leak(what: &str, text: &str) {
    scan::assert_clean(what, text, scan::Place::Anywhere);
}

/// A tiny_http server on `127.0.0.1:0` whose accept loop runs on a background thread.
pub struct BackgroundServer {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl BackgroundServer {
    /// Binds an ephemeral port and passes each request to `handle`, in order, on the server thread.
    pub fn start(mut handle: impl FnMut(tiny_http::Request) + Send + 'static) -> BackgroundServer {
        let server = tiny_http::Server::from_listener(nodelay_listener(), None)
            .expect("serve on the loopback listener");
        let server = Arc::new(server);
        let addr = server
            .server_addr()
            .to_ip()
            .expect("a TCP listener has an IP");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop) = (server.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // Errors are per-connection accept failures or our own unblock(); re-check stop.
                    if let Ok(rq) = server.recv() {
                        handle(rq);
                    }
                }
            })
        };
        BackgroundServer {
            server,
            stop,
            thread: Some(thread),
            addr,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests and waits for the loop to exit; idempotent.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            // A panic in the handler already failed the test that caused it.
            let _ = t.join();
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sets a unix mode on `path`. Windows has no modes (the profile's ACLs
/// protect files there), so this does nothing on Windows.
pub fn chmod(path: &std::path::Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// A listener on `127.0.0.1:0` with `TCP_NODELAY` set, which Linux copies to every accepted
/// connection. tiny_http writes a response's headers and its body separately; without it,
/// Nagle holds the body back until the client ACKs the headers, and a client that delays
/// its ACK adds ~40 ms to a request — which would inflate every clone timed against a fake.
pub fn nodelay_listener() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        let on: libc::c_int = 1;
        // SAFETY: a live socket, and a pointer to an int of the size passed.
        let r = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&raw const on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(
            r,
            0,
            "setsockopt(TCP_NODELAY): {}",
            std::io::Error::last_os_error()
        );
    }
    listener
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// `N` bytes from the system RNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system RNG should not fail");
    buf
}

/// Formats the first 16 bytes of `bytes` as a lowercase 8-4-4-4-12 GUID.
pub fn guid_from_bytes(bytes: &[u8]) -> String {
    let hex: String = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A fresh random GUID-shaped string.
pub fn random_guid() -> String {
    guid_from_bytes(&random_bytes::<16>())
}

/// A GUID-shaped string derived deterministically from `input` via SHA-256.
pub fn derived_guid(input: &str) -> String {
    guid_from_bytes(ring::digest::digest(&ring::digest::SHA256, input.as_bytes()).as_ref())
}

/// Whether `s` is an 8-4-4-4-12 hex GUID.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `secs` since the epoch as Entra formats timestamps: `2026-11-21 10:00:00Z`.
pub fn entra_timestamp(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm; avoids a date crate for one format string.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
