//! Git's credential protocol: parsing a request and writing an answer, byte-exact.
//!
//! Parsing follows git's `credential_read`: one `key=value` per line, split on
//! the first `=`, a trailing CR stripped, a blank line or EOF ends the list,
//! array keys (`wwwauth[]`, `capability[]`) keep their order, unknown keys are
//! ignored. On top of git's rules we enforce the contract's limits (a line of
//! at most 65535 bytes, 1 MiB in all, no NUL) and reject a line without `=`
//! instead of half-using it. Values are never echoed in errors: they can be secrets.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

use crate::secret::Secret;

/// Longest line git may send, newline included.
pub const MAX_LINE: usize = 65_535;
/// Largest request we read.
pub const MAX_INPUT: usize = 1 << 20;

/// What git asked about. Only the attributes this helper uses are kept.
#[derive(Debug, Default)]
pub struct Request {
    /// `protocol`, e.g. `https`.
    pub protocol: Option<String>,
    /// `host`, with `:port` when the URL had one.
    pub host: Option<String>,
    /// `path`, only present with `credential.useHttpPath`.
    pub path: Option<String>,
    /// `username` from the URL or an earlier helper.
    pub username: Option<String>,
    /// `password` (on `erase`: the rejected token).
    pub password: Option<Secret<String>>,
    /// `credential` (on `erase` with git ≥ 2.46: the rejected token).
    pub credential: Option<Secret<String>>,
    /// `capability[]` values in order.
    pub capabilities: Vec<String>,
    /// `wwwauth[]` values in order (the last 401's `WWW-Authenticate` headers).
    pub wwwauth: Vec<String>,
}

impl Request {
    /// Whether git can take a `credential`/`authtype` answer.
    pub fn offers_authtype(&self) -> bool {
        self.capabilities.iter().any(|c| c == "authtype")
    }

    /// The secret git sent back on `erase`: `credential` first, else `password`.
    pub fn rejected_secret(&self) -> Option<&Secret<String>> {
        self.credential.as_ref().or(self.password.as_ref())
    }
}

/// Why a request could not be read. Line numbers count from 1.
#[derive(Debug)]
pub enum ParseError {
    /// More than [`MAX_INPUT`] bytes before the end of the list.
    TooLarge,
    /// A line longer than [`MAX_LINE`] bytes.
    LineTooLong { line: usize },
    /// A NUL byte, which git never sends.
    Nul { line: usize },
    /// A line with no `=`.
    NoEquals { line: usize },
    /// A line that is not UTF-8.
    NotUtf8 { line: usize },
    /// Reading stdin failed.
    Io(io::Error),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLarge => write!(f, "the request is larger than {MAX_INPUT} bytes"),
            ParseError::LineTooLong { line } => {
                write!(f, "line {line} is longer than {MAX_LINE} bytes")
            }
            ParseError::Nul { line } => write!(f, "line {line} contains a NUL byte"),
            ParseError::NoEquals { line } => {
                write!(f, "line {line} is not of the form key=value")
            }
            ParseError::NotUtf8 { line } => write!(f, "line {line} is not valid UTF-8"),
            ParseError::Io(e) => write!(f, "reading standard input failed: {e}"),
        }
    }
}

/// Reads one request, stopping at a blank line or EOF (git closes the pipe
/// without a blank line). Does not read past the blank line, so a person typing
/// a request is answered without pressing Ctrl-D.
pub fn read_request(input: impl Read) -> Result<Request, ParseError> {
    let mut reader = BufReader::new(input.take(MAX_INPUT as u64 + 1));
    let mut request = Request::default();
    let mut total = 0usize;
    let mut buf = Vec::new();
    for line_no in 1.. {
        buf.clear();
        // Bounded by `take`: a huge line costs at most MAX_INPUT bytes of memory.
        let n = reader.read_until(b'\n', &mut buf).map_err(ParseError::Io)?;
        total += n;
        if total > MAX_INPUT {
            return Err(ParseError::TooLarge);
        }
        if n == 0 {
            break;
        }
        if n > MAX_LINE {
            return Err(ParseError::LineTooLong { line: line_no });
        }
        let mut line = buf.as_slice();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.contains(&0) {
            return Err(ParseError::Nul { line: line_no });
        }
        let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8 { line: line_no })?;
        let (key, value) = line
            .split_once('=')
            .ok_or(ParseError::NoEquals { line: line_no })?;
        request.set(key, value);
    }
    Ok(request)
}

