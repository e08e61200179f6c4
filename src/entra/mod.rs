//! Entra ID's v2 token endpoint as a small OAuth client: how a client
//! authenticates ([`ClientAuth`]), the grants, the response (numbers may be
//! strings), the retry policy for throttling and outages, and AADSTS codes
//! turned into what the user should do.
//!
//! Everything an answer can make us do is bounded: one budget covers the
//! whole operation (requests and waits, see `retry.rs`), answers are read up
//! to a size limit, lifetimes are clamped, and what the server wrote is
//! sanitized (and cleaned of anything we sent) before it is shown.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde::Deserialize;
use serde_json::Value;

mod aadsts;
mod user;

pub use aadsts::aadsts;
pub use user::{
    CodeRedemption, DEVICE_CODE_GRANT, DeviceCode, MAX_DEVICE_CODE_SECS, authorization_code,
    device_code, device_code_poll, parse_device_code, refresh_token, user_scope,
};

use crate::http::{BodyError, error_chain, read_capped};
use crate::retry::{Policy, Step};
use crate::secret::Secret;
use crate::text::sanitize;
use crate::timefmt::now;
use crate::token::{AccessToken, TokenResponse};
use crate::trace::Trace;

/// Total time one token request may take: every attempt and every wait.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);
/// Attempts within the budget.
pub const MAX_ATTEMPTS: u32 = 6;
/// Longest single attempt: Entra answers in well under a second, so an
/// attempt this slow is a hung connection, and a third of the budget is
/// left for the attempts after it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// An attempt with less time than this left would only time out.
const MIN_ATTEMPT_TIME: Duration = Duration::from_secs(2);
/// Largest answer read: a token response is a few KiB, and a server that
/// streams without end must not fill the memory.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;
/// Longest token lifetime believed (a day, Entra's configurable maximum), so
/// that expiry arithmetic stays far from overflow whatever a server says.
pub const MAX_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// Why no token came back.
#[derive(Debug)]
pub enum EntraError {
    /// Entra answered with an OAuth error.
    Rejected {
        status: u16,
        error: String,
        codes: Vec<u64>,
        summary: Option<String>,
        correlation_id: Option<String>,
    },
    /// Throttled (429) or failing (5xx) through every retry.
    Unavailable {
        status: u16,
        attempts: u32,
        waited: Duration,
    },
    /// No complete HTTP answer.
    Transport { detail: String, cause: Cause },
    /// An answer we cannot use.
    BadResponse { status: u16, detail: String },
    /// An answer over [`MAX_RESPONSE_BYTES`].
    TooLarge { status: u16 },
}

/// Why an HTTP answer did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Refused, reset, name resolution, proxy…
    Network,
    /// Nothing (or not all of the answer) arrived in time.
    Timeout {
        reading_body: bool,
        waited: Duration,
    },
    /// The server's TLS certificate is not trusted here.
    Certificate,
}

const NETWORK_FIX: &str =
    "check network access to the authority host (proxy settings: HTTPS_PROXY, NO_PROXY)";

