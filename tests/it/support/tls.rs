//! Real TLS in front of the plain-http fakes: `TestCa`, a certificate
//! authority made for one test (its certificate in a PEM file that git, curl
//! or the helper can be told to trust), and `TlsFront`, a loopback listener
//! that terminates TLS with a certificate of that CA and relays the bytes,
//! unchanged, to a fake. A client that refuses the certificate shows up in
//! [`TlsFront::handshake_failures`].

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};

use super::relay::{Acceptor, Tracker, lock};

/// The rustls crypto provider of the whole crate (ring, never aws-lc).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority for one test. Its key stays in memory; its
/// certificate is written as PEM to `dir/<name>.pem`.
pub struct TestCa {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    pem_path: PathBuf,
}

impl TestCa {
    /// A new CA named `name`, its certificate written to `dir/<name>.pem`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names is valid");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("generate a CA key");
        let cert = params.self_signed(&key).expect("self-sign the CA");
        let pem_path = dir.join(format!("{name}.pem"));
        std::fs::write(&pem_path, cert.pem())
            .unwrap_or_else(|e| panic!("write {}: {e}", pem_path.display()));
        TestCa {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
            pem_path,
        }
    }

    /// The PEM file of the CA certificate.
    pub fn pem_path(&self) -> &Path {
        &self.pem_path
    }

    /// The CA certificate (for a client's root store).
    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    /// A server config presenting a new leaf certificate for `names`: DNS
    /// names, or IP addresses where a name parses as one.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(sans).expect("valid DNS names or IPs");
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("generate a leaf key");
        let leaf = params.signed_by(&key, &self.issuer).expect("sign the leaf");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .expect("a leaf and its key");
        Arc::new(config)
    }

    /// A client config trusting this CA only (for self-tests' own clients).
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der()).expect("a valid CA certificate");
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }
}

/// One connection's TLS handshake as the front saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The name the client asked for (SNI), if it sent one.
    pub sni: Option<String>,
    /// How it went.
    pub outcome: Outcome,
}

/// How a handshake went, as far as the server can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still under way.
    Pending,
    /// The client aborted it: an alert (rustls and OpenSSL refuse a
    /// certificate so) or the connection closed in the middle.
    Failed,
    /// Completed, but the client has sent no request: GnuTLS (git's libcurl
    /// on Debian) checks the certificate only after the handshake, and closes
    /// without a word when it refuses it.
    Silent,
    /// Completed, and the client sent a request over it.
    Used,
}

/// How long [`TlsFront::handshakes`] waits for handshakes under way.
const SETTLE: Duration = Duration::from_secs(10);

/// A TLS-terminating relay on `127.0.0.1` to a plain-http backend; stops when dropped.
pub struct TlsFront {
    handshakes: Arc<Mutex<Vec<Handshake>>>,
    acceptor: Acceptor,
}

impl TlsFront {
    /// Listens on `127.0.0.1:0`, presents `config`'s certificate and relays
    /// each connection's plaintext to `backend`.
    pub fn start(config: Arc<ServerConfig>, backend: SocketAddr) -> TlsFront {
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let handshakes = handshakes.clone();
            Acceptor::start(move |client, tracker| {
                serve(&config, backend, client, tracker, &handshakes);
            })
        };
        TlsFront {
            handshakes,
            acceptor,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr()
    }

