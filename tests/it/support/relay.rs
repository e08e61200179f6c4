//! What the TLS front (support/tls.rs) and the test proxy (support/proxy.rs)
//! share: a loopback accept loop that runs each connection on its own thread,
//! at most [`MAX_CONNECTIONS`] at a time, and stops on drop; and a two-way byte
//! relay between two sockets. Every socket gets [`IO_TIMEOUT`] on reads and
//! writes, so a client that stalls ends its connection instead of a test.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a read or write on any relayed socket may block (an idle
/// keep-alive connection is closed after that; clients reconnect).
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 64;

/// The sockets and threads of live connections, shared with the accept loop.
#[derive(Default)]
struct Live {
    /// Clones of every socket a connection uses, by connection id, so that a
    /// drop can shut them down and unblock the threads reading them.
    sockets: Mutex<Vec<(u64, TcpStream)>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_id: AtomicU64,
}

/// Lets a connection's handler register the sockets it opens (the backend or
/// upstream side) so that stopping the acceptor unblocks them too.
pub struct Tracker {
    id: u64,
    live: Arc<Live>,
}

impl Tracker {
    /// Registers `socket` (a clone is kept until the connection ends) and sets
    /// its timeouts and `TCP_NODELAY` (see `nodelay_listener` for why).
    pub fn track(&self, socket: &TcpStream) {
        // Failing to set an option on a fresh loopback socket would be a bug in the test machine.
        socket
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("set a read timeout");
        socket
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("set a write timeout");
        socket.set_nodelay(true).expect("set TCP_NODELAY");
        if let Ok(clone) = socket.try_clone() {
            lock(&self.live.sockets).push((self.id, clone));
        }
    }

    /// Shuts this connection's sockets down and forgets them: the clones held
    /// here would otherwise keep them open after the handler dropped its own.
    fn close(&self) {
        lock(&self.live.sockets).retain(|(id, s)| {
            if *id == self.id {
                let _ = s.shutdown(Shutdown::Both);
            }
            *id != self.id
        });
    }
}

/// A listener on `127.0.0.1:0` whose connections each run `handle` on a thread.
pub struct Acceptor {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    live: Arc<Live>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    /// Binds an ephemeral loopback port; `handle` gets each accepted socket
    /// (already tracked) and the tracker for the sockets it opens itself.
    pub fn start(handle: impl Fn(TcpStream, &Tracker) + Send + Sync + 'static) -> Acceptor {
        let listener = super::nodelay_listener();
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Live::default());
        let handle = Arc::new(handle);
        let thread = {
            let (stop, live) = (stop.clone(), live.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // An accept error is about one connection; keep serving the others.
                    let Ok(stream) = stream else { continue };
                    let mut threads = lock(&live.threads);
                    threads.retain(|t| !t.is_finished());
                    if threads.len() >= MAX_CONNECTIONS {
                        continue; // dropping `stream` closes it: the client sees a reset
                    }
                    let id = live.next_id.fetch_add(1, Ordering::SeqCst);
                    let tracker = Tracker {
                        id,
                        live: live.clone(),
                    };
                    tracker.track(&stream);
                    let handle = handle.clone();
                    threads.push(std::thread::spawn(move || {
                        handle(stream, &tracker);
                        tracker.close();
                    }));
                }
            })
        };
        Acceptor {
            addr,
            stop,
            live,
            thread: Some(thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Acceptor {
    /// Stops accepting, shuts every live socket down (which ends the reads
    /// their threads block in) and waits for the threads.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so that the loop sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for (_, s) in lock(&self.live.sockets).iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.live.threads));
        for t in threads {
            // A panicking handler already failed the test that caused it.
            let _ = t.join();
        }
    }
}

/// Copies bytes both ways between `a` and `b` until both directions end. The
/// end of one direction is passed on as a half-close, so a peer that stops
/// sending still gets the rest of its answer; a failure (a timeout, a reset)
/// closes both sockets.
pub fn pipe(a: &TcpStream, b: &TcpStream) {
    std::thread::scope(|s| {
        s.spawn(|| one_way(a, b));
        one_way(b, a);
    });
}

/// Copies `from` into `to` until `from` ends.
fn one_way(from: &TcpStream, to: &TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match (&*from).read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) if (&*to).write_all(&buf[..n]).is_ok() => {}
            _ => {
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Locks `m`, ignoring poisoning: a panicked connection thread must not stop the others.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
