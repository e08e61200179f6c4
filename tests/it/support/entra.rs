//! `FakeEntra`: an in-process stand-in for Microsoft Entra's v2 token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token`, client-credentials grant only).

use super::{
    ADO_RESOURCE, BackgroundServer, derived_guid, entra_timestamp, is_guid, jwt, now_secs,
    random_guid,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A canned HTTP response, served instead of normal processing.
#[derive(Clone, Debug)]
pub struct Scripted {
    /// HTTP status code.
    pub status: u16,
    /// Value of the `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// Response body, sent as JSON.
    pub body: String,
    /// How the response reaches the client.
    pub delivery: Delivery,
}

/// How a response is sent: at once, or in one of the ways a broken server or
/// network misbehaves (each on its own thread, so other requests are served).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivery {
    /// In full, at once.
    #[default]
    Normal,
    /// Nothing at all for this long; then the connection is dropped.
    Silent(Duration),
    /// The status line, headers (with the full `Content-Length`) and half of
    /// the body, then nothing for this long; then the connection is dropped.
    StallMidBody(Duration),
    /// The body, then `'a'` repeated without end (chunked, no length) until
    /// this many bytes in all or the client hangs up.
    Endless(u64),
    /// In full, but only after this long: a slow yet working server.
    Delayed(Duration),
}

impl Scripted {
    /// An Entra-shaped error response, e.g. `aadsts(400, "invalid_client", 7000215, "Invalid ...")`.
    pub fn aadsts(status: u16, error: &str, code: u32, text: &str) -> Scripted {
        let (trace, correlation) = (random_guid(), random_guid());
        let ts = entra_timestamp(now_secs());
        let body = json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}"
            ),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        Scripted {
            status,
            retry_after: None,
            body: body.to_string(),
            delivery: Delivery::Normal,
        }
    }

    /// A bare status response (e.g. 503) with a small JSON body and no `Retry-After`.
    pub fn status(status: u16) -> Scripted {
        let body =
            json!({ "error": "scripted", "error_description": format!("scripted HTTP {status}") });
        Scripted {
            status,
            retry_after: None,
            body: body.to_string(),
            delivery: Delivery::Normal,
        }
    }

    /// A success whose body starts like a token response: `{"access_token":"`.
    pub fn token_prefix(delivery: Delivery) -> Scripted {
        Scripted {
            status: 200,
            retry_after: None,
            body: r#"{"access_token":""#.to_owned(),
            delivery,
        }
    }
}

/// What a federated identity credential on an app trusts: tokens signed
/// with the test key whose `iss`, `sub` and `aud` are exactly these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Federation {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `sub` (exact, case-sensitive, as Entra compares it).
    pub subject: String,
    /// Expected `aud`, e.g. `api://AzureADTokenExchange`.
    pub audience: String,
}

/// A value the fake received that tests may compare but no output may show.
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden(String);

impl Hidden {
    /// The value itself, for comparisons.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One request to the token endpoint as the fake saw it, with the client
/// secret and assertion redacted.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// HTTP method.
    pub method: String,
    /// Request path without the query string.
    pub path: String,
    /// The `{tenant}` path segment exactly as sent.
    pub tenant: String,
    /// Decoded form body; a `client_secret` value is replaced by `<redacted>`.
    pub form: BTreeMap<String, String>,
    /// Whether `client_secret` matched the registered secret of that tenant's `client_id`.
    pub secret_ok: bool,
    /// The `client_assertion` received (its form value reads `<redacted>`).
    pub assertion: Option<Hidden>,
}

/// Mutable configuration and logs, shared with the server thread.
pub(super) struct State {
    apps: BTreeMap<(String, String), String>,
    cert_apps: BTreeMap<(String, String), Vec<Vec<u8>>>,
    used_jtis: std::collections::BTreeSet<String>,
    base_url: String,
    federated: BTreeMap<(String, String), Vec<Federation>>,
    pub(super) lifetime: u64,
    /// Bytes of filler claim in issued tokens (0: none), for size limits.
    pub(super) padding: usize,
    refresh_in: Option<u64>,
    numbers_as_strings: bool,
    clock_skew: i64,
    delay: Option<Duration>,
    queue: VecDeque<Scripted>,
    outage: Option<Scripted>,
    requests: Vec<TokenRequest>,
    pub(super) issued: Vec<String>,
    /// The user sign-in endpoints' state (support/authorize.rs).
    pub(super) users: super::authorize::Users,
}

