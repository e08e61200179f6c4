//! The paste sign-in, for SSH sessions and containers with no browser: the
//! authorize URL is printed; the person signs in on any machine; their
//! browser is sent to `http://localhost:{port}/?code=…&state=…`, which does
//! not load there; they paste that address back on this terminal.
//! Works where device code is blocked by Conditional Access.

use std::time::Instant;

use crate::identity::Error;
use crate::sys::secret::Secret;
use crate::token::TokenResponse;

use super::authorize::{Pkce, Redirect, authorize_url, read_redirect, redeem};
use super::{SIGN_IN_TIMEOUT, User};
use crate::identity::AcquireCx;

/// Longest pasted line read: an authorize answer is a few KiB.
const MAX_LINE: usize = 16 * 1024;

/// Whether there is a terminal to paste into.
pub fn has_terminal() -> bool {
    tty::open().is_ok()
}

/// The paste flow, from the printed URL to tokens.
pub fn sign_in(user: &User, cx: &AcquireCx) -> Result<TokenResponse, Error> {
    let fail = |problem: String| Error::SignIn {
        identity: cx.identity.to_string(),
        flow: "paste",
        problem,
    };
    let pkce = Pkce::new().map_err(fail)?;
    // Nothing listens: the address only has to be one Entra accepts (any
    // port on localhost) and one we recognise when it is pasted.
    let port =
        49152 + u16::from_le_bytes([pkce.state.as_bytes()[0], pkce.state.as_bytes()[1]]) % 16000;
    let redirect_uri = format!("http://localhost:{port}");
    let url = authorize_url(user, cx, &pkce, &redirect_uri).map_err(fail)?;
    let mut terminal = tty::open().map_err(|e| {
        fail(format!(
            "there is no terminal to paste into ({e}). Fix: run `git-credential-entra login --flow paste` in a terminal"
        ))
    })?;
    cx.prompt.say(format_args!(
        "identity '{}': open this address in a browser on any machine and sign in:\n\n  {url}\n",
        cx.identity
    ));
    cx.prompt.say(format_args!(
        "after signing in, the browser goes to {redirect_uri}/?code=… and shows that the page cannot be reached; copy that whole address from the address bar and paste it here, then press Enter:"
    ));
    let deadline = Instant::now() + SIGN_IN_TIMEOUT;
    loop {
        let line = terminal.read_line(deadline, MAX_LINE).map_err(|e| {
            fail(format!(
                "reading the pasted address failed: {e}. Fix: run `git-credential-entra login --flow paste` again"
            ))
        })?;
        let line = Secret::new(line.trim().to_string());
        let Some(query) = pasted_query(line.expose(), port) else {
            cx.prompt.say(format_args!(
                "that is not the address {redirect_uri}/?code=… the browser was sent to; paste it again:"
            ));
            continue;
        };
        match read_redirect(query, &pkce.state) {
            Redirect::Code(code) => return redeem(user, cx, &code, &redirect_uri, &pkce),
            Redirect::Refused(message) => return Err(fail(message)),
            Redirect::Foreign => cx.prompt.say(format_args!(
                "that address is not this sign-in's (its state is missing or does not match: an old sign-in tab?); paste the address this sign-in's browser was sent to:"
            )),
            Redirect::Other => cx.prompt.say(format_args!(
                "that address carries no code; paste the whole address, including ?code=…:"
            )),
        }
    }
}

/// The query of a pasted `http://localhost:{port}/?…` (the `/` optional).
fn pasted_query(line: &str, port: u16) -> Option<&str> {
    let rest = line
        .strip_prefix(&format!("http://localhost:{port}"))
        .or_else(|| line.strip_prefix(&format!("localhost:{port}")))?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    rest.strip_prefix('?')
}

#[cfg(unix)]
mod tty {
    use std::fs::{File, OpenOptions};
    use std::io::{self, Read};
    use std::os::fd::AsRawFd;
    use std::time::Instant;

    /// The controlling terminal (not stdin, which is git's pipe).
    pub struct Tty(File);

    pub fn open() -> io::Result<Tty> {
        OpenOptions::new().read(true).open("/dev/tty").map(Tty)
    }

    impl Tty {
        /// One line, waiting at most until `deadline`.
        pub fn read_line(&mut self, deadline: Instant, max: usize) -> io::Result<String> {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "nothing was pasted in time",
                    ));
                }
                let mut fds = libc::pollfd {
                    fd: self.0.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
                // SAFETY: one valid pollfd for the duration of the call.
                let ready = unsafe { libc::poll(&mut fds, 1, ms) };
                if ready < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                if ready == 0 {
                    continue;
                }
                match self.0.read(&mut byte)? {
                    0 => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the terminal closed",
                        ));
                    }
                    // Empty lines (a stray Enter) are skipped.
                    _ if (byte[0] == b'\n' || byte[0] == b'\r') && !line.is_empty() => break,
                    _ if byte[0] == b'\n' || byte[0] == b'\r' => {}
                    _ if line.len() < max => line.push(byte[0]),
                    _ => {}
                }
            }
            String::from_utf8(line).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "the pasted text is not UTF-8")
            })
        }
    }
}

#[cfg(not(unix))]
mod tty {
    use std::fs::{File, OpenOptions};
    use std::io::{self, BufRead, BufReader, Read};
    use std::time::Instant;

    /// The console (not stdin, which is git's pipe).
    pub struct Tty(BufReader<File>);

    pub fn open() -> io::Result<Tty> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open("CONIN$")
            .map(|f| Tty(BufReader::new(f)))
    }

    impl Tty {
        /// One line (the console offers no timed read; the person is there).
        pub fn read_line(&mut self, _deadline: Instant, max: usize) -> io::Result<String> {
            let mut line = String::new();
            (&mut self.0).take(max as u64).read_line(&mut line)?;
            Ok(line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pasted_query;

    #[test]
    fn only_the_address_of_this_sign_in_is_taken() {
        assert_eq!(
            pasted_query("http://localhost:50000/?code=a&state=b", 50000),
            Some("code=a&state=b")
        );
        assert_eq!(
            pasted_query("http://localhost:50000?code=a", 50000),
            Some("code=a")
        );
        assert_eq!(pasted_query("http://localhost:50001/?code=a", 50000), None);
        assert_eq!(pasted_query("https://evil.example/?code=a", 50000), None);
    }
}
