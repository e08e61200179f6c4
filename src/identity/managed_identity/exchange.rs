//! One token request to a managed-identity endpoint, retried as Microsoft
//! documents for IMDS: 404 and 410 (the endpoint is updating), 429 and 5xx
//! again after a backoff or the server's `Retry-After`; other 4xx never.
//!
//! A refused connection or a connect timeout is not retried: it means there
//! is no endpoint here (not an Azure machine), and git should hear that in
//! seconds, not after a minute of retries. One budget (the identity's
//! `managed_identity_timeout_seconds`) bounds the whole operation — except
//! while IMDS answers 410, "updating, available within 70 seconds": then the
//! helper keeps trying until one attempt after that window.

use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use url::Url;

use crate::config::MiSelector;
use crate::entra::{EntraError, MAX_RESPONSE_BYTES, parse_token};
use crate::net::answer::{
    BodyError, NoAnswer, Verdict, error_chain, read_text, retry_after, root_cause, verdict,
};
use crate::net::retry::{Attempt, MANAGED_IDENTITY as POLICY, Policy, Step};
use crate::sys::secret::Secret;
use crate::sys::text::sanitize;
use crate::sys::time::now;
use crate::sys::trace::Trace;
use crate::token::TokenResponse;

use super::arc;
use super::{Endpoint, ManagedIdentity, MiError, MiFailure, describe_selector};

/// IMDS's api-version (the documented one).
pub const IMDS_API_VERSION: &str = "2018-02-01";
/// App Service's api-version (`X-IDENTITY-HEADER`, `client_id`, epoch `expires_on`).
pub const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// Azure Arc's api-version (as MSAL and azure-identity send).
pub const ARC_API_VERSION: &str = "2020-06-01";

/// The request URL: the endpoint's path, api-version, resource and the
/// selector under the name this endpoint knows it by.
pub fn request_url(
    endpoint: &Endpoint,
    selector: &MiSelector,
    resource: &str,
) -> Result<Url, String> {
    let (base, version, names) = match endpoint {
        Endpoint::Imds { authority } => (
            format!("{authority}/metadata/identity/oauth2/token"),
            Some(IMDS_API_VERSION),
            ["client_id", "object_id", "msi_res_id"],
        ),
        Endpoint::AppService { url, .. } => (
            url.clone(),
            Some(APP_SERVICE_API_VERSION),
            ["client_id", "principal_id", "mi_res_id"],
        ),
        Endpoint::Arc { url, .. } => (url.clone(), Some(ARC_API_VERSION), ["", "", ""]),
        // Cloud Shell takes a form, not a query.
        Endpoint::CloudShell { url } => (url.clone(), None, ["", "", ""]),
    };
    let mut url = Url::parse(&base).map_err(|e| format!("{base} is not a URL: {e}"))?;
    if let Some(version) = version {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", version)
            .append_pair("resource", resource);
        let (name, value) = match selector {
            MiSelector::System => ("", ""),
            MiSelector::ClientId(id) => (names[0], id.as_str()),
            MiSelector::ObjectId(id) => (names[1], id.as_str()),
            MiSelector::ResourceId(id) => (names[2], id.as_str()),
        };
        if !name.is_empty() {
            q.append_pair(name, value);
        }
    }
    Ok(url)
}

/// Sends one request; `key` answers Arc's challenge.
fn send(
    http: &Client,
    endpoint: &Endpoint,
    url: &Url,
    resource: &str,
    key: Option<&Secret<String>>,
    timeout: Duration,
) -> reqwest::Result<Response> {
    let request = match endpoint {
        Endpoint::CloudShell { .. } => http
            .post(url.clone())
            .header("Metadata", "true")
            .form(&[("resource", resource)]),
        Endpoint::AppService { header, .. } => http
            .get(url.clone())
            .header("X-IDENTITY-HEADER", header.expose().as_str()),
        Endpoint::Imds { .. } | Endpoint::Arc { .. } => {
            let r = http.get(url.clone()).header("Metadata", "true");
            match key {
                Some(key) => r.header("Authorization", format!("Basic {}", key.expose())),
                None => r,
            }
        }
    };
    request
        .header("Accept", "application/json")
        .timeout(timeout)
        .send()
}

/// A token for `resource` from `mi`'s endpoint, under [`POLICY`] with the
/// identity's budget.
pub fn token(
    http: &Client,
    mi: &ManagedIdentity,
    resource: &str,
    trace: &Trace,
) -> Result<TokenResponse, MiError> {
    let at = mi.endpoint.describe();
    let fail = |failure| MiError {
        endpoint: at.clone(),
        failure,
    };
    let url = request_url(&mi.endpoint, &mi.selector, resource).map_err(|problem| {
        fail(MiFailure::BadResponse {
            status: 0,
            detail: problem,
        })
    })?;
    let policy = Policy {
        budget: mi.timeout,
        ..POLICY
    };
    policy
        .run(
            trace,
            |attempt| one_attempt(http, mi, &url, resource, &policy, attempt, trace),
            |failure, attempts, waited| match failure {
                MiFailure::Unavailable {
                    status, message, ..
                } => MiFailure::Unavailable {
                    status,
                    attempts,
                    waited,
                    message,
                },
                MiFailure::Transport { detail, .. } => MiFailure::Transport { detail, waited },
                other => other,
            },
        )
        .map_err(fail)
}

