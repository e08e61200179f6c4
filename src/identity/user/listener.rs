//! The browser sign-in's loopback listener, the redirect address
//! `http://localhost:{port}`.
//!
//! A browser may resolve `localhost` to 127.0.0.1 or to ::1, so the port is
//! held on both where the machine has IPv6: left free on ::1, it could be
//! bound by another local user, whose program would then receive the code.
//!
//! Any local program can connect, so nothing a client does may hold the
//! sign-in up: one non-blocking loop (no threads) serves every connection at
//! once, each with a deadline for its whole request, and only a redirect
//! carrying this sign-in's `state` ends the wait, which never outlives the
//! sign-in's own limit.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::sys::secret::Secret;

use super::authorize::{Redirect, read_redirect};

/// How long a connection has to send its request head and read the answer.
/// A browser sends its request as soon as it connects.
const REQUEST_LIMIT: Duration = Duration::from_secs(5);
/// How long the browser that brought the answer has to read its page.
const LAST_PAGE_LIMIT: Duration = Duration::from_secs(2);
/// The longest request head read: the answer is in its first line.
const MAX_HEAD: usize = 16 * 1024;
/// Connections waiting at once; beyond it the oldest is dropped.
const MAX_CONNECTIONS: usize = 32;
/// Tries to find a port free on both loopback addresses.
const BIND_TRIES: usize = 20;
/// The pause when no client is connecting.
const IDLE: Duration = Duration::from_millis(10);

/// How a wait ended.
pub type Outcome = Result<Secret<String>, String>;

/// The listening sockets, one port.
pub struct Loopback {
    listeners: Vec<TcpListener>,
    port: u16,
}

impl Loopback {
    /// Listens on a port free on 127.0.0.1 and ::1; on 127.0.0.1 alone when
    /// the machine has no IPv6 loopback (then nobody can listen on ::1).
    pub fn bind() -> io::Result<Loopback> {
        for _ in 0..BIND_TRIES {
            let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) else {
                let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
                return Loopback::new(vec![v4]);
            };
            let port = v6.local_addr()?.port();
            match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                Ok(v4) => return Loopback::new(vec![v4, v6]),
                // Taken on 127.0.0.1: another port, free on both.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("no port was free on both 127.0.0.1 and ::1 in {BIND_TRIES} tries"),
        ))
    }

    fn new(listeners: Vec<TcpListener>) -> io::Result<Loopback> {
        let port = listeners[0].local_addr()?.port();
        for l in &listeners {
            l.set_nonblocking(true)?;
        }
        Ok(Loopback { listeners, port })
    }

    /// The port of the redirect address.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where it listens, for the trace.
    pub fn addresses(&self) -> &'static str {
        if self.listeners.len() > 1 {
            "127.0.0.1 and ::1"
        } else {
            "127.0.0.1"
        }
    }

    /// Answers connections until one carries the sign-in's answer (a code,
    /// or Entra's refusal) for `state`, or `limit` passes. `foreign` is
    /// called for each answer that is not this sign-in's.
    pub fn wait_for_code(
        &self,
        state: &str,
        limit: Duration,
        mut foreign: impl FnMut(),
    ) -> Outcome {
        let deadline = Instant::now() + limit;
        let mut waiting: VecDeque<Conn> = VecDeque::new();
        while Instant::now() < deadline {
            let mut accepted = false;
            for listener in &self.listeners {
                // Accept errors (a client gone before it was accepted, too
                // many files open) concern one client: the wait goes on.
                for _ in 0..MAX_CONNECTIONS {
                    let Ok((stream, _)) = listener.accept() else {
                        break;
                    };
                    accepted = true;
                    let Some(mut conn) = Conn::new(stream) else {
                        continue;
                    };
                    // A browser's request is usually there already: served
                    // before anything else, however many others connect.
                    if let Some(outcome) = conn.serve(state, &mut foreign) {
                        return outcome;
                    }
                    if waiting.len() >= MAX_CONNECTIONS {
                        waiting.pop_front();
                    }
                    waiting.push_back(conn);
                }
            }
            for conn in &mut waiting {
                if let Some(outcome) = conn.serve(state, &mut foreign) {
                    return outcome;
                }
            }
            let now = Instant::now();
            waiting.retain(|c| !c.closed && c.deadline > now);
            if !accepted {
                std::thread::sleep(IDLE);
            }
        }
        Err(format!(
            "no answer from the browser within {} minutes. Fix: run `git-credential-entra login` and finish the sign-in in the browser, or use --flow paste",
            limit.as_secs() / 60
        ))
    }
}

/// One client: its request head as it arrives, then the page written back.
struct Conn {
    stream: TcpStream,
    head: Vec<u8>,
    /// The page, and how much of it is written.
    reply: Option<(Vec<u8>, usize)>,
    deadline: Instant,
    closed: bool,
}

impl Conn {
    fn new(stream: TcpStream) -> Option<Conn> {
        stream.set_nonblocking(true).ok()?;
        Some(Conn {
            stream,
            head: Vec::new(),
            reply: None,
            deadline: Instant::now() + REQUEST_LIMIT,
            closed: false,
        })
    }

    /// Reads and writes what can be without waiting; `Some` when this
    /// request ended the sign-in.
    fn serve(&mut self, state: &str, foreign: &mut dyn FnMut()) -> Option<Outcome> {
        if self.closed {
            return None;
        }
        if self.reply.is_none() {
            if !self.read_head() {
                return None;
            }
            let (page, outcome) = answer(&self.head, state, foreign);
            if let Some(outcome) = outcome {
                self.last_page(&page);
                return Some(outcome);
            }
            self.reply = Some((page, 0));
        }
        self.write();
        None
    }

