//! The one reading of an HTTP answer that Entra, the managed-identity
//! endpoints and the CI platforms' OIDC endpoints share: what its status
//! means under a retry policy, its body read within a bound, and why no
//! answer came (a certificate not trusted here, a timeout, no connection).
//! What the body says, and the words of each party's error, stay with it.

use std::error::Error as StdError;
use std::io::Read;
use std::time::Duration;

use reqwest::blocking::Response;

use crate::net::retry::Policy;

/// What an answer's status means, for every party alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 200: the body is the answer.
    Ok,
    /// Throttled or failing (429, 5xx, as the policy says): try again.
    Unavailable,
    /// Anything else: the body says why (an OAuth error, a message).
    Refused,
}

/// The [`Verdict`] on `status` under `policy`.
pub fn verdict(status: u16, policy: &Policy) -> Verdict {
    if status == 200 {
        Verdict::Ok
    } else if policy.retries(status) {
        Verdict::Unavailable
    } else {
        Verdict::Refused
    }
}

/// A `Retry-After` in seconds (the form Entra and IMDS send; an HTTP date is
/// ignored, leaving the caller's own backoff).
pub fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Why an answer's body could not be had.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than allowed (declared or actual).
    TooLarge,
    /// Not UTF-8 text (from [`read_text`] only).
    NotText,
    /// The connection failed while reading.
    Broken(std::io::Error),
}

/// An answer's body, read up to `max` bytes: a server that streams without
/// end (or declares a huge length) must not fill the memory.
pub fn read_capped(resp: Response, max: u64) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(BodyError::TooLarge);
    }
    read_at_most(resp, max)
}

fn read_at_most(body: impl Read, max: u64) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    body.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(BodyError::Broken)?;
    if bytes.len() as u64 > max {
        return Err(BodyError::TooLarge);
    }
    Ok(bytes)
}

/// [`read_capped`], as UTF-8 text.
pub fn read_text(resp: Response, max: u64) -> Result<String, BodyError> {
    String::from_utf8(read_capped(resp, max)?).map_err(|_| BodyError::NotText)
}

/// Why no (complete) answer arrived, read from the error's whole chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoAnswer {
    /// The server's TLS certificate is not trusted here: a matter of this
    /// machine's trust store (or a TLS-inspecting proxy), not the network.
    pub certificate: bool,
    /// Nothing, or not all of the answer, arrived in time.
    pub timeout: bool,
    /// No connection was made (refused, no route, the connect timeout, a
    /// failed TLS handshake): it will not be accepted a moment later.
    pub connect: bool,
    /// The proxy answered `CONNECT` with 407: it wants credentials.
    pub proxy_auth: bool,
    /// The proxy refused to open the tunnel (403, 502…).
    pub proxy_refused: bool,
}

