//! The fake Entra's user sign-in endpoints, hooked into its router:
//! `GET /{tenant}/oauth2/v2.0/authorize` (redirects to the `redirect_uri`
//! with `code` and `state`, or `error=access_denied`), `POST …/devicecode`,
//! and the token endpoint's user grants: `authorization_code` (PKCE S256
//! verifier, `redirect_uri` and `client_id` checked against the authorize
//! request), `refresh_token` (rotated on every use) and device code
//! (`authorization_pending`, `slow_down`, `expired_token`, a Conditional
//! Access refusal, as scripted).

use super::entra::{Delivery, Scripted, State, tenant_id};
use super::{ADO_RESOURCE, derived_guid, jwt, now_secs, random_bytes, register_sensitive};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

/// What the sign-in endpoints know and saw.
pub struct Users {
    /// Tenant (as in URLs) → the user who signs in there.
    pub accounts: BTreeMap<String, String>,
    /// When set, `/authorize` answers `error=access_denied`.
    pub deny: bool,
    codes: HashMap<String, Pending>,
    refresh: HashMap<String, (String, String, String)>,
    /// Every `/authorize` query, decoded.
    pub authorize_requests: Vec<BTreeMap<String, String>>,
    /// Answers for the next device-code polls, in order (`authorization_pending`,
    /// `slow_down`, `expired_token`, `blocked`); an empty queue approves.
    pub device_script: VecDeque<String>,
    /// `interval` sent by `/devicecode`, as a JSON string (as some IdPs do).
    pub device_interval: u64,
    /// When each device-code poll arrived.
    pub device_polls: Vec<Instant>,
    device_codes: HashMap<String, (String, String)>,
    /// Refresh tokens handed out, in order.
    pub refresh_issued: Vec<String>,
}

impl Default for Users {
    fn default() -> Users {
        Users {
            accounts: BTreeMap::new(),
            deny: false,
            codes: HashMap::new(),
            refresh: HashMap::new(),
            authorize_requests: Vec::new(),
            device_script: VecDeque::new(),
            device_interval: 1,
            device_polls: Vec::new(),
            device_codes: HashMap::new(),
            refresh_issued: Vec::new(),
        }
    }
}

impl Users {
    /// Revokes every refresh token (as a password change or an admin does).
    pub fn revoke_refresh_tokens(&mut self) {
        self.refresh.clear();
    }
}

struct Pending {
    tenant: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    upn: String,
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<24>())
}

fn redirect(location: String) -> Scripted {
    // `respond` turns a 302's body into its Location header.
    Scripted {
        status: 302,
        retry_after: None,
        body: location,
        delivery: Delivery::Normal,
    }
}

fn bad(error: &str, code: u32, text: &str) -> Option<Scripted> {
    Some(Scripted::aadsts(400, error, code, text))
}

/// The user who signs in at `tenant`, named by its domain or its id
/// (`organizations`: anyone's tenant).
fn account(st: &State, tenant: &str) -> Option<(String, String)> {
    if tenant == "organizations" || tenant == "common" {
        return st
            .users
            .accounts
            .iter()
            .next()
            .map(|(t, u)| (t.clone(), u.clone()));
    }
    st.users
        .accounts
        .iter()
        .find(|(name, _)| name.as_str() == tenant || tenant_id(name) == tenant)
        .map(|(name, u)| (name.clone(), u.clone()))
}

/// Answers a sign-in request, or `None` when it is not one.
pub(super) fn handle(
    st: &mut State,
    method: &str,
    url: &str,
    segments: &[&str],
    form: &BTreeMap<String, String>,
) -> Option<Scripted> {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    match (method, segments) {
        ("GET", [t, "oauth2", "v2.0", "authorize"]) => {
            let query = url.split_once('?').map_or("", |(_, q)| q);
            let q: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            st.users.authorize_requests.push(q.clone());
            authorize(st, t, &q)
        }
        ("POST", [t, "oauth2", "v2.0", "devicecode"]) => {
            let (tenant, upn) = account(st, t)?;
            if field("scope")
                .split(' ')
                .all(|s| s != format!("{ADO_RESOURCE}/.default"))
            {
                return bad(
                    "invalid_scope",
                    70011,
                    "The provided value for the input parameter 'scope' is not valid.",
                );
            }
            let device_code = random();
            register_sensitive(&device_code);
            st.users
                .device_codes
                .insert(device_code.clone(), (tenant, upn));
            let user_code = format!("F{}", &derived_guid(&device_code)[..7].to_ascii_uppercase());
            let body = json!({
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": "900",
                "interval": st.users.device_interval.to_string(),
                "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
            });
            Some(Scripted {
                status: 200,
                retry_after: None,
                body: body.to_string(),
                delivery: Delivery::Normal,
            })
        }
        ("POST", [_, "oauth2", "v2.0", "token"]) => match field("grant_type") {
            "authorization_code" => Some(redeem(st, form)),
            "refresh_token" => Some(refresh(st, form)),
            "urn:ietf:params:oauth:grant-type:device_code" => Some(poll(st, form)),
            _ => None,
        },
        _ => None,
    }
}

