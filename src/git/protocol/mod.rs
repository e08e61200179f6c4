//! Git's credential protocol: parsing a request and writing an answer, byte-exact.
//!
//! Parsing follows git's `credential_read`: one `key=value` per line, split on
//! the first `=`, a trailing CR stripped, a blank line or EOF ends the list,
//! array keys (`wwwauth[]`, `capability[]`) keep their order, unknown keys are
//! ignored. On top of git's rules we enforce the contract's limits (a line of
//! at most 65535 bytes, 1 MiB in all, no NUL) and reject a line without `=`
//! instead of half-using it. Values are never echoed in errors: they can be secrets.
//!
//! Git never sends `url=` to helpers, but scripts that call a helper directly
//! do; it is split exactly as git's `credential_from_url` splits it, so the
//! host we match is always the host git would have sent.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

use crate::sys::secret::Secret;

/// Longest line git may send, newline included.
pub const MAX_LINE: usize = 65_535;
/// Largest request we read.
pub const MAX_INPUT: usize = 1 << 20;

/// What git asked about. Only the attributes this helper uses are kept.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
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

    /// The attributes that locate the request, for the trace: each present one
    /// as `key="value"` (quoted and escaped, so control characters cannot
    /// reach a terminal). Never a password or credential.
    /// Formatted only when shown, so a `get` without a trace pays nothing.
    pub fn locator(&self) -> Locator<'_> {
        Locator(self)
    }

    /// The secret git sent back on `erase`: `credential` first, else `password`.
    pub fn rejected_secret(&self) -> Option<&Secret<String>> {
        self.credential.as_ref().or(self.password.as_ref())
    }
}

/// [`Request::locator`]'s lazily formatted text.
pub struct Locator<'a>(&'a Request);

impl fmt::Display for Locator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let mut sep = "";
        for (key, value) in [
            ("protocol", &r.protocol),
            ("host", &r.host),
            ("path", &r.path),
            ("username", &r.username),
        ] {
            if let Some(v) = value {
                write!(f, "{sep}{key}={v:?}")?;
                sep = " ";
            }
        }
        Ok(())
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
    /// A `url=` that git could not parse either; `problem` never quotes it.
    BadUrl { line: usize, problem: String },
    /// Reading stdin failed.
    Io(io::Error),
}

// Its Display is its message; it has no deeper cause.
impl std::error::Error for ParseError {}

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
            ParseError::BadUrl { line, problem } => write!(f, "the url= on line {line} {problem}"),
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
        request.set(key, value, line_no)?;
    }
    Ok(request)
}

impl Request {
    fn set(&mut self, key: &str, value: &str, line: usize) -> Result<(), ParseError> {
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
            "url" => {
                *self = Request::from_url(&value)
                    .map_err(|problem| ParseError::BadUrl { line, problem })?;
            }
            _ => {} // unknown keys are ignored, as git does
        }
        Ok(())
    }

    /// git's `credential_from_url`. Like git's `credential_clear`, `url=`
    /// starts a new request: everything read before it, `capability[]` and
    /// `wwwauth[]` included, is forgotten; lines after it still apply.
    /// The host ends at the first `/`, `?` or `#`, and only an `@` before
    /// that end separates a user name, so `https://evil.example?@dev.azure.com/`
    /// is a request for `evil.example`, as it is for git.
    pub fn from_url(url: &str) -> Result<Request, String> {
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) if !scheme.is_empty() => (scheme, rest),
            _ => return Err("has no scheme (expected scheme://host/path)".into()),
        };
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let mut request = Request {
            protocol: Some(scheme.to_string()),
            ..Request::default()
        };
        let host = match rest.find('@').filter(|&at| at < host_end) {
            None => &rest[..host_end],
            Some(at) => {
                // git looks for the password's ':' in the whole rest of the URL.
                let (user, password) = match rest.find(':').filter(|&colon| colon < at) {
                    Some(colon) => (&rest[..colon], Some(&rest[colon + 1..at])),
                    None => (&rest[..at], None),
                };
                request.username = Some(url_decode(user, "user name")?);
                request.password = password
                    .map(|p| url_decode(p, "password").map(Secret::new))
                    .transpose()?;
                &rest[at + 1..host_end]
            }
        };
        request.host = Some(url_decode(host, "host")?);
        // Leading slashes are trimmed before decoding, trailing ones after,
        // and a path that decodes to just "/" keeps it: all as git does.
        let path = rest[host_end..].trim_start_matches('/');
        if !path.is_empty() {
            let mut path = url_decode(path, "path")?;
            while path.len() > 1 && path.ends_with('/') {
                path.pop();
            }
            request.path = Some(path);
        }
        Ok(request)
    }
}

/// git's `url_decode_mem`: `%XX` becomes the byte XX (except `%00`), other
/// bytes stay, and text before a first `:` that is not at the very start is
/// kept undecoded (git skips what it takes for a scheme). A decoded newline
/// is refused, as git refuses it, and so is a result that is not UTF-8 (git
/// would pass such bytes on, and we refuse them in any request).
fn url_decode(text: &str, component: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let raw = match text.find(':') {
        Some(colon) if colon > 0 => colon,
        _ => 0,
    };
    let mut out = bytes[..raw].to_vec();
    let mut i = raw;
    while i < bytes.len() {
        let escaped = if bytes[i] == b'%' && i + 2 < bytes.len() {
            hex_byte(bytes[i + 1], bytes[i + 2]).filter(|&b| b != 0)
        } else {
            None
        };
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    if out.contains(&b'\n') {
        return Err(format!("has a newline in its {component}"));
    }
    String::from_utf8(out).map_err(|_| format!("has a {component} that is not UTF-8 once decoded"))
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
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

/// Appends `key=value` and a newline to `out`, refusing a value that would
/// end the line early (LF), be cut by a reader that strips CR, or truncate a
/// C string (NUL). Both directions of the protocol write through this.
fn put(out: &mut Vec<u8>, key: &'static str, value: &str) -> Result<(), UnsafeValue> {
    if value.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0)) {
        return Err(UnsafeValue(key));
    }
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
    Ok(())
}

impl Request {
    /// The request as git would send it to a helper (`capability[]` first,
    /// as git writes it), ending with a blank line: what a program that
    /// drives a credential helper, or chains to another one, writes on its
    /// stdin. [`read_request`] reads it back to an equal request. Validated
    /// like an answer: nothing is returned when a value holds LF, CR or NUL.
    pub fn format(&self) -> Result<Vec<u8>, UnsafeValue> {
        let mut out = Vec::with_capacity(256);
        for c in &self.capabilities {
            put(&mut out, "capability[]", c)?;
        }
        for (key, value) in [
            ("protocol", self.protocol.as_deref()),
            ("host", self.host.as_deref()),
            ("path", self.path.as_deref()),
            ("username", self.username.as_deref()),
            (
                "password",
                self.password.as_ref().map(|s| s.expose().as_str()),
            ),
            (
                "credential",
                self.credential.as_ref().map(|s| s.expose().as_str()),
            ),
        ] {
            if let Some(value) = value {
                put(&mut out, key, value)?;
            }
        }
        for w in &self.wwwauth {
            put(&mut out, "wwwauth[]", w)?;
        }
        out.push(b'\n');
        Ok(out)
    }
}

/// Formats the answer, validating every value before anything is written,
/// so a bad value never leaves half an answer on stdout.
pub fn format_response(response: &Response) -> Result<Vec<u8>, UnsafeValue> {
    let mut out = Vec::with_capacity(4096);
    let mut put = |key: &'static str, value: &str| put(&mut out, key, value);
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