impl Request {
    fn set(&mut self, key: &str, value: &str) {
        let value = value.to_string();
        match key {
            "protocol" => self.protocol = Some(value),
            "host" => self.host = Some(value),
            "path" => self.path = Some(value),
            "username" => self.username = Some(value),
            "password" => self.password = Some(Secret::new(value)),
            "credential" => self.credential = Some(Secret::new(value)),
            "capability[]" => self.capabilities.push(value),
            "wwwauth[]" => self.wwwauth.push(value),
            "url" => self.set_url(&value),
            _ => {} // unknown keys are ignored, as git does
        }
    }

    // git's `credential_from_url`: `url=` replaces the URL parts.
    fn set_url(&mut self, url: &str) {
        let Some((scheme, rest)) = url.split_once("://") else {
            return;
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        self.protocol = Some(scheme.to_string());
        self.host = Some(host.to_string());
        self.username = user.map(|u| u.split(':').next().unwrap_or(u).to_string());
        let path = path.trim_end_matches('/');
        self.path = (!path.is_empty()).then(|| path.to_string());
    }
}

/// The answer to `get`.
#[derive(Debug)]
pub enum Response<'a> {
    /// git ≥ 2.46 offered `capability[]=authtype`: send `Authorization: Bearer`.
    Bearer {
        token: &'a Secret<String>,
        expiry: i64,
    },
    /// Portable form: Basic auth with the token as password.
    Basic {
        username: &'a str,
        password: &'a Secret<String>,
        expiry: i64,
    },
    /// We own the request but cannot serve it: git must stop, not prompt.
    Quit,
}

/// A value that would break the protocol (LF, CR, NUL) or Basic auth (`:` in
/// a username). Names the attribute, never the value.
#[derive(Debug)]
pub struct UnsafeValue(pub &'static str);

impl fmt::Display for UnsafeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing to send a {} that contains a line break, NUL or an invalid character",
            self.0
        )
    }
}

/// Formats the answer, validating every value before anything is written,
/// so a bad value never leaves half an answer on stdout.
pub fn format_response(response: &Response) -> Result<Vec<u8>, UnsafeValue> {
    let mut out = Vec::with_capacity(4096);
    let mut put = |key: &'static str, value: &str| -> Result<(), UnsafeValue> {
        if value.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0)) {
            return Err(UnsafeValue(key));
        }
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
        Ok(())
    };
    match response {
        Response::Bearer { token, expiry } => {
            put("capability[]", "authtype")?;
            put("authtype", "Bearer")?;
            put("credential", token.expose())?;
            put("ephemeral", "1")?;
            put("password_expiry_utc", &expiry.to_string())?;
        }
        Response::Basic {
            username,
            password,
            expiry,
        } => {
            if username.is_empty() || username.contains(':') {
                return Err(UnsafeValue("username"));
            }
            put("username", username)?;
            put("password", password.expose())?;
            put("password_expiry_utc", &expiry.to_string())?;
        }
        Response::Quit => put("quit", "1")?,
    }
    Ok(out)
}

/// Writes a formatted answer and flushes it.
pub fn write_response(out: &mut dyn Write, response: &Response) -> io::Result<()> {
    let bytes = format_response(response)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    out.write_all(&bytes)?;
    out.flush()
}

#[cfg(test)]
mod tests;
