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
use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::http::REQUEST_TIMEOUT;
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
        530033..=530035 => (
            "device-code sign-in is blocked by Conditional Access",
            "sign in with the browser or paste flow instead (`git-credential-entra login --flow browser` or `--flow paste`), or use an `azure-cli` identity after `az login`",
        ),
        50076 | 50079 => (
            "multi-factor authentication is required",
            "sign in again interactively: git-credential-entra login",
        ),
        70043 | 50173 | 700082 | 70008 => (
            "the sign-in has expired or was revoked",
            "sign in again: git-credential-entra login",
        ),
        53003 => (
            "blocked by Conditional Access",
            "a Conditional Access policy in the tenant blocks this sign-in; ask a tenant administrator to allow this principal or location",
        ),
        700027 => (
            "the client assertion's signature is invalid, or its certificate is not registered on the app",
            "upload this certificate (its public part, .cer/.pem) to the app registration's Certificates & secrets, or point the identity at the certificate that is registered; compare thumbprints with `openssl x509 -noout -fingerprint -sha1 -in CERT`",
        ),
        700023 => (
            "the client assertion's audience does not match the tenant's token endpoint",
            "use the tenant (and authority_host) the app is registered in; the assertion's aud is the token URL built from them",
        ),
        7000274 => (
            "Entra found the certificate on the app registration but will not accept it (see its text: typically expired or not yet valid)",
            "upload a current certificate to the app registration (Certificates & secrets) and point the identity at its PEM or PFX",
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
    let lifetime = match (b.expires_in, b.expires_on) {
        (Some(secs), _) if secs > 0 => secs,
        (Some(_), _) => return Err(bad("expires_in is not a positive number of seconds")),
        (None, Some(on)) if on > received => on.saturating_sub(received),
        _ => return Err(bad("no usable expires_in or expires_on")),
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
fn parse_error(status: u16, body: &str, sent: &[(&str, &str)]) -> EntraError {
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
    attempt_timeout: REQUEST_TIMEOUT,
    min_attempt: MIN_ATTEMPT_TIME,
    first_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(16),
    honour_retry_after: true,
    retry_transport: true,
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

/// Scope of a user sign-in: the resource, and a refresh token (`offline_access`).
pub fn user_scope(resource: &str) -> String {
    format!("{resource}/.default offline_access")
}

/// The authorization-code grant with PKCE (public client: no secret) —
/// the redemption half of the browser and paste sign-ins.
pub struct CodeRedemption<'a> {
    /// Authority host, no trailing slash.
    pub authority: &'a str,
    /// Tenant path segment (`organizations` when unknown).
    pub tenant: &'a str,
    /// Public client id.
    pub client_id: &'a str,
    /// Space-separated scopes.
    pub scope: &'a str,
    /// The code the redirect carried.
    pub code: &'a Secret<String>,
    /// Exactly the `redirect_uri` of the authorize request.
    pub redirect_uri: &'a str,
    /// The PKCE verifier whose S256 challenge the authorize request sent.
    pub verifier: &'a Secret<String>,
}

/// Redeems an authorization code at `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn authorization_code(
    http: &Client,
    r: &CodeRedemption,
    trace: &Trace,
) -> Result<TokenResponse, EntraError> {
    let endpoint = format!("{}/{}/oauth2/v2.0/token", r.authority, r.tenant);
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", r.client_id),
        ("scope", r.scope),
        ("code", r.code.expose().as_str()),
        ("redirect_uri", r.redirect_uri),
        ("code_verifier", r.verifier.expose().as_str()),
    ];
    post_form(http, &endpoint, &form, trace)
}

/// The refresh-token grant: a new access token (and usually a new refresh
/// token, which replaces the old one) without the person.
pub fn refresh_token(
    http: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    scope: &str,
    refresh: &Secret<String>,
    trace: &Trace,
) -> Result<TokenResponse, EntraError> {
    let endpoint = format!("{authority}/{tenant}/oauth2/v2.0/token");
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("scope", scope),
        ("refresh_token", refresh.expose().as_str()),
    ];
    post_form(http, &endpoint, &form, trace)
}