impl fmt::Display for EntraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntraError::Rejected {
                status,
                error,
                codes,
                summary,
                correlation_id,
            } => {
                let fix = match codes.first() {
                    Some(code) => {
                        let (meaning, fix) = aadsts(*code);
                        write!(
                            f,
                            "Entra refused the token request with AADSTS{code} ({meaning})"
                        )?;
                        fix
                    }
                    None => {
                        write!(
                            f,
                            "Entra refused the token request (HTTP {status}, {error})"
                        )?;
                        "check the identity's tenant and client_id, and that authority_host is Entra's"
                    }
                };
                match summary {
                    Some(s) if !s.is_empty() => {
                        let stop = if s.ends_with(['.', '!', '?']) {
                            ""
                        } else {
                            "."
                        };
                        write!(f, ": {s}{stop} Fix: {fix}")?;
                    }
                    _ => write!(f, ". Fix: {fix}")?,
                }
                if let Some(c) = correlation_id {
                    write!(f, " (correlation id {c})")?;
                }
                Ok(())
            }
            EntraError::Unavailable {
                status,
                attempts,
                waited,
            } => write!(
                f,
                "Entra answered HTTP {status} ({}) {attempts} time(s) over {:.0} s. Fix: wait a minute and retry; if it persists, check https://status.azure.com and that nothing is requesting tokens in a loop",
                match status {
                    429 => "throttled",
                    503 => "service unavailable",
                    _ => "server error",
                },
                waited.as_secs_f64()
            ),
            EntraError::Transport { detail, cause } => match cause {
                Cause::Network => write!(f, "could not reach Entra: {detail}. Fix: {NETWORK_FIX}"),
                Cause::Timeout {
                    reading_body: false,
                    waited,
                } => write!(
                    f,
                    "Entra did not answer within {:.0} s ({detail}). Fix: {NETWORK_FIX}, then retry",
                    waited.as_secs_f64()
                ),
                Cause::Timeout {
                    reading_body: true,
                    waited,
                } => write!(
                    f,
                    "Entra's answer stopped arriving: reading it timed out after {:.0} s in all ({detail}). Fix: retry; if it persists, {NETWORK_FIX}",
                    waited.as_secs_f64()
                ),
                Cause::Certificate => write!(
                    f,
                    "the authority host's TLS certificate was not trusted ({detail}). Fix: check that authority_host is Entra's (https://login.microsoftonline.com for the public cloud); behind a TLS-inspecting proxy, add the proxy's CA certificate to the system's trusted certificates (or point SSL_CERT_FILE at a bundle that holds it)"
                ),
            },
            EntraError::BadResponse { status, detail } => write!(
                f,
                "Entra's answer (HTTP {status}) is not a token response: {detail}. Fix: check that authority_host is Entra's, or that a proxy in between passes its answers unchanged"
            ),
            EntraError::TooLarge { status } => write!(
                f,
                "Entra's answer is larger than {} MiB (HTTP {status}), so it is not a token response. Fix: check that authority_host is Entra's, or that a proxy in between passes its answers unchanged",
                MAX_RESPONSE_BYTES / (1024 * 1024)
            ),
        }
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<i64>,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_on: Option<i64>,
    #[serde(default, deserialize_with = "number_or_string")]
    refresh_in: Option<i64>,
    refresh_token: Option<String>,
}

/// IMDS, App Service and v1 endpoints send numbers as strings.
pub fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Parses a successful token response received at `received`.
pub fn parse_token(status: u16, body: &str, received: i64) -> Result<TokenResponse, EntraError> {
    let bad = |detail: &str| EntraError::BadResponse {
        status,
        detail: detail.to_string(),
    };
    let b: TokenBody = serde_json::from_str(body).map_err(|_| bad("not JSON"))?;
    let token = b.access_token.ok_or_else(|| bad("no access_token"))?;
    AccessToken::check_token(&token).map_err(bad)?;
    // The lifetime is counted on our clock from when the answer arrived, never
    // from the token's own claims: a clock skew between Entra and this machine
    // must not make a fresh token look expired (or an old one fresh).
    let lifetime = match (b.expires_in, b.expires_on) {
        (Some(secs), _) if secs > 0 => secs,
        (Some(secs), _) => {
            return Err(bad(&format!(
                "the token arrived already expired (expires_in {secs})"
            )));
        }
        (None, Some(on)) if on > received => on.saturating_sub(received),
        (None, Some(on)) => {
            return Err(bad(&format!(
                "the token arrived already expired (expires_on is {} s before it arrived)",
                received.saturating_sub(on)
            )));
        }
        (None, None) => return Err(bad("no usable expires_in or expires_on")),
    };
    let lifetime = lifetime.min(MAX_LIFETIME_SECS);
    Ok(TokenResponse {
        access_token: Secret::new(token),
        expires_on: received.saturating_add(lifetime),
        obtained: received,
        refresh_in: b.refresh_in.filter(|r| *r > 0).map(|r| r.min(lifetime)),
        refresh_token: b.refresh_token.filter(|r| !r.is_empty()).map(Secret::new),
    })
}

/// An OAuth error answer. `sent` is our request form: a server that echoes a
/// field back (a secret, an assertion) must not get it printed.
pub fn parse_error(status: u16, body: &str, sent: &[(&str, &str)]) -> EntraError {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return EntraError::BadResponse {
            status,
            detail: "an error without a JSON body".into(),
        };
    };
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(|t| scrub(&sanitize(&scrub(t, sent)), sent))
    };
    let summary = v
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| scrub(&sanitize(first_sentence(&scrub(d, sent))), sent));
    EntraError::Rejected {
        status,
        error: text("error").unwrap_or_else(|| "unknown_error".into()),
        codes: v
            .get("error_codes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        summary,
        correlation_id: text("correlation_id").filter(|c| !c.is_empty()),
    }
}