/// A fake Entra authority on `127.0.0.1`; stops when dropped.
pub struct FakeEntra {
    state: Arc<Mutex<State>>,
    /// Held only so that dropping the fake stops the server.
    _server: BackgroundServer,
    url: String,
}

impl FakeEntra {
    /// Starts the server on an ephemeral port.
    pub fn start() -> FakeEntra {
        let state = Arc::new(Mutex::new(State {
            apps: BTreeMap::new(),
            cert_apps: BTreeMap::new(),
            used_jtis: Default::default(),
            base_url: String::new(),
            federated: BTreeMap::new(),
            lifetime: 3599,
            padding: 0,
            refresh_in: None,
            numbers_as_strings: false,
            clock_skew: 0,
            delay: None,
            queue: VecDeque::new(),
            outage: None,
            requests: Vec::new(),
            issued: Vec::new(),
            users: super::authorize::Users::default(),
        }));
        let server = {
            let state = state.clone();
            BackgroundServer::start(move |rq| respond(&state, rq))
        };
        let url = format!("http://{}", server.addr());
        state.lock().unwrap_or_else(|e| e.into_inner()).base_url = url.clone();
        FakeEntra {
            state,
            _server: server,
            url,
        }
    }

    /// The authority host, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Sets the URL clients reach this fake by when it is not its own (a TLS
    /// front's `https://login.microsoftonline.com`): certificate assertions must
    /// name that URL as their audience.
    pub fn set_public_url(&self, url: &str) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .base_url = url.to_owned();
    }

    /// Registers a confidential client under the exact tenant string used in URLs.
    pub fn add_app(&self, tenant: &str, client_id: &str, secret: &str) {
        super::register_sensitive(secret);
        self.lock()
            .apps
            .insert((tenant.to_owned(), client_id.to_owned()), secret.to_owned());
    }

    /// Registers a certificate (DER) on an app, as uploading it to the app
    /// registration does (may be called again: an app may have several).
    pub fn add_cert_app(&self, tenant: &str, client_id: &str, der: &[u8]) {
        self.lock()
            .cert_apps
            .entry((tenant.to_owned(), client_id.to_owned()))
            .or_default()
            .push(der.to_vec());
    }

    /// Registers an app that authenticates with federated tokens trusted by
    /// `federation` (may be called again to add credentials, up to Entra's 20).
    pub fn add_federated_app(&self, tenant: &str, client_id: &str, federation: Federation) {
        self.lock()
            .federated
            .entry((tenant.to_owned(), client_id.to_owned()))
            .or_default()
            .push(federation);
    }

    /// The `tid` for a tenant as named in URLs: the GUID itself, or one derived from the name.
    pub fn tenant_id(&self, tenant: &str) -> String {
        tenant_id(tenant)
    }

    /// Makes issued tokens `bytes` longer, with a filler claim (as many group
    /// or role claims make real tokens large).
    pub fn set_token_padding(&self, bytes: usize) {
        self.lock().padding = bytes;
    }

    /// Sets `expires_in`/`ext_expires_in` (and the JWT lifetime) of issued tokens; default 3599.
    pub fn set_lifetime(&self, secs: u64) {
        self.lock().lifetime = secs;
    }

    /// When `Some`, successful responses carry `refresh_in`.
    pub fn set_refresh_in(&self, secs: Option<u64>) {
        self.lock().refresh_in = secs;
    }

    /// When on, the numeric response fields are sent as JSON strings, as v1-style endpoints do.
    pub fn set_numbers_as_strings(&self, on: bool) {
        self.lock().numbers_as_strings = on;
    }

    /// Sets how far the fake's clock is off (seconds, either way): the `iat`,
    /// `nbf` and `exp` claims of issued tokens move by that much, while
    /// `expires_in` stays a duration, as a skewed Entra would send them.
    pub fn set_clock_skew(&self, secs: i64) {
        self.lock().clock_skew = secs;
    }

    /// When `Some`, every issued token is delivered only after this long
    /// (other requests are served meanwhile), so helpers stay in flight.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// Queues a canned response; queued responses answer the next requests (any path), FIFO.
    pub fn push_response(&self, r: Scripted) {
        self.lock().queue.push_back(r);
    }

    /// When `Some`, every request (once the queue is empty) gets this response.
    pub fn set_outage(&self, r: Option<Scripted>) {
        self.lock().outage = r;
    }

    /// Every request to the token endpoint so far, in order, including failed and scripted ones.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().requests.clone()
    }

    /// Every access token issued so far, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// Registers `upn` as the user who signs in at `tenant` (also for `organizations`).
    pub fn add_user(&self, tenant: &str, upn: &str) {
        self.lock()
            .users
            .accounts
            .insert(tenant.to_owned(), upn.to_owned());
    }

    /// Reads or changes the sign-in endpoints' state.
    pub fn users<T>(&self, f: impl FnOnce(&mut super::authorize::Users) -> T) -> T {
        f(&mut self.lock().users)
    }

    /// Locks the shared state, tolerating poison from a panicked test thread.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// See [`FakeEntra::tenant_id`].
