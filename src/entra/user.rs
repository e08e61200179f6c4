//! The grants of a person's sign-in: authorization code with PKCE, refresh
//! token and device code, on the same form posting and retries as the rest.

use super::*;
use crate::token::number_or_string;

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
