//! What Entra answers: a token body (numbers as numbers or strings, a
//! lifetime counted on this machine's clock) or an OAuth error, and
//! [`EntraError`], which says why no token came back in words a user can act
//! on — with nothing of what was sent (secrets, assertions) echoed back.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::aadsts;
use super::{MAX_LIFETIME_SECS, MAX_RESPONSE_BYTES};
use crate::net::answer::certificate_fix;
use crate::sys::secret::Secret;
use crate::sys::text::{sanitize, sanitize_hiding};
use crate::token::{AccessToken, TokenResponse, number_or_string};

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

// Its Display is its message; it has no deeper cause.
impl std::error::Error for EntraError {}

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
    /// The proxy wants credentials or refused the tunnel; the detail is
    /// the whole message (`NoAnswer::local_failure`).
    Proxy,
}

const NETWORK_FIX: &str = "check network access to the authority host (the proxy: git's http.proxy or HTTPS_PROXY, and NO_PROXY; `git-credential-entra doctor` shows the ones in effect)";

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
                    "the authority host's TLS certificate was not trusted ({detail}). Fix: {}; otherwise check that authority_host is Entra's (https://login.microsoftonline.com for the public cloud)",
                    certificate_fix()
                ),
                Cause::Proxy => f.write_str(detail),
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
            .map(|t| sanitize_hiding(t, sent))
    };
    let summary = v
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| sanitize_hiding(first_sentence(d), sent));
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

/// Entra's refusal as another program printed it (the Azure CLI prints
/// Entra's `error_description`: `AADSTS700016: Application … Trace ID: …
/// Correlation ID: … Timestamp: …`): the first AADSTS code in `text`, the
/// sentence after it and the correlation id. `None` when no code is there.
pub fn refusal_in_text(text: &str) -> Option<EntraError> {
    let (at, line) = text.lines().find_map(|l| Some((l.find("AADSTS")?, l)))?;
    let description = &line[at..];
    let digits = description["AADSTS".len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?;
    let code = digits.parse().ok()?;
    let correlation_id = description
        .split_once("Correlation ID:")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(sanitize);
    Some(EntraError::Rejected {
        status: 0,
        error: String::new(),
        codes: vec![code],
        summary: Some(sanitize(first_sentence(description))).filter(|s| !s.is_empty()),
        correlation_id,
    })
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

impl EntraError {
    /// Whether the service failed (throttled or failing through every
    /// retry, unreachable, too slow, an unusable answer) rather than this
    /// request or this machine (a refusal of our credentials, a TLS
    /// certificate not trusted here). Only the service's failures are
    /// shared with waiting processes: a local one may be fixed a moment
    /// later, and must not be replayed after that.
    pub fn is_service_outage(&self) -> bool {
        match self {
            EntraError::Unavailable { .. }
            | EntraError::BadResponse { .. }
            | EntraError::TooLarge { .. } => true,
            EntraError::Transport { cause, .. } => {
                !matches!(cause, Cause::Certificate | Cause::Proxy)
            }
            EntraError::Rejected { .. } => false,
        }
    }

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
