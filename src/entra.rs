//! Entra ID's v2 token endpoint: the request, the response (numbers may be
//! strings), retries on throttling and outages, and AADSTS codes turned into
//! what the user should do.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde::Deserialize;
use serde_json::Value;

use crate::cache::CachedToken;
use crate::secret::Secret;
use crate::timefmt::now;
use crate::trace::Trace;

/// Total time retries may take for one token request.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);
const MAX_ATTEMPTS: u32 = 6;

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
    /// No HTTP answer at all.
    Transport { detail: String },
    /// An answer we cannot use.
    BadResponse { status: u16, detail: String },
}

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
                match codes.first() {
                    Some(code) => {
                        let (meaning, fix) = aadsts(*code);
                        write!(
                            f,
                            "Entra refused the token request with AADSTS{code} ({meaning}). Fix: {fix}"
                        )?;
                    }
                    None => write!(
                        f,
                        "Entra refused the token request (HTTP {status}, {error})"
                    )?,
                }
                if let Some(s) = summary {
                    write!(f, "\n  Entra said: {s}")?;
                }
                if let Some(c) = correlation_id {
                    write!(f, "\n  correlation id: {c}")?;
                }
                Ok(())
            }
            EntraError::Unavailable {
                status,
                attempts,
                waited,
            } => write!(
                f,
                "Entra answered HTTP {status}{} {attempts} time(s) over {:.0} s. Fix: wait a minute and retry; if it persists, check https://status.azure.com and that nothing is requesting tokens in a loop",
                if *status == 429 {
                    " (throttled)"
                } else {
                    " (service unavailable)"
                },
                waited.as_secs_f64()
            ),
            EntraError::Transport { detail } => write!(
                f,
                "could not reach Entra: {detail}. Fix: check network access to the authority host (proxy settings: HTTPS_PROXY, NO_PROXY)"
            ),
            EntraError::BadResponse { status, detail } => write!(
                f,
                "Entra's answer (HTTP {status}) is not a token response: {detail}"
            ),
        }
    }
}