pub(super) fn tenant_id(tenant: &str) -> String {
    if is_guid(tenant) {
        tenant.to_ascii_lowercase()
    } else {
        derived_guid(tenant)
    }
}

/// Answers one request (on the server thread, so requests are handled one at a time).
fn respond(state: &Mutex<State>, mut rq: tiny_http::Request) {
    let mut body = Vec::new();
    let _ = rq.as_reader().read_to_end(&mut body);
    let method = rq.method().as_str().to_owned();
    let reply = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        handle(&mut st, &method, rq.url(), &body)
    };
    register_exchange(&body, &reply);
    if reply.delivery != Delivery::Normal {
        std::thread::spawn(move || misbehave(rq, reply));
        return;
    }
    if reply.status == 302 {
        // A sign-in redirect (support/authorize.rs): the body is the Location.
        let resp = tiny_http::Response::from_string("")
            .with_status_code(302)
            .with_header(header("Location", &reply.body));
        let _ = rq.respond(resp);
        return;
    }
    let mut resp = tiny_http::Response::from_string(reply.body)
        .with_status_code(reply.status)
        .with_header(header("Content-Type", "application/json; charset=utf-8"));
    if let Some(ra) = reply.retry_after {
        resp.add_header(header("Retry-After", &ra));
    }
    // The client may have given up already; nothing useful to do about it here.
    let _ = rq.respond(resp);
}

/// Registers with the leak scanner (support/scan.rs) what one exchange
/// carried: the secret, assertion, refresh token or sign-in code received,
/// and the tokens issued, so no test has to remember to.
fn register_exchange(request: &[u8], reply: &Scripted) {
    use super::scan::{Kind, register_seen};
    for (key, value) in url::form_urlencoded::parse(request) {
        let kind = match key.as_ref() {
            "client_secret" | "code" | "code_verifier" | "device_code" => Kind::Secret,
            "client_assertion" => Kind::Assertion,
            "refresh_token" => Kind::RefreshToken,
            _ => continue,
        };
        register_seen(kind, &value);
    }
    if let Ok(body) = serde_json::from_str::<Value>(&reply.body) {
        for (field, kind) in [
            ("access_token", Kind::AccessToken),
            ("refresh_token", Kind::RefreshToken),
        ] {
            if let Some(token) = body.get(field).and_then(Value::as_str) {
                register_seen(kind, token);
            }
        }
    }
}