/// What `/devicecode` answered: the code to show and how to poll.
#[derive(Debug)]
pub struct DeviceCode {
    /// Polled with; never shown.
    pub device_code: Secret<String>,
    /// What the person types.
    pub user_code: String,
    /// Where they type it.
    pub verification_uri: String,
    /// Entra's own instructions, sanitized.
    pub message: Option<String>,
    /// Seconds until the code expires.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

#[derive(Deserialize)]
struct DeviceCodeBody {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    message: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<i64>,
    #[serde(default, deserialize_with = "number_or_string")]
    interval: Option<i64>,
}

/// Longest a device code is waited for, whatever the server says.
pub const MAX_DEVICE_CODE_SECS: u64 = 15 * 60;

/// Parses `/devicecode`'s answer; numbers may be strings (MSAL's defaults
/// 5 s and 15 min when absent), both clamped to something sane.
pub fn parse_device_code(status: u16, body: &str) -> Result<DeviceCode, EntraError> {
    let bad = |detail: &str| EntraError::BadResponse {
        status,
        detail: detail.to_string(),
    };
    let b: DeviceCodeBody = serde_json::from_str(body).map_err(|_| bad("not JSON"))?;
    let text = |v: Option<String>, what: &str| {
        v.map(|t| sanitize(&t))
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| bad(what))
    };
    Ok(DeviceCode {
        device_code: Secret::new(
            b.device_code
                .filter(|c| !c.is_empty())
                .ok_or_else(|| bad("no device_code"))?,
        ),
        user_code: text(b.user_code, "no user_code")?,
        verification_uri: text(b.verification_uri, "no verification_uri")?,
        message: b.message.map(|m| sanitize(&m)).filter(|m| !m.is_empty()),
        expires_in: b
            .expires_in
            .filter(|e| *e > 0)
            .map_or(MAX_DEVICE_CODE_SECS, |e| e as u64)
            .min(MAX_DEVICE_CODE_SECS),
        interval: b
            .interval
            .filter(|i| *i > 0)
            .map_or(5, |i| i as u64)
            .min(60),
    })
}

/// Starts a device-code sign-in at `{authority}/{tenant}/oauth2/v2.0/devicecode`.
pub fn device_code(
    http: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    scope: &str,
    trace: &Trace,
) -> Result<DeviceCode, EntraError> {
    let endpoint = format!("{authority}/{tenant}/oauth2/v2.0/devicecode");
    let form = [("client_id", client_id), ("scope", scope)];
    post_form_with(http, &endpoint, &form, trace, parse_device_code)
}

/// One poll of a device-code sign-in; `authorization_pending`,
/// `slow_down`, `expired_token`… come back as [`EntraError::Rejected`].
pub fn device_code_poll(
    http: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    device_code: &Secret<String>,
    trace: &Trace,
) -> Result<TokenResponse, EntraError> {
    let endpoint = format!("{authority}/{tenant}/oauth2/v2.0/token");
    let form = [
        ("grant_type", DEVICE_CODE_GRANT),
        ("client_id", client_id),
        ("device_code", device_code.expose().as_str()),
    ];
    post_form(http, &endpoint, &form, trace)
}

/// `grant_type` of a device-code poll (RFC 8628).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

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
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES)
    {
        return Err((EntraError::TooLarge { status }, false));
    }
    let mut bytes = Vec::new();
    if let Err(e) = resp.take(MAX_RESPONSE_BYTES + 1).read_to_end(&mut bytes) {
        return Err(transport(&e, true, start));
    }
    if bytes.len() as u64 > MAX_RESPONSE_BYTES {
        return Err((EntraError::TooLarge { status }, false));
    }
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