    /// Every handshake so far, in order, once none is under way (a client
    /// that has exited may have left its last one for the front to finish;
    /// waits at most 10 s). Meant for after the client is done.
    pub fn handshakes(&self) -> Vec<Handshake> {
        let started = Instant::now();
        loop {
            let all = lock(&self.handshakes).clone();
            if started.elapsed() > SETTLE || all.iter().all(|h| h.outcome != Outcome::Pending) {
                return all;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The SNI names of the handshakes so far (those that sent one).
    pub fn sni_names(&self) -> Vec<String> {
        self.handshakes()
            .into_iter()
            .filter_map(|h| h.sni)
            .collect()
    }

    /// How many connections a client gave up on at the handshake: it refused
    /// the certificate (or left) during it, or right after it without a request.
    pub fn handshake_failures(&self) -> usize {
        let failed = |h: &Handshake| matches!(h.outcome, Outcome::Failed | Outcome::Silent);
        self.handshakes().iter().filter(|h| failed(h)).count()
    }
}

/// Where a connection's handshake is recorded.
struct Record<'a> {
    all: &'a Mutex<Vec<Handshake>>,
    index: usize,
}

impl Record<'_> {
    fn set(&self, sni: Option<String>, outcome: Outcome) {
        let mut all = lock(self.all);
        all[self.index].sni = sni.or(all[self.index].sni.take());
        all[self.index].outcome = outcome;
    }
}

/// One connection: the handshake (recorded), then the relay.
fn serve(
    config: &Arc<ServerConfig>,
    backend: SocketAddr,
    client: TcpStream,
    tracker: &Tracker,
    handshakes: &Mutex<Vec<Handshake>>,
) {
    // Recorded before the front says anything, so a client cannot finish first.
    let record = {
        let mut all = lock(handshakes);
        all.push(Handshake {
            sni: None,
            outcome: Outcome::Pending,
        });
        Record {
            all: handshakes,
            index: all.len() - 1,
        }
    };
    let Ok(mut conn) = ServerConnection::new(config.clone()) else {
        record.set(None, Outcome::Failed);
        return;
    };
    let mut io = &client;
    let mut result = Ok(());
    while conn.is_handshaking() && result.is_ok() {
        result = conn.complete_io(&mut io).map(|_| ());
    }
    // TLS 1.3 sends session tickets after the handshake: flush them now.
    while result.is_ok() && conn.wants_write() {
        result = conn.write_tls(&mut io).map(|_| ());
    }
    let sni = conn.server_name().map(str::to_owned);
    if result.is_err() {
        record.set(sni, Outcome::Failed);
        // Passes on the alert rustls queued (if any) for a cleaner client error.
        let _ = conn.write_tls(&mut io);
        return;
    }
    record.set(sni, Outcome::Silent);
    let Ok(upstream) = TcpStream::connect(backend) else {
        return;
    };
    tracker.track(&upstream);
    let conn = Mutex::new(conn);
    std::thread::scope(|s| {
        s.spawn(|| client_to_backend(&conn, &client, &upstream, &record));
        backend_to_client(&conn, &client, &upstream);
    });
}

/// Decrypts what the client sends and writes it to the backend, until the
/// client closes (then half-closes the backend) or fails (then closes both).
fn client_to_backend(
    conn: &Mutex<ServerConnection>,
    client: &TcpStream,
    upstream: &TcpStream,
    record: &Record<'_>,
) {
    let mut buf = [0u8; 16 * 1024];
    let mut plain = Vec::new();
    // The handshake may have read the first request along with the client's
    // Finished: it waits in rustls, and no new bytes from the client may come
    // until it is answered.
    let (mut ok, mut closed) = (true, false);
    drain(&mut lock(conn), &mut plain, &mut closed, &mut ok);
    let ended_cleanly = loop {
        // Before the request goes on: once it is answered, a test may look.
        if ok && !plain.is_empty() {
            record.set(None, Outcome::Used);
        }
        if !ok || (&*upstream).write_all(&plain).is_err() {
            break false;
        }
        plain.clear();
        if closed {
            break true;
        }
        // Reads outside the lock: the other direction keeps encrypting meanwhile.
        let n = match (&*client).read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => n,
            Err(_) => break false,
        };
        let mut c = lock(conn);
        let mut tls = &buf[..n];
        while ok && !closed && !tls.is_empty() {
            ok = c.read_tls(&mut tls).is_ok() && c.process_new_packets().is_ok();
            drain(&mut c, &mut plain, &mut closed, &mut ok);
        }
        // Answers to the client's own records (a key update) go out now.
        ok = ok && flush_tls(&mut c, client);
    };
    if ended_cleanly {
        let _ = upstream.shutdown(Shutdown::Write);
    } else {
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
    }
}

/// Appends the plaintext `c` holds to `plain`; sets `closed` when the client
/// sent close_notify, clears `ok` on a TLS error.
fn drain(c: &mut ServerConnection, plain: &mut Vec<u8>, closed: &mut bool, ok: &mut bool) {
    let mut chunk = [0u8; 16 * 1024];
    while *ok && !*closed {
        match c.reader().read(&mut chunk) {
            Ok(0) => *closed = true,
            Ok(n) => plain.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => *ok = false,
        }
    }
}

/// Encrypts what the backend answers and sends it to the client, until the
/// backend closes (then close_notify and a half-close) or fails.
fn backend_to_client(conn: &Mutex<ServerConnection>, client: &TcpStream, upstream: &TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match (&*upstream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => {
                let _ = client.shutdown(Shutdown::Both);
                let _ = upstream.shutdown(Shutdown::Both);
                return;
            }
        };
        let mut c = lock(conn);
        if c.writer().write_all(&buf[..n]).is_err() || !flush_tls(&mut c, client) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            return;
        }
    }
    let mut c = lock(conn);
    c.send_close_notify();
    flush_tls(&mut c, client);
    let _ = client.shutdown(Shutdown::Write);
}

/// Writes every pending TLS record to the client; false if that fails.
fn flush_tls(c: &mut ServerConnection, client: &TcpStream) -> bool {
    let mut io = client;
    while c.wants_write() {
        if c.write_tls(&mut io).is_err() {
            return false;
        }
    }
    true
}