/// Sends `reply` the broken way its [`Delivery`] says. Write errors mean the
/// client hung up, which is what these tests expect it to do.
pub(super) fn misbehave(rq: tiny_http::Request, reply: Scripted) {
    match reply.delivery {
        Delivery::Normal => {}
        Delivery::Delayed(d) => {
            std::thread::sleep(d);
            let resp = tiny_http::Response::from_string(reply.body)
                .with_status_code(reply.status)
                .with_header(header("Content-Type", "application/json; charset=utf-8"));
            let _ = rq.respond(resp);
        }
        Delivery::Silent(d) => {
            std::thread::sleep(d);
            drop(rq.into_writer());
        }
        Delivery::StallMidBody(d) => {
            let mut w = rq.into_writer();
            let half = &reply.body.as_bytes()[..reply.body.len() / 2];
            let head = format!(
                "HTTP/1.1 {} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                reply.status,
                reply.body.len()
            );
            let _ = w.write_all(head.as_bytes());
            let _ = w.write_all(half);
            let _ = w.flush();
            std::thread::sleep(d);
        }
        Delivery::Endless(limit) => {
            let endless = std::io::Cursor::new(reply.body.into_bytes())
                .chain(std::io::repeat(b'a'))
                .take(limit);
            let resp = tiny_http::Response::new(
                tiny_http::StatusCode(reply.status),
                vec![header("Content-Type", "application/json")],
                endless,
                None,
                None,
            );
            let _ = rq.respond(resp);
        }
    }
}

/// Builds a header from known-valid ASCII.
fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("header names and values are ASCII")
}

/// Decides the response to one request and records it; pure apart from `st`.
fn handle(st: &mut State, method: &str, url: &str, body: &[u8]) -> Scripted {
    let path = url.split('?').next().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let is_token_path =
        matches!(segments.as_slice(), [t, "oauth2", "v2.0", "token"] if !t.is_empty());
    let mut form: BTreeMap<String, String> =
        url::form_urlencoded::parse(body).into_owned().collect();
    // The sign-in grants need the values the log below redacts.
    let raw_form = form.clone();
    let tenant = if is_token_path {
        segments[0].to_owned()
    } else {
        String::new()
    };
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let registered = st.apps.get(&(tenant.clone(), client_id.clone())).cloned();
    let secret = form.get("client_secret").cloned();
    let assertion = form.get("client_assertion").cloned();
    if is_token_path {
        for key in [
            "client_secret",
            "client_assertion",
            "refresh_token",
            "code",
            "code_verifier",
            "device_code",
        ] {
            if let Some(s) = form.get_mut(key) {
                *s = "<redacted>".to_owned();
            }
        }
        let secret_ok = secret.is_some() && secret == registered;
        st.requests.push(TokenRequest {
            method: method.to_owned(),
            path: path.clone(),
            tenant: tenant.clone(),
            form: form.clone(),
            secret_ok,
            assertion: assertion.clone().map(Hidden),
        });
    }
    if let Some(r) = st.queue.pop_front().or_else(|| st.outage.clone()) {
        return r;
    }
    if let Some(r) = super::authorize::handle(st, method, url, &segments, &raw_form) {
        return r;
    }
    if !is_token_path || method != "POST" {
        return Scripted {
            status: 404,
            retry_after: None,
            body: json!({"error": "not_found"}).to_string(),
            delivery: Delivery::Normal,
        };
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let known_tenant = st
        .apps
        .keys()
        .chain(st.federated.keys())
        .chain(st.cert_apps.keys())
        .any(|(t, _)| *t == tenant);
    if !known_tenant {
        let text = format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        );
        return Scripted::aadsts(400, "invalid_request", 90002, &text);
    }
    if field("grant_type") != "client_credentials" {
        let text = format!(
            "The provided value for the 'grant_type' parameter is not supported: '{}'.",
            field("grant_type")
        );
        return Scripted::aadsts(400, "unsupported_grant_type", 70003, &text);
    }
    if field("scope") != format!("{ADO_RESOURCE}/.default") {
        let text = format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '{}'.",
            field("scope")
        );
        return Scripted::aadsts(400, "invalid_scope", 70011, &text);
    }
    let federations = st
        .federated
        .get(&(tenant.clone(), client_id.clone()))
        .cloned();
    let certificates = st
        .cert_apps
        .get(&(tenant.clone(), client_id.clone()))
        .cloned();
    if registered.is_none() && federations.is_none() && certificates.is_none() {
        let text = format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
        );
        return Scripted::aadsts(400, "unauthorized_client", 700016, &text);
    }
    if let Some(assertion) = assertion
        .as_deref()
        .filter(|a| super::cert::is_certificate_assertion(a))
    {
        let called = format!("{}{path}", st.base_url);
        let checked = if field("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            Err(Scripted::aadsts(
                400,
                "invalid_request",
                700023,
                "The client_assertion_type is not supported.",
            ))
        } else {
            super::cert::verify_assertion(
                &certificates.unwrap_or_default(),
                &called,
                &client_id,
                assertion,
                &mut st.used_jtis,
            )
        };
        return match checked {
            Ok(()) => issue(st, &tenant, &client_id),
            Err(refusal) => refusal,
        };
    }
    if let Some(assertion) = assertion {
        return match federated(
            &federations.unwrap_or_default(),
            field("client_assertion_type"),
            &assertion,
        ) {
            Ok(()) => issue(st, &tenant, &client_id),
            Err(refusal) => refusal,
        };
    }
    let Some(expected) = registered else {
        let text = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
        return Scripted::aadsts(400, "invalid_client", 7000218, text);
    };
    if secret.is_none() {
        let text = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
        return Scripted::aadsts(400, "invalid_client", 7000218, text);
    }
    if secret.as_deref() != Some(expected.as_str()) {
        let text = format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        );
        return Scripted::aadsts(401, "invalid_client", 7000215, &text);
    }
    issue(st, &tenant, &client_id)
}