/// Meaning and fix for the AADSTS codes this helper meets.
pub fn aadsts(code: u64) -> (&'static str, &'static str) {
    match code {
        7000215 => (
            "invalid client secret",
            "use the secret's Value (not its Secret ID) from the app registration's \"Certificates & secrets\" page, or create a new secret, and update where this identity reads it",
        ),
        7000222 => (
            "the client secret has expired",
            "create a new client secret for the app registration and update where this identity reads it",
        ),
        7000218 => (
            "the request carried no client secret or assertion",
            "configure a client secret or certificate for this identity",
        ),
        700016 => (
            "application not found in the tenant",
            "check client_id (the Application (client) ID) and tenant; the app must be registered in, or consented to by, that tenant",
        ),
        90002 => (
            "tenant not found",
            "check the tenant id or domain, and that authority_host points at the right cloud",
        ),
        70011 => (
            "invalid scope",
            "the scope must be 499b84ac-1321-427f-aa17-267ca6975798/.default; if a proxy rewrites requests, bypass it for the authority host",
        ),
        500011 => (
            "the Azure DevOps resource is not present in the tenant",
            "use the tenant your Azure DevOps organization is connected to (Organization settings > Microsoft Entra)",
        ),
        50196 => (
            "too many identical requests: Entra detected a loop",
            "make sure the token cache works (`git-credential-entra cache list`) and retry in a few minutes",
        ),
        53003 => (
            "blocked by Conditional Access",
            "a Conditional Access policy in the tenant blocks this sign-in; ask a tenant administrator to allow this principal or location",
        ),
        700027 => (
            "the client assertion's signature is invalid",
            "upload this certificate to the app registration, or point the identity at the certificate that is registered",
        ),
        700024 => (
            "the client assertion is outside its valid time range",
            "check the machine's clock; a federated token must be fresh (it is fetched per request)",
        ),
        70021 => (
            "no federated identity credential matches the assertion",
            "make the app's federated credential issuer, subject and audience match the token exactly",
        ),
        65001 => (
            "consent is missing",
            "have an administrator grant consent for Azure DevOps to this application",
        ),
        50020 => (
            "the user is not in the tenant",
            "invite the account to the tenant, or sign in to the right tenant",
        ),
        9001023 => (
            "this grant is not supported on /common or /consumers",
            "set a tenant id or domain for this identity",
        ),
        90055 => (
            "the tenant is being throttled",
            "wait a few minutes and retry; cache tokens instead of requesting them repeatedly",
        ),
        _ => (
            "see https://login.microsoftonline.com/error",
            "look the code up at https://login.microsoftonline.com/error?code= followed by the number",
        ),
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
pub fn parse_token(status: u16, body: &str, received: i64) -> Result<CachedToken, EntraError> {
    let bad = |detail: &str| EntraError::BadResponse {
        status,
        detail: detail.to_string(),
    };
    let b: TokenBody = serde_json::from_str(body).map_err(|_| bad("not JSON"))?;
    let token = b.access_token.ok_or_else(|| bad("no access_token"))?;
    CachedToken::check_token(&token).map_err(bad)?;
    let expires_on = match (b.expires_in, b.expires_on) {
        (Some(secs), _) if secs > 0 => received + secs,
        (_, Some(on)) if on > received => on,
        _ => return Err(bad("no usable expires_in or expires_on")),
    };
    Ok(CachedToken {
        token: Secret::new(token),
        expires_on,
        obtained: received,
        refresh_on: b.refresh_in.filter(|r| *r > 0).map(|r| received + r),
    })
}

fn parse_error(status: u16, body: &str) -> EntraError {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return EntraError::BadResponse {
            status,
            detail: "an error without a JSON body".into(),
        };
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let summary =
        text("error_description").map(|d| d.lines().next().unwrap_or("").trim().to_string());
    EntraError::Rejected {
        status,
        error: text("error").unwrap_or_else(|| "unknown_error".into()),
        codes: v
            .get("error_codes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        summary,
        correlation_id: text("correlation_id"),
    }
}

/// POSTs a token request form, retrying 429/5xx (honouring `Retry-After`) and
/// transport failures with backoff, within [`RETRY_BUDGET`].
pub fn request_token(
    http: &Client,
    endpoint: &str,
    form: &[(&str, &Secret<String>)],
    trace: &Trace,
) -> Result<CachedToken, EntraError> {
    let start = Instant::now();
    let form: Vec<(&str, &str)> = form
        .iter()
        .map(|(k, v)| (*k, v.expose().as_str()))
        .collect();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = Instant::now();
        let result = http
            .post(endpoint)
            .header("Accept", "application/json")
            .form(&form)
            .send();
        let backoff = Duration::from_secs(1 << (attempt - 1).min(4));
        let (status, wait) = match result {
            Err(e) => {
                let detail = error_chain(&e);
                trace.detail(format_args!(
                    "entra: POST {endpoint} failed after {} ms: {detail}",
                    sent.elapsed().as_millis()
                ));
                if e.is_connect() && !e.is_timeout() || !fits(start, backoff, attempt) {
                    return Err(EntraError::Transport { detail });
                }
                std::thread::sleep(backoff);
                continue;
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = resp.text().unwrap_or_default();
                trace.detail(format_args!(
                    "entra: POST {endpoint} -> {status} in {} ms",
                    sent.elapsed().as_millis()
                ));
                match status {
                    200 => return parse_token(status, &body, now()),
                    429 | 500..=599 => (status, retry_after.unwrap_or(backoff)),
                    _ => return Err(parse_error(status, &body)),
                }
            }
        };
        if !fits(start, wait, attempt) {
            return Err(EntraError::Unavailable {
                status,
                attempts: attempt,
                waited: start.elapsed(),
            });
        }
        trace.detail(format_args!(
            "entra: HTTP {status}, retrying in {} s",
            wait.as_secs()
        ));
        std::thread::sleep(wait);
    }
}

fn fits(start: Instant, wait: Duration, attempt: u32) -> bool {
    attempt < MAX_ATTEMPTS && start.elapsed() + wait <= RETRY_BUDGET
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_strings() {
        let t = parse_token(
            200,
            r#"{"access_token":"a","expires_in":"3599","refresh_in":1800}"#,
            1000,
        )
        .expect("ok");
        assert_eq!(
            (t.expires_on, t.obtained, t.refresh_on),
            (4599, 1000, Some(2800))
        );
        let t = parse_token(
            200,
            r#"{"access_token":"a","expires_on":"5000","expires_in":""}"#,
            1000,
        )
        .expect("ok");
        assert_eq!(t.expires_on, 5000);
        assert!(parse_token(200, r#"{"access_token":"a"}"#, 1000).is_err());
        assert!(parse_token(200, r#"{"expires_in":5}"#, 1000).is_err());
        assert!(parse_token(200, "<html>", 1000).is_err());
    }

    #[test]
    fn maps_aadsts_errors() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: c1","error_codes":[7000215],"correlation_id":"c1"}"#;
        let e = parse_error(401, body);
        let text = e.to_string();
        assert!(
            text.contains("AADSTS7000215 (invalid client secret)"),
            "{text}"
        );
        assert!(text.contains("Secret ID"), "{text}");
        assert!(text.contains("correlation id: c1"), "{text}");
        assert!(
            !text.contains("Trace ID"),
            "only the first line of the description: {text}"
        );
        for code in [7000215, 7000222, 700016, 90002, 70011, 500011, 50196, 53003] {
            assert!(!aadsts(code).0.starts_with("see "), "{code} has a meaning");
        }
    }
}
