//! Entra ID's v2 token endpoint as a small OAuth client: how a client
//! authenticates ([`ClientAuth`]), the grants, the response (numbers may be
//! strings), the retry policy for throttling and outages, and AADSTS codes
//! turned into what the user should do.
//!
//! Everything an answer can make us do is bounded: one budget covers the
//! whole operation (requests and waits, see `net::retry`), answers are read up
//! to a size limit, lifetimes are clamped, and what the server wrote is
//! sanitized (and cleaned of anything we sent) before it is shown.

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde::Deserialize;

mod aadsts;
mod answer;
mod names;
mod user;

pub use aadsts::aadsts;
pub use answer::{Cause, EntraError, parse_error, parse_token, refusal_in_text};
pub use names::{check_client_id, check_tenant, is_guid};
pub use user::{
    CodeRedemption, DEVICE_CODE_GRANT, DeviceCode, MAX_DEVICE_CODE_SECS, authorization_code,
    device_code, device_code_poll, parse_device_code, refresh_token, user_scope,
};

use crate::net::answer::{
    BodyError, NoAnswer, Verdict, error_chain, read_text, retry_after, verdict,
};
use crate::net::retry::{ENTRA as POLICY, Step};
use crate::sys::secret::Secret;
use crate::sys::text::sanitize;
use crate::sys::time::now;
use crate::sys::trace::Trace;
use crate::token::TokenResponse;

/// Largest answer read: a token response is a few KiB, and a server that
/// streams without end must not fill the memory.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;
/// Longest token lifetime believed (a day, Entra's configurable maximum), so
/// that expiry arithmetic stays far from overflow whatever a server says.
pub const MAX_LIFETIME_SECS: i64 = 24 * 60 * 60;

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
            let verdict = verdict(status, &POLICY);
            if verdict == Verdict::Unavailable {
                let retry_after = retry_after(&resp);
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
                Ok(body) if verdict == Verdict::Ok => Step::Done(parse(status, &body)),
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
    read_text(resp, MAX_RESPONSE_BYTES).map_err(|e| match e {
        BodyError::TooLarge => (EntraError::TooLarge { status }, false),
        BodyError::NotText => {
            let detail = "not UTF-8 text".to_string();
            (EntraError::BadResponse { status, detail }, false)
        }
        BodyError::Broken(e) => transport(&e, true, start),
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
    let no = NoAnswer::of(e);
    // The host a proxy was asked for, as a person would allow it there or
    // list it in NO_PROXY.
    let host = e
        .downcast_ref::<reqwest::Error>()
        .and_then(reqwest::Error::url)
        .and_then(url::Url::host_str)
        .unwrap_or("Entra's host")
        .to_string();
    if let Some(message) = no.local_failure(&host, &detail).filter(|_| !no.certificate) {
        let cause = Cause::Proxy;
        return (
            EntraError::Transport {
                detail: message,
                cause,
            },
            false,
        );
    }
    let (cause, retry) = if no.certificate {
        (Cause::Certificate, false)
    } else if no.timeout {
        let waited = start.elapsed();
        (
            Cause::Timeout {
                reading_body,
                waited,
            },
            true,
        )
    } else {
        (Cause::Network, !no.connect)
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

#[cfg(test)]
mod tests;