/// The part of an `error_description` worth showing: its first line, without
/// the `AADSTS…:` prefix (the code is shown already) and without the trace
/// id, correlation id and timestamp Entra appends (the correlation id is
/// shown once, from its own field).
fn first_sentence(description: &str) -> &str {
    let line = description.lines().next().unwrap_or("");
    let end = ["Trace ID:", "Correlation ID:", "Timestamp:"]
        .iter()
        .filter_map(|m| line.find(m))
        .min()
        .unwrap_or(line.len());
    let line = line[..end].trim();
    match line.strip_prefix("AADSTS") {
        Some(rest) => {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            match rest[digits..].strip_prefix(':') {
                Some(after) if digits > 0 => after.trim(),
                _ => line,
            }
        }
        None => line,
    }
}

/// `text` with every value we sent replaced by the name of its field.
fn scrub(text: &str, sent: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (name, value) in sent {
        if !value.is_empty() && out.contains(value) {
            out = out.replace(value, &format!("<{name}>"));
        }
    }
    out
}

/// How a confidential client proves who it is.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A client secret (`client_secret`).
    Secret(Secret<String>),
    /// A signed JWT (`client_assertion`): from a certificate, or a federated
    /// token fetched from elsewhere.
    Assertion(Secret<String>),
}

/// `client_assertion_type` for a JWT assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Retries for Entra's token endpoint: throttling and outages (honouring
/// `Retry-After`), timeouts and dropped connections, with backoff.
pub const POLICY: Policy = Policy {
    name: "entra",
    statuses: &[(429, 429), (500, 599)],
    budget: RETRY_BUDGET,
    max_attempts: MAX_ATTEMPTS,
    attempt_timeout: ATTEMPT_TIMEOUT,
    min_attempt: MIN_ATTEMPT_TIME,
    first_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(16),
    honour_retry_after: true,
    retry_transport: true,
    window: None,
};

/// The v2 token endpoint of `tenant`: where client credentials are posted,
/// and so the exact `aud` a certificate's client assertion must carry.
pub fn token_endpoint(authority: &str, tenant: &str) -> String {
    format!("{authority}/{tenant}/oauth2/v2.0/token")
}

/// The client-credentials grant: a token for `scope` as the application
/// itself, from [`token_endpoint`].
pub fn client_credentials(
    http: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    scope: &str,
    auth: &ClientAuth,
    trace: &Trace,
) -> Result<TokenResponse, EntraError> {
    let endpoint = token_endpoint(authority, tenant);
    post_form(
        http,
        &endpoint,
        &client_credentials_form(client_id, scope, auth),
        trace,
    )
}

/// The request form; the one place a client secret or assertion is exposed.
fn client_credentials_form<'a>(
    client_id: &'a str,
    scope: &'a str,
    auth: &'a ClientAuth,
) -> Vec<(&'static str, &'a str)> {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("scope", scope),
    ];
    match auth {
        ClientAuth::Secret(secret) => form.push(("client_secret", secret.expose().as_str())),
        ClientAuth::Assertion(jwt) => {
            form.push(("client_assertion_type", JWT_BEARER));
            form.push(("client_assertion", jwt.expose().as_str()));
        }
    }
    form
}

impl EntraError {
    /// The OAuth `error` and AADSTS codes of a refusal.
    pub fn refusal(&self) -> Option<(&str, &[u64])> {
        match self {
            EntraError::Rejected { error, codes, .. } => Some((error.as_str(), codes.as_slice())),
            _ => None,
        }
    }

    /// Whether only the person can fix this: MFA, sign-in frequency, a
    /// revoked or expired refresh token, consent.
    pub fn needs_interaction(&self) -> bool {
        const CODES: [u64; 9] = [
            50076, 50079, 70043, 50173, 700082, 70008, 65001, 50078, 50158,
        ];
        match self.refusal() {
            Some((error, codes)) => {
                matches!(
                    error,
                    "interaction_required"
                        | "invalid_grant"
                        | "consent_required"
                        | "login_required"
                ) || codes.iter().any(|c| CODES.contains(c))
            }
            None => false,
        }
    }
}