fn error_chain(e: &dyn StdError) -> String {
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
        .expect("ok")
        .into_access_token();
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
    fn a_refresh_token_is_kept_in_the_answer_only() {
        let r = parse_token(
            200,
            r#"{"access_token":"a","expires_in":3600,"refresh_token":"rt-1"}"#,
            1000,
        )
        .expect("ok");
        assert_eq!(
            r.refresh_token.as_ref().map(Secret::expose),
            Some(&"rt-1".to_string())
        );
        let cached = r.into_access_token().to_json();
        assert!(!cached.expose().contains("rt-1"), "never cached");
        let r = parse_token(
            200,
            r#"{"access_token":"a","expires_in":3600,"refresh_token":""}"#,
            1000,
        )
        .expect("ok");
        assert_eq!(r.refresh_token, None);
    }

    #[test]
    fn lifetimes_are_clamped_and_must_be_positive() {
        let day = MAX_LIFETIME_SECS;
        let parse = |body: &str, received: i64| parse_token(200, body, received);
        for (body, received) in [
            (
                r#"{"access_token":"a","expires_in":9223372036854775807}"#,
                1000,
            ),
            (
                r#"{"access_token":"a","expires_in":"9223372036854775807"}"#,
                1000,
            ),
            (
                r#"{"access_token":"a","expires_on":9223372036854775807}"#,
                1000,
            ),
            (
                r#"{"access_token":"a","expires_in":9223372036854775807,"refresh_in":9223372036854775807}"#,
                1000,
            ),
        ] {
            let t = parse(body, received).expect(body).into_access_token();
            assert_eq!(t.expires_on, received + day, "{body}");
            assert!(t.refresh_on.is_none_or(|r| r <= t.expires_on), "{body}");
            assert!(t.git_expiry(300, received) > received, "{body}");
        }
        let t =
            parse(r#"{"access_token":"a","expires_in":3600}"#, i64::MAX - 10).expect("late clock");
        assert_eq!(t.expires_on, i64::MAX);
        let t = parse(
            r#"{"access_token":"a","expires_on":10}"#,
            -9223372036854775000,
        )
        .expect("early clock");
        assert_eq!(t.expires_on, -9223372036854775000 + day);
        for body in [
            r#"{"access_token":"a","expires_in":0}"#,
            r#"{"access_token":"a","expires_in":-5}"#,
            r#"{"access_token":"a","expires_in":-9223372036854775808}"#,
            r#"{"access_token":"a","expires_in":-1,"expires_on":99999}"#,
            r#"{"access_token":"a","expires_on":1000}"#,
            r#"{"access_token":"a","expires_on":-9223372036854775808}"#,
        ] {
            assert!(parse(body, 1000).is_err(), "{body}");
        }
    }

    #[test]
    fn aadsts_errors_fit_on_one_line_with_the_correlation_id_once() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: c1\r\nTimestamp: 2026-01-01 00:00:00Z","error_codes":[7000215],"correlation_id":"c1"}"#;
        let text = parse_error(401, body, &[]).to_string();
        assert_eq!(
            text,
            format!(
                "Entra refused the token request with AADSTS7000215 (invalid client secret): Invalid client secret provided. Fix: {} (correlation id c1)",
                aadsts(7000215).1
            )
        );
        // Some proxies and older endpoints put the ids on the same line.
        let body = r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found Trace ID: t Correlation ID: c2 Timestamp: now","error_codes":[90002],"correlation_id":"c2"}"#;
        let text = parse_error(400, body, &[]).to_string();
        assert!(!text.contains('\n'), "{text}");
        assert_eq!(text.matches("c2").count(), 1, "{text}");
        assert!(
            text.contains("(tenant not found): Tenant 'x' not found. Fix: check the tenant"),
            "{text}"
        );
        assert!(
            !text.contains("Trace ID") && !text.contains("Timestamp"),
            "{text}"
        );
        let text = parse_error(400, r#"{"error":"invalid_request"}"#, &[]).to_string();
        assert!(text.contains("(HTTP 400, invalid_request). Fix:"), "{text}");
        for code in [7000215, 7000222, 700016, 90002, 70011, 500011, 50196, 53003] {
            assert!(!aadsts(code).0.starts_with("see "), "{code} has a meaning");
        }
    }

    #[test]
    fn server_text_loses_control_characters_and_our_form_values() {
        let secret = "s3cr3t-value~with.chars";
        let sent = [("client_id", "app-id-1234"), ("client_secret", secret)];
        let body = serde_json::json!({
            "error": "bad\u{1b}[2J",
            "error_description": format!("AADSTS7000215: got \u{1b}]0;x\u{7}{secret} for app-id-1234\u{1b}[31m"),
            "error_codes": [7000215],
            "correlation_id": "c1\u{7}\u{1b}[1A",
        })
        .to_string();
        let text = parse_error(401, &body, &sent).to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(!text.contains(secret) && !text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("app-id-1234"), "{text}");
        assert!(
            text.contains("got ]0;x <client_secret> for <client_id> [31m"),
            "{text}"
        );
        assert!(text.contains("(correlation id c1 [1A)"), "{text}");
        // A secret split by control characters is not reassembled.
        let body = serde_json::json!({"error": format!("x{}\u{7}{}", &secret[..4], &secret[4..])})
            .to_string();
        let text = parse_error(400, &body, &sent).to_string();
        assert!(!text.contains(secret), "{text}");
    }

    #[test]
    fn outages_are_labelled_by_status() {
        let text = |status| {
            EntraError::Unavailable {
                status,
                attempts: 3,
                waited: Duration::from_secs(7),
            }
            .to_string()
        };
        assert!(text(429).contains("HTTP 429 (throttled) 3 time(s) over 7 s"));
        assert!(text(503).contains("HTTP 503 (service unavailable)"));
        for status in [500, 502, 504] {
            assert!(
                text(status).contains(&format!("HTTP {status} (server error)")),
                "{}",
                text(status)
            );
        }
    }

    // A self-signed certificate no system trusts (EC P-256, for 127.0.0.1).
    const UNTRUSTED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBxTCCAWugAwIBAgITCn7SnWeCd4elKuBbo8iJqQvwujAKBggqhkjOPQQDAjAZ
MRcwFQYDVQQDDA51bnRydXN0ZWQudGVzdDAgFw0yNjExMzAxNDQzNDNaGA8yMTI2
MTEwNjE0NDM0M1owGTEXMBUGA1UEAwwOdW50cnVzdGVkLnRlc3QwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAASvFPsxHK3lDrrr3EvPERkxbxhwHJq8boViHGh1H7dv
50ybT1OwsD8o1S7wYzoZup/sxhN8aSvzdnual/4PVZ1to4GPMIGMMB0GA1UdDgQW
BBRMU/Au9eRN4lmcbPyii4tGDdF5fTAfBgNVHSMEGDAWgBRMU/Au9eRN4lmcbPyi
i4tGDdF5fTAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwDAYDVR0TAQH/BAIw
ADALBgNVHQ8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwCgYIKoZIzj0EAwID
SAAwRQIhAM7QC6D15MV4Pe9+fp1SdIJM7aH81/RBt6aM8ncx8tulAiA7klBZj2Ux
k3x/eOyQV1s4XZn9Nn5UIcKSask+1sqMKw==
-----END CERTIFICATE-----
";
    const UNTRUSTED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwK2A7PNVndlb7FIm
ZvCzAVfJRPifJ5tut6WBHmsH1+KhRANCAASvFPsxHK3lDrrr3EvPERkxbxhwHJq8
boViHGh1H7dv50ybT1OwsD8o1S7wYzoZup/sxhN8aSvzdnual/4PVZ1t
-----END PRIVATE KEY-----
";

    /// Serves TLS with [`UNTRUSTED_CERT`] to one client on 127.0.0.1.
    fn untrusted_tls_server() -> (u16, std::thread::JoinHandle<()>) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_slice(UNTRUSTED_CERT.as_bytes()).expect("cert");
        let key = PrivateKeyDer::from_pem_slice(UNTRUSTED_KEY.as_bytes()).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().expect("accept");
            let mut tls =
                rustls::ServerConnection::new(std::sync::Arc::new(config)).expect("session");
            // Runs until the client rejects the certificate and hangs up.
            while tls.complete_io(&mut tcp).is_ok() && tls.is_handshaking() {}
        });
        (port, server)
    }

    #[test]
    fn an_untrusted_certificate_is_named_not_blamed_on_the_proxy() {
        let (port, server) = untrusted_tls_server();
        let authority = format!("https://127.0.0.1:{port}");
        let http = crate::http::entra_client(&authority).expect("client");
        let secret = Secret::new("not-sent-anywhere".to_string());
        let started = Instant::now();
        let e = client_credentials(
            &http,
            &authority,
            "t",
            "c",
            "s",
            &ClientAuth::Secret(secret),
            &Trace::off(),
        )
        .expect_err("the certificate is not trusted");
        server.join().expect("server thread");
        assert!(
            matches!(
                e,
                EntraError::Transport {
                    cause: Cause::Certificate,
                    ..
                }
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.contains("TLS certificate was not trusted"), "{text}");
        assert!(
            text.contains("authority_host") && text.contains("CA certificate"),
            "{text}"
        );
        assert!(!text.contains("HTTPS_PROXY"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(10), "not retried");
    }

    #[test]
    fn a_secret_and_an_assertion_make_different_forms() {
        let secret = ClientAuth::Secret(Secret::new("the-secret".to_string()));
        assert_eq!(
            client_credentials_form("app", "res/.default", &secret),
            [
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("scope", "res/.default"),
                ("client_secret", "the-secret"),
            ]
        );
        let assertion = ClientAuth::Assertion(Secret::new("eyJ.jwt.sig".to_string()));
        let form = client_credentials_form("app", "res/.default", &assertion);
        assert_eq!(
            form,
            [
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("scope", "res/.default"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", "eyJ.jwt.sig"),
            ]
        );
        assert!(form.iter().all(|(k, _)| *k != "client_secret"));
        // An error answer that echoes the assertion does not print it.
        let echoed = r#"{"error":"invalid_client","error_description":"bad eyJ.jwt.sig"}"#;
        let text = parse_error(401, echoed, &form).to_string();
        assert!(
            text.contains("<client_assertion>") && !text.contains("eyJ.jwt.sig"),
            "{text}"
        );
    }

    #[test]
    fn entra_retries_throttling_and_outages_only() {
        for status in [429, 500, 503, 599] {
            assert!(POLICY.retries(status), "{status}");
        }
        for status in [200, 400, 401, 404, 410] {
            assert!(!POLICY.retries(status), "{status}");
        }
        let waits: Vec<u64> = (1..=6).map(|n| POLICY.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 16]);
        const { assert!(POLICY.honour_retry_after && POLICY.retry_transport) };
        assert_eq!(POLICY.budget, RETRY_BUDGET);
    }

    #[test]
    fn timeouts_are_found_inside_io_errors() {
        let inner = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        let wrapped = std::io::Error::other(inner);
        let (e, retry) = transport(&wrapped, true, Instant::now());
        assert!(retry);
        assert!(
            matches!(
                e,
                EntraError::Transport {
                    cause: Cause::Timeout {
                        reading_body: true,
                        ..
                    },
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("stopped arriving"), "{e}");
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let (e, retry) = transport(&refused, false, Instant::now());
        assert!(
            retry
                && matches!(
                    e,
                    EntraError::Transport {
                        cause: Cause::Network,
                        ..
                    }
                )
        );
    }
}