fn one_attempt(
    http: &Client,
    mi: &ManagedIdentity,
    url: &Url,
    resource: &str,
    policy: &Policy,
    attempt: Attempt,
    trace: &Trace,
) -> Step<TokenResponse, MiFailure> {
    let sent = Instant::now();
    let method = if matches!(mi.endpoint, Endpoint::CloudShell { .. }) {
        "POST"
    } else {
        "GET"
    };
    let logged = |status: &dyn std::fmt::Display| {
        trace.detail(format_args!(
            "managed identity: {method} {url} -> {status} in {} ms",
            sent.elapsed().as_millis()
        ));
    };
    let mut resp = match send(http, &mi.endpoint, url, resource, None, attempt.timeout) {
        Ok(resp) => resp,
        Err(e) => {
            let step = transport(&e, attempt.started);
            logged(&"no answer");
            return step;
        }
    };
    logged(&resp.status().as_u16());
    if let Endpoint::Arc { key_dir, .. } = &mi.endpoint
        && resp.status().as_u16() == 401
    {
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let key = match arc::key_path(challenge, key_dir).and_then(|p| arc::read_key(&p)) {
            Ok(key) => key,
            Err(problem) => {
                return Step::Done(Err(MiFailure::ArcChallenge {
                    problem: format!(
                        "the agent's challenge could not be answered: {problem}. Arc accepts only a key file in {} (the agent writes it there for members of the himds group)",
                        key_dir.display()
                    ),
                }));
            }
        };
        let left = attempt.timeout.saturating_sub(sent.elapsed());
        resp = match send(http, &mi.endpoint, url, resource, Some(&key), left) {
            Ok(resp) => resp,
            Err(e) => return transport(&e, attempt.started),
        };
        logged(&format_args!(
            "{} (challenge answered)",
            resp.status().as_u16()
        ));
    }
    judge(resp, mi, policy, attempt.number, trace)
}

/// Turns an answer into a token, a retry or a final failure.
fn judge(
    resp: Response,
    mi: &ManagedIdentity,
    policy: &Policy,
    number: u32,
    trace: &Trace,
) -> Step<TokenResponse, MiFailure> {
    let status = resp.status().as_u16();
    let retry_after = retry_after(&resp);
    let body = match read_text(resp, MAX_RESPONSE_BYTES) {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Step::Done(Err(MiFailure::TooLarge { status })),
        Err(BodyError::NotText) => {
            let detail = "not UTF-8 text".into();
            return Step::Done(Err(MiFailure::BadResponse { status, detail }));
        }
        Err(BodyError::Broken(e)) => {
            return Step::Transport {
                failure: MiFailure::Transport {
                    detail: sanitize(&error_chain(&e)),
                    waited: Duration::ZERO,
                },
            };
        }
    };
    let verdict = verdict(status, policy);
    if verdict == Verdict::Ok {
        return Step::Done(parse(status, &body, trace));
    }
    let message = server_message(&body);
    if verdict == Verdict::Unavailable {
        return Step::Status {
            status,
            failure: MiFailure::Unavailable {
                status,
                attempts: number,
                waited: Duration::ZERO,
                message,
            },
            retry_after,
        };
    }
    Step::Done(Err(if status == 400 && identity_not_found(&message) {
        MiFailure::IdentityNotFound {
            selector: describe_selector(&mi.selector),
            status,
            message,
        }
    } else if matches!(mi.endpoint, Endpoint::AppService { .. }) && matches!(status, 401 | 403) {
        MiFailure::HeaderRefused { status, message }
    } else {
        MiFailure::Rejected { status, message }
    }))
}

/// A success: entra's parser (numbers may be strings; `expires_in` or
/// `expires_on`), plus the `client_id` managed identities report, traced
/// so a surprise (IMDS answering a system-assigned request with the only
/// user-assigned identity) can be seen.
fn parse(status: u16, body: &str, trace: &Trace) -> Result<TokenResponse, MiFailure> {
    let token = parse_token(status, body, now()).map_err(|e| match e {
        EntraError::BadResponse { status, detail } => MiFailure::BadResponse { status, detail },
        other => MiFailure::BadResponse {
            status,
            detail: other.to_string(),
        },
    })?;
    let client_id = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("client_id")?.as_str().map(sanitize));
    trace.detail(format_args!(
        "managed identity: token for client id {}, expires in {} s",
        client_id.as_deref().unwrap_or("(not stated)"),
        token.expires_on.saturating_sub(token.obtained)
    ));
    Ok(token)
}

/// What an error body says, in the shapes the endpoints use: IMDS's OAuth
/// `error_description`, App Service's `message`, Cloud Shell's
/// `error.message`. Sanitized; empty when there is nothing readable.
pub fn server_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return sanitize(body);
    };
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|t| t.as_str()).map(str::to_string);
    let said = text(&v, "error_description")
        .or_else(|| text(&v, "message"))
        .or_else(|| v.get("error").and_then(|e| text(e, "message")))
        .or_else(|| text(&v, "error"))
        .unwrap_or_default();
    sanitize(&said)
}

/// IMDS says `Identity not found`; App Service `Unable to load the proper
/// Managed Identity`; Service Fabric-style endpoints `ManagedIdentityNotFound`.
fn identity_not_found(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "identity not found",
        "unable to load the proper managed identity",
        "managedidentitynotfound",
    ]
    .iter()
    .any(|s| m.contains(s))
}

/// No answer: nothing listening (refused, or no connection within the
/// connect timeout) ends at once; anything else may be retried.
fn transport(e: &reqwest::Error, started: Instant) -> Step<TokenResponse, MiFailure> {
    let detail = sanitize(&error_chain(e));
    let no = NoAnswer::of(e);
    if no.connect {
        let detail = if no.timeout {
            format!(
                "no connection within {} s",
                crate::net::http::MANAGED_IDENTITY_CONNECT_TIMEOUT.as_secs()
            )
        } else {
            sanitize(&root_cause(e))
        };
        return Step::Done(Err(MiFailure::Unreachable { detail }));
    }
    Step::Transport {
        failure: MiFailure::Transport {
            detail,
            waited: started.elapsed(),
        },
    }
}