    /// Whether the head is complete (or as complete as it will get).
    fn read_head(&mut self) -> bool {
        let mut buf = [0u8; 2048];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.closed = self.head.is_empty();
                    return !self.closed;
                }
                Ok(n) => {
                    self.head.extend_from_slice(&buf[..n]);
                    if self.head.len() >= MAX_HEAD || self.head.windows(4).any(|w| w == b"\r\n\r\n")
                    {
                        return true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => {
                    self.closed = true;
                    return false;
                }
            }
        }
    }

    /// Writes what the socket takes now; closes once all is written.
    fn write(&mut self) {
        let Some((page, done)) = &mut self.reply else {
            return;
        };
        while *done < page.len() {
            match self.stream.write(&page[*done..]) {
                Ok(0) => break,
                Ok(n) => *done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.closed = true;
    }

    /// The page of the answer that ends the sign-in, written within a bound:
    /// the browser may have gone, and the outcome does not depend on it.
    fn last_page(&mut self, page: &[u8]) {
        let _ = self.stream.set_nonblocking(false);
        let _ = self.stream.set_write_timeout(Some(LAST_PAGE_LIMIT));
        let _ = self.stream.write_all(page);
        let _ = self.stream.flush();
    }
}

/// The page for a request head, and the sign-in's outcome when it ends it.
fn answer(head: &[u8], state: &str, foreign: &mut dyn FnMut()) -> (Vec<u8>, Option<Outcome>) {
    let text = String::from_utf8_lossy(head);
    let target = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        let page = response(404, "Not found", "This address is not part of the sign-in.");
        return (page, None);
    }
    match read_redirect(query, state) {
        Redirect::Code(code) => (
            response(
                200,
                "Signed in",
                "Signed in to Azure DevOps with git-credential-entra. You can close this tab and return to the terminal.",
            ),
            Some(Ok(code)),
        ),
        Redirect::Refused(message) => (
            response(400, "Sign-in failed", &message),
            Some(Err(message)),
        ),
        Redirect::Foreign => {
            foreign();
            (
                response(
                    400,
                    "Not this sign-in",
                    "This answer does not belong to the sign-in in progress (its state is missing or does not match: an old sign-in tab, or another program), so it was ignored. The sign-in goes on: finish it in the tab it opened.",
                ),
                None,
            )
        }
        Redirect::Other => (
            response(
                400,
                "Waiting for sign-in",
                "This page expects the sign-in's answer.",
            ),
            None,
        ),
    }
}

/// An HTTP answer with the landing page.
fn response(status: u16, title: &str, message: &str) -> Vec<u8> {
    let body = landing_page(title, message);
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small finished-looking page: the outcome and what to do next.
fn landing_page(title: &str, message: &str) -> String {
    let ok = title == "Signed in";
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - git-credential-entra</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f3f4f6;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}}
main{{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.12);padding:40px 48px;max-width:560px;text-align:center}}
.mark{{font-size:48px;color:{color}}}
h1{{font-size:24px;margin:12px 0;color:#111}}
p{{font-size:16px;color:#374151;line-height:1.5}}
</style></head>
<body><main><div class="mark">{mark}</div><h1>{title}</h1><p>{message}</p></main></body></html>
"#,
        title = html_escape(title),
        message = html_escape(message),
        color = if ok { "#16a34a" } else { "#dc2626" },
        mark = if ok { "&#10004;" } else { "&#10006;" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that sends `bytes` one at a time, `gap` apart, for `for_`.
    fn dribble(port: u16, gap: Duration, for_: Duration) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let Ok(mut c) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
                return;
            };
            let until = Instant::now() + for_;
            for b in b"GET /?code=x&state=y".iter().cycle() {
                if Instant::now() > until || c.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(gap);
            }
        })
    }

    #[test]
    fn the_wait_ends_at_its_limit_whatever_clients_do() {
        let l = Loopback::bind().expect("bind");
        let slow = dribble(l.port(), Duration::from_millis(100), Duration::from_secs(4));
        let started = Instant::now();
        let ended = l.wait_for_code("s1", Duration::from_secs(1), || {});
        let took = started.elapsed();
        assert!(matches!(&ended, Err(m) if m.contains("no answer from the browser")));
        assert!(took < Duration::from_secs(3), "{took:?}");
        let _ = slow.join();
    }

    #[test]
    fn only_this_sign_ins_state_ends_the_wait() {
        let l = Loopback::bind().expect("bind");
        let port = l.port();
        let client = std::thread::spawn(move || {
            let get = |target: &str| {
                let mut c = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
                write!(c, "GET {target} HTTP/1.1\r\n\r\n").expect("send");
                let mut page = String::new();
                let _ = c.read_to_string(&mut page);
                page
            };
            let forged = get("/?error=access_denied&state=forged");
            let real = get("/?code=c0de&state=s1");
            (forged, real)
        });
        let mut ignored = 0;
        let code = l
            .wait_for_code("s1", Duration::from_secs(20), || ignored += 1)
            .expect("the code");
        assert_eq!(code.expose(), "c0de");
        assert_eq!(ignored, 1);
        let (forged, real) = client.join().expect("client");
        assert!(forged.contains("Not this sign-in"), "{forged}");
        assert!(real.contains("You can close this tab"), "{real}");
    }

    #[test]
    fn the_port_is_held_on_both_loopback_addresses_when_there_is_ipv6() {
        let l = Loopback::bind().expect("bind");
        let has_ipv6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
        assert_eq!(l.listeners.len(), if has_ipv6 { 2 } else { 1 });
        for listener in &l.listeners {
            assert_eq!(listener.local_addr().expect("addr").port(), l.port());
        }
    }

    #[test]
    fn the_landing_page_escapes_server_text() {
        let page = landing_page("Sign-in failed", "Entra answered <script>");
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"));
    }
}