impl NoAnswer {
    /// What `e` (a request's or a body read's error) says.
    pub fn of(e: &(dyn StdError + 'static)) -> NoAnswer {
        NoAnswer {
            certificate: in_chain(e, &is_certificate_error),
            timeout: in_chain(e, &is_timeout),
            connect: in_chain(e, &|e| {
                e.downcast_ref::<reqwest::Error>()
                    .is_some_and(reqwest::Error::is_connect)
            }),
            // hyper-util's tunnel error is private: its words are the API.
            proxy_auth: in_chain(e, &|e| {
                e.to_string().ends_with("proxy authorization required")
            }),
            // hyper-util 0.1.21 says "tunnel error: unsuccessful"; earlier
            // releases said "unsuccessful tunnel".
            proxy_refused: in_chain(e, &|e| {
                let text = e.to_string();
                text.ends_with("tunnel error: unsuccessful")
                    || text.ends_with("unsuccessful tunnel")
            }),
        }
    }

    /// The failure is this machine's set-up (trust store, proxy), which no
    /// retry changes: what to tell the person, for a request to `host`.
    pub fn local_failure(&self, host: &str, detail: &str) -> Option<String> {
        let proxy = crate::net::http::proxy_in_use()
            .map_or_else(|| "the proxy".to_string(), |p| format!("the proxy {p}"));
        if self.proxy_auth {
            Some(format!(
                "{proxy} asks for credentials (HTTP 407) before it connects to {host}: none were given, or they were refused. Fix: put them in the proxy's URL where it is set, URL-encoded: `git config --global http.proxy http://USER:PASSWORD@HOST:PORT` (or HTTPS_PROXY)"
            ))
        } else if self.proxy_refused {
            Some(format!(
                "{proxy} refused to connect to {host} ({detail}). Fix: ask the proxy's administrators to allow {host}, or list it in NO_PROXY if it must be reached directly"
            ))
        } else if self.certificate {
            Some(format!(
                "the TLS certificate of {host} was not trusted ({detail}). Fix: {}",
                certificate_fix()
            ))
        } else {
            None
        }
    }
}

/// What to do about a certificate not trusted here, with what is trusted now.
pub fn certificate_fix() -> String {
    let fix = "behind a TLS-inspecting proxy, give git the proxy's CA certificate, which this helper reads too: `git config --global http.sslCAInfo /path/to/proxy-ca.pem` (or GIT_SSL_CAINFO); http.sslVerify=false is not honoured for token requests";
    match crate::net::http::roots_in_use() {
        Some(roots) => format!("{fix} (trusted now: {roots})"),
        None => fix.to_string(),
    }
}
/// An error and its causes on one line (`a: b: c`), for messages.
pub fn error_chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The innermost cause (`Connection refused (os error 111)`).
pub fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last: &dyn StdError = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Whether `e` or anything it wraps satisfies `test`. `io::Error` hides the
/// error it wraps from `source()`, so that one is looked into explicitly.
fn in_chain(
    e: &(dyn StdError + 'static),
    test: &dyn Fn(&(dyn StdError + 'static)) -> bool,
) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if test(err) {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && in_chain(inner, test)
        {
            return true;
        }
        next = err.source();
    }
    false
}

fn is_timeout(e: &(dyn StdError + 'static)) -> bool {
    e.downcast_ref::<reqwest::Error>()
        .is_some_and(reqwest::Error::is_timeout)
        || e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
}

fn is_certificate_error(e: &(dyn StdError + 'static)) -> bool {
    matches!(
        e.downcast_ref::<rustls::Error>(),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::retry::{ENTRA, MANAGED_IDENTITY};

    #[test]
    fn statuses_mean_the_same_for_every_party() {
        for policy in [&ENTRA, &MANAGED_IDENTITY] {
            assert_eq!(verdict(200, policy), Verdict::Ok);
            assert_eq!(verdict(429, policy), Verdict::Unavailable);
            assert_eq!(verdict(503, policy), Verdict::Unavailable);
            for refused in [201, 400, 401, 403] {
                assert_eq!(verdict(refused, policy), Verdict::Refused, "{refused}");
            }
        }
        // What is worth another try is the policy's to say: IMDS answers
        // 404 while an identity is being assigned, Entra never does.
        assert_eq!(verdict(404, &ENTRA), Verdict::Refused);
        assert_eq!(verdict(404, &MANAGED_IDENTITY), Verdict::Unavailable);
    }

    #[test]
    fn bodies_are_read_within_their_bound() {
        assert_eq!(read_at_most(&b"abc"[..], 3).expect("fits"), b"abc");
        assert!(matches!(
            read_at_most(&b"abcd"[..], 3),
            Err(BodyError::TooLarge)
        ));
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
            }
        }
        assert!(matches!(read_at_most(Broken, 3), Err(BodyError::Broken(_))));
    }

    #[test]
    fn why_no_answer_came_is_found_anywhere_in_the_chain() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("request failed")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let certificate = Wrapper(std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        )));
        let no = NoAnswer::of(&certificate);
        assert!(no.certificate && !no.timeout && !no.connect, "{no:?}");
        assert!(error_chain(&certificate).starts_with("request failed: "));
        let slow = Wrapper(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let no = NoAnswer::of(&slow);
        assert!(no.timeout && !no.certificate, "{no:?}");
        let reset = Wrapper(std::io::Error::other("connection reset"));
        assert_eq!(
            NoAnswer::of(&reset),
            NoAnswer {
                certificate: false,
                timeout: false,
                connect: false,
                proxy_auth: false,
                proxy_refused: false,
            }
        );
        assert_eq!(root_cause(&reset), "connection reset");
    }
}