/// Judges a federated client assertion as Entra does: the JWT-bearer type,
/// a signature it can check (ours), a valid time range (AADSTS700024) and a
/// federated credential matching issuer, subject and audience exactly
/// (AADSTS70021).
fn federated(
    federations: &[Federation],
    assertion_type: &str,
    assertion: &str,
) -> Result<(), Scripted> {
    if assertion_type != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        let text = format!(
            "The client_assertion_type '{assertion_type}' is not supported; expected urn:ietf:params:oauth:client-assertion-type:jwt-bearer."
        );
        return Err(Scripted::aadsts(400, "invalid_request", 700023, &text));
    }
    let Some(claims) = jwt::verify(assertion) else {
        let text = "Client assertion failed signature validation.";
        return Err(Scripted::aadsts(401, "invalid_client", 700027, text));
    };
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let now = now_secs();
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_u64).unwrap_or(0);
    if exp <= now || nbf > now + 300 {
        let text = format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
            entra_timestamp(now),
            entra_timestamp(nbf),
            entra_timestamp(exp)
        );
        return Err(Scripted::aadsts(400, "invalid_client", 700024, &text));
    }
    let (iss, sub) = (s("iss"), s("sub"));
    // `aud` is a string, or a list (Kubernetes service-account tokens).
    let auds: Vec<String> = match claims.get("aud") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let aud = auds.join(",");
    if !federations
        .iter()
        .any(|f| f.issuer == iss && f.subject == sub && auds.contains(&f.audience))
    {
        let text = format!(
            "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'."
        );
        return Err(Scripted::aadsts(400, "invalid_client", 70021, &text));
    }
    Ok(())
}

/// Mints and records an access token and builds the success response.
fn issue(st: &mut State, tenant: &str, client_id: &str) -> Scripted {
    let tid = tenant_id(tenant);
    let oid = derived_guid(&format!("{tid}/{client_id}"));
    let now = (now_secs() as i64).saturating_add(st.clock_skew);
    let jti = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        super::random_bytes::<16>(),
    );
    let mut claims = json!({
        "aud": ADO_RESOURCE,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "tid": tid,
        "appid": client_id,
        "appidacr": "1",
        "oid": oid,
        "sub": oid,
        "ver": "1.0",
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(st.lifetime as i64),
        "jti": jti,
        "idtyp": "app",
    });
    if st.padding > 0 {
        // Base64url of the JSON grows by 4/3: this many characters of filler.
        claims["xms_filler"] = Value::from("f".repeat(st.padding * 3 / 4));
    }
    let token = jwt::sign(&claims);
    st.issued.push(token.clone());
    let num = |n: u64| {
        if st.numbers_as_strings {
            Value::from(n.to_string())
        } else {
            Value::from(n)
        }
    };
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": num(st.lifetime),
        "ext_expires_in": num(st.lifetime),
        "access_token": token,
    });
    if let Some(r) = st.refresh_in {
        body["refresh_in"] = num(r);
    }
    Scripted {
        status: 200,
        retry_after: None,
        body: body.to_string(),
        delivery: st.delay.map_or(Delivery::Normal, Delivery::Delayed),
    }
}