/// POSTs a token request form under [`POLICY`]. The form's values are also
/// what an error answer is cleaned of before it is shown.
fn post_form(
    http: &Client,
    endpoint: &str,
    form: &[(&str, &str)],
    trace: &Trace,
) -> Result<TokenResponse, EntraError> {
    post_form_with(http, endpoint, form, trace, |status, body| {
        parse_token(status, body, now())
    })
}

/// [`post_form`] for any answer: `parse` reads a 200's body.
fn post_form_with<T>(
    http: &Client,
    endpoint: &str,
    form: &[(&str, &str)],
    trace: &Trace,
    parse: impl Fn(u16, &str) -> Result<T, EntraError>,
) -> Result<T, EntraError> {
    POLICY.run(
        trace,
        |attempt| {
            let sent = Instant::now();
            let result = http
                .post(endpoint)
                .header("Accept", "application/json")
                .timeout(attempt.timeout)
                .form(form)
                .send();
            let resp = match result {
                Ok(resp) => resp,
                Err(e) => {
                    let (failure, retry) = transport(&e, false, attempt.started);
                    trace.detail(format_args!(
                        "entra: POST {endpoint} failed after {} ms: {failure}",
                        sent.elapsed().as_millis()
                    ));
                    return if retry {
                        Step::Transport { failure }
                    } else {
                        Step::Done(Err(failure))
                    };
                }
            };
            let status = resp.status().as_u16();
            trace.detail(format_args!(
                "entra: POST {endpoint} -> {status} in {} ms",
                sent.elapsed().as_millis()
            ));
            if POLICY.retries(status) {
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let failure = EntraError::Unavailable {
                    status,
                    attempts: attempt.number,
                    waited: Duration::ZERO,
                };
                return Step::Status {
                    status,
                    failure,
                    retry_after,
                };
            }
            match read_body(resp, status, attempt.started) {
                Ok(body) if status == 200 => Step::Done(parse(status, &body)),
                Ok(body) => Step::Done(Err(parse_error(status, &body, form))),
                Err((failure, true)) => {
                    trace.detail(format_args!("entra: {failure}"));
                    Step::Transport { failure }
                }
                Err((failure, false)) => Step::Done(Err(failure)),
            }
        },
        totals,
    )
}

/// Reads an answer up to [`MAX_RESPONSE_BYTES`]; the flag says whether
/// trying again may help.
fn read_body(resp: Response, status: u16, start: Instant) -> Result<String, (EntraError, bool)> {
    let bytes = read_capped(resp, MAX_RESPONSE_BYTES).map_err(|e| match e {
        BodyError::TooLarge => (EntraError::TooLarge { status }, false),
        BodyError::Broken(e) => transport(&e, true, start),
    })?;
    String::from_utf8(bytes).map_err(|_| {
        let detail = "not UTF-8 text".to_string();
        (EntraError::BadResponse { status, detail }, false)
    })
}

/// A failed exchange as an error, and whether trying again may help: a
/// refused connection or an untrusted certificate will not change in seconds.
fn transport(
    e: &(dyn StdError + 'static),
    reading_body: bool,
    start: Instant,
) -> (EntraError, bool) {
    let detail = sanitize(&error_chain(e));
    let (cause, retry) = if in_chain(e, &is_certificate_error) {
        (Cause::Certificate, false)
    } else if in_chain(e, &is_timeout) {
        let waited = start.elapsed();
        (
            Cause::Timeout {
                reading_body,
                waited,
            },
            true,
        )
    } else {
        let refused = e
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_connect);
        (Cause::Network, !refused)
    };
    (EntraError::Transport { detail, cause }, retry)
}

/// The final error, carrying how many attempts over how long.
fn totals(failure: EntraError, attempts: u32, waited: Duration) -> EntraError {
    match failure {
        EntraError::Unavailable { status, .. } => EntraError::Unavailable {
            status,
            attempts,
            waited,
        },
        EntraError::Transport {
            detail,
            cause: Cause::Timeout { reading_body, .. },
        } => EntraError::Transport {
            detail,
            cause: Cause::Timeout {
                reading_body,
                waited,
            },
        },
        other => other,
    }
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
mod tests;
