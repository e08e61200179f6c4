//! A TCP front for the fake Entra that breaks connections in ways the fake
//! (an HTTP server that keeps its connections) cannot: a reset (RST), and
//! an answer cut short by the connection closing (FIN) halfway through the
//! body. Connections with no fault queued pass through unchanged.

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::world::{CLIENT, TENANT, World};

/// What happens to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The request is read, then the connection is reset (RST).
    Reset,
    /// The request reaches Entra; its answer's head and half its body come
    /// back, then the connection closes.
    Cut,
}

#[derive(Default)]
struct Faults {
    queue: VecDeque<Fault>,
    forever: Option<Fault>,
}

/// The front; stops accepting when dropped.
pub struct Front {
    port: u16,
    faults: Arc<Mutex<Faults>>,
    stop: Arc<AtomicBool>,
}

impl Front {
    /// Starts a front for `w`'s Entra and points `w`'s config at it.
    pub fn start(w: &World) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let upstream = w.entra.url().trim_start_matches("http://").to_string();
        let faults = Arc::new(Mutex::new(Faults::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (faults.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let fault = {
                    let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                    f.queue.pop_front().or(f.forever)
                };
                let upstream = upstream.clone();
                std::thread::spawn(move || match fault {
                    Some(Fault::Reset) => reset(conn),
                    Some(Fault::Cut) => cut(conn, &upstream),
                    None => pass(conn, &upstream),
                });
            }
        });
        let front = Front { port, faults, stop };
        w.env.write_config(&format!(
            r#"{{
  "identities": {{
    "ci": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_env": "CI_SECRET" }}
  }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "ci" }} ],
  "hosts": [ "{base}" ],
  "authority_host": "http://127.0.0.1:{port}"
}}"#,
            base = w.ado.base_url()
        ));
        front
    }

    /// Queues a fault for the next connection (FIFO).
    pub fn push(&self, fault: Fault) {
        self.lock().queue.push_back(fault);
    }

    /// When `Some`, every connection (once the queue is empty) gets it.
    pub fn set_forever(&self, fault: Option<Fault>) {
        self.lock().forever = fault;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads what the client sent, then closes with SO_LINGER 0: the kernel
/// answers with a RST, as a middlebox dropping the connection does.
fn reset(mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.read(&mut [0u8; 16 * 1024]);
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor, and a pointer to a live `linger`
    // of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "set SO_LINGER");
}

/// Passes the request on, then sends back the answer's head and half its
/// body (by its Content-Length), and closes.
fn cut(client: TcpStream, upstream: &str) {
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (head_end, length) = loop {
        match server.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .expect("the fake sends a Content-Length");
        break (end + 4, length);
    };
    let half = head_end + length / 2;
    while answer.len() < half {
        match server.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let mut client = client;
    let _ = client.write_all(&answer[..half.min(answer.len())]);
    let _ = client.shutdown(Shutdown::Both);
}

/// Copies bytes both ways between the client and `upstream`.
fn pass(client: TcpStream, upstream: &str) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    let _ = std::io::copy(&mut server_in, &mut client_out);
    let _ = client_out.shutdown(Shutdown::Write);
    let _ = up.join();
}
