//! `TestProxy`: a corporate HTTP proxy on loopback. It tunnels `CONNECT
//! host:port` to the address a test routed that name to, or to a loopback IP
//! literal; anything else gets 502. It never resolves a name, so a client that
//! sends everything through it asks DNS nothing. Optionally it demands Basic
//! proxy credentials (407 without them), as many corporate proxies do.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::register_sensitive;
use super::relay::{Acceptor, Tracker, lock, pipe};

/// The most a request head may take; a longer one is refused.
const MAX_HEAD: usize = 16 * 1024;
/// The realm of the 407 challenge.
pub const REALM: &str = "test-proxy";

/// One request the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// `CONNECT` (or the method of a plain proxied request, which is refused).
    pub method: String,
    /// The request target: `host:port` for CONNECT, the absolute URL otherwise.
    pub target: String,
    /// Whether the request passed proxy authentication: true when the proxy
    /// demands none, or the right `Proxy-Authorization: Basic` came with it.
    pub authorized: bool,
    /// The status the proxy answered (200 for a tunnel).
    pub status: u16,
}

/// What the connection threads share.
#[derive(Default)]
struct Shared {
    routes: Mutex<Vec<(String, SocketAddr)>>,
    /// The `Proxy-Authorization` value that passes, if any is demanded.
    expected: Option<String>,
    seen: Mutex<Vec<Connect>>,
}

/// An HTTP proxy on `127.0.0.1`; stops when dropped.
pub struct TestProxy {
    shared: Arc<Shared>,
    acceptor: Acceptor,
}

impl TestProxy {
    /// A proxy that lets anyone through.
    pub fn start() -> TestProxy {
        TestProxy::serve(Shared::default())
    }

    /// A proxy that demands Basic `user`:`pass` (the password is registered
    /// with the leak scanner, and so is the header value carrying it).
    pub fn with_credentials(user: &str, pass: &str) -> TestProxy {
        register_sensitive(pass);
        let encoded = STANDARD.encode(format!("{user}:{pass}"));
        register_sensitive(&encoded);
        TestProxy::serve(Shared {
            expected: Some(format!("Basic {encoded}")),
            ..Shared::default()
        })
    }

    fn serve(shared: Shared) -> TestProxy {
        let shared = Arc::new(shared);
        let acceptor = {
            let shared = shared.clone();
            Acceptor::start(move |client, tracker| serve(&shared, client, tracker))
        };
        TestProxy { shared, acceptor }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.acceptor.addr())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr()
    }

    /// Tunnels `CONNECT name_port` (e.g. `dev.azure.com:443`) to `to`.
    pub fn route(&self, name_port: &str, to: SocketAddr) {
        let mut routes = lock(&self.shared.routes);
        routes.retain(|(n, _)| !n.eq_ignore_ascii_case(name_port));
        routes.push((name_port.to_owned(), to));
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Connect> {
        lock(&self.shared.seen).clone()
    }

    /// The targets of the tunnels opened so far (status 200).
    pub fn tunnels(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|c| c.status == 200)
            .map(|c| c.target)
            .collect()
    }
}

/// One client connection: requests until one opens a tunnel, is refused, or
/// the client leaves. A 407 keeps the connection, as real proxies do, so that
/// a client can answer the challenge on it.
fn serve(shared: &Shared, client: TcpStream, tracker: &Tracker) {
    let mut pending = Vec::new();
    loop {
        let Some(head) = read_head(&client, &mut pending) else {
            return;
        };
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, target) = (
            first.next().unwrap_or_default(),
            first.next().unwrap_or_default(),
        );
        let authorized = shared.expected.as_deref().is_none_or(|want| {
            lines
                .filter_map(|l| l.split_once(':'))
                .any(|(k, v)| k.eq_ignore_ascii_case("proxy-authorization") && v.trim() == want)
        });
        let upstream = (method.eq_ignore_ascii_case("CONNECT") && authorized)
            .then(|| upstream(shared, target))
            .flatten();
        let status = match (&upstream, authorized) {
            (_, false) => 407,
            (Some(_), true) => 200,
            (None, true) => 502,
        };
        lock(&shared.seen).push(Connect {
            method: method.to_owned(),
            target: target.to_owned(),
            authorized,
            status,
        });
        let answer = match status {
            200 => "HTTP/1.1 200 Connection established\r\n\r\n".to_owned(),
            407 => format!(
                "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"{REALM}\"\r\nContent-Length: 0\r\n\r\n"
            ),
            _ => "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_owned(),
        };
        if (&client).write_all(answer.as_bytes()).is_err() {
            return;
        }
        match (status, upstream) {
            (200, Some(up)) => {
                tracker.track(&up);
                // Bytes the client sent right behind the CONNECT head belong to the tunnel.
                if (&up).write_all(&pending).is_ok() {
                    pipe(&client, &up);
                }
                return;
            }
            // A plain request may carry a body this proxy does not read: close.
            (407, _) if method.eq_ignore_ascii_case("CONNECT") => {}
            _ => return,
        }
    }
}

/// Where a CONNECT to `target` goes: a routed name, or a loopback IP literal.
/// Never a name lookup.
fn upstream(shared: &Shared, target: &str) -> Option<TcpStream> {
    let routed = lock(&shared.routes)
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(target))
        .map(|(_, a)| *a);
    let to = routed.or_else(|| {
        let (host, port) = target.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = host.parse().ok()?;
        let port: u16 = port.parse().ok()?;
        ip.is_loopback().then_some(SocketAddr::new(ip, port))
    })?;
    TcpStream::connect_timeout(&to, super::relay::IO_TIMEOUT).ok()
}

/// Reads one request head (up to the blank line) from `client`; the bytes
/// after it stay in `pending`. None when the client leaves or the head is too long.
fn read_head(client: &TcpStream, pending: &mut Vec<u8>) -> Option<String> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            pending.drain(..end + 4);
            return Some(head);
        }
        if pending.len() > MAX_HEAD {
            return None;
        }
        match (&*client).read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}