fn authorize(st: &mut State, tenant: &str, q: &BTreeMap<String, String>) -> Option<Scripted> {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let redirect_uri = get("redirect_uri");
    if !redirect_uri.starts_with("http://localhost:") {
        return bad(
            "invalid_request",
            50011,
            "The redirect URI specified in the request does not match the redirect URIs configured for the application.",
        );
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
        || get("state").is_empty()
    {
        return bad(
            "invalid_request",
            900144,
            "The request body must contain a valid code_challenge, code_challenge_method=S256 and state.",
        );
    }
    let state = get("state");
    let mut target = url::Url::parse(&redirect_uri).ok()?;
    if st.users.deny {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "AADSTS65004: User declined to consent to access the app.",
            )
            .append_pair("state", &state);
        return Some(redirect(target.into()));
    }
    let (tenant, upn) = account(st, tenant)?;
    let code = random();
    register_sensitive(&code);
    st.users.codes.insert(
        code.clone(),
        Pending {
            tenant,
            client_id: get("client_id"),
            redirect_uri,
            challenge: get("code_challenge"),
            upn,
        },
    );
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state)
        .append_pair("session_state", "fake");
    Some(redirect(target.into()))
}

fn redeem(st: &mut State, form: &BTreeMap<String, String>) -> Scripted {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let Some(p) = st.users.codes.remove(field("code")) else {
        return Scripted::aadsts(
            400,
            "invalid_grant",
            70000,
            "The provided authorization code is invalid or has expired.",
        );
    };
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        field("code_verifier").as_bytes(),
    ));
    if challenge != p.challenge {
        return Scripted::aadsts(
            400,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        );
    }
    if field("redirect_uri") != p.redirect_uri {
        return Scripted::aadsts(
            400,
            "invalid_grant",
            50148,
            "The redirect_uri does not match the one in the authorization request.",
        );
    }
    if field("client_id") != p.client_id || form.contains_key("client_secret") {
        return Scripted::aadsts(
            400,
            "invalid_client",
            700025,
            "The client_id does not match the authorization request, or a public client sent a secret.",
        );
    }
    issue_user(st, &p.tenant, &p.client_id, &p.upn)
}

fn refresh(st: &mut State, form: &BTreeMap<String, String>) -> Scripted {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let Some((tenant, client, upn)) = st.users.refresh.remove(field("refresh_token")) else {
        return Scripted::aadsts(
            400,
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity.",
        );
    };
    if client != field("client_id") {
        return Scripted::aadsts(
            400,
            "invalid_grant",
            70000,
            "The refresh token was issued to another client.",
        );
    }
    issue_user(st, &tenant, &client, &upn)
}

fn poll(st: &mut State, form: &BTreeMap<String, String>) -> Scripted {
    st.users.device_polls.push(Instant::now());
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let Some((tenant, upn)) = st.users.device_codes.get(field("device_code")).cloned() else {
        return Scripted::aadsts(
            400,
            "bad_verification_code",
            70018,
            "The device code is unknown.",
        );
    };
    match st.users.device_script.pop_front().as_deref() {
        Some("authorization_pending") => Scripted::aadsts(
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ),
        Some("slow_down") => {
            Scripted::aadsts(400, "slow_down", 70016, "Polling too fast; slow down.")
        }
        Some("expired_token") => {
            Scripted::aadsts(400, "expired_token", 70019, "Verification code expired.")
        }
        Some("blocked") => Scripted::aadsts(
            400,
            "invalid_grant",
            530033,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        ),
        _ => {
            st.users.device_codes.remove(field("device_code"));
            let client = field("client_id").to_owned();
            issue_user(st, &tenant, &client, &upn)
        }
    }
}

/// A user's access token (carrying `upn`, so the Basic username is the UPN)
/// and a new refresh token.
fn issue_user(st: &mut State, tenant: &str, client_id: &str, upn: &str) -> Scripted {
    let tid = tenant_id(tenant);
    let oid = derived_guid(&format!("{tid}/{upn}"));
    let now = now_secs();
    let token = jwt::sign(&json!({
        "aud": ADO_RESOURCE,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "tid": tid,
        "upn": upn,
        "unique_name": upn,
        "azp": client_id,
        "scp": "user_impersonation",
        "oid": oid,
        "sub": oid,
        "ver": "1.0",
        "iat": now,
        "nbf": now,
        "exp": now + st.lifetime,
        "jti": random(),
    }));
    st.issued.push(token.clone());
    let rt = format!("rt.{}", random());
    register_sensitive(&rt);
    st.users.refresh.insert(
        rt.clone(),
        (tenant.to_owned(), client_id.to_owned(), upn.to_owned()),
    );
    st.users.refresh_issued.push(rt.clone());
    let body: Value = json!({
        "token_type": "Bearer",
        "scope": format!("{ADO_RESOURCE}/user_impersonation"),
        "expires_in": st.lifetime,
        "ext_expires_in": st.lifetime,
        "access_token": token,
        "refresh_token": rt,
    });
    Scripted {
        status: 200,
        retry_after: None,
        body: body.to_string(),
        delivery: Delivery::Normal,
    }
}
