//! `FakeImds`: one fake managed-identity endpoint on `127.0.0.1`, behaving as
//! the real ones do (reference §4): IMDS (`GET /metadata/identity/oauth2/token`,
//! `Metadata: true`, api-version 2018-02-01, `client_id`/`object_id`/`msi_res_id`),
//! App Service (`GET /msi/token`, `X-IDENTITY-HEADER`, 2019-08-01,
//! `client_id`/`principal_id`/`mi_res_id`), Azure Arc (401 challenge naming a key
//! file, then `Authorization: Basic <contents>`) and Cloud Shell (POST form).
//! Numbers are strings by default, as the real endpoints send them. Every
//! request is recorded; scripted answers (410, 429 + Retry-After, 500…) go first,
//! and may misbehave as their [`Delivery`] says; [`FakeImds::set_delay`] makes
//! every answer slow, as IMDS on a busy or freshly started VM is.

use super::entra::{Delivery, Scripted, misbehave};
use super::keyvault::VAULT_RESOURCE;
use super::oidc::EXCHANGE_AUDIENCE;
use super::{ADO_RESOURCE, BackgroundServer, jwt, now_secs, random_guid};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Which platform's endpoint the fake plays.
#[derive(Clone, Debug)]
pub enum MiKind {
    /// A VM's IMDS.
    Imds,
    /// App Service / Functions, demanding this `X-IDENTITY-HEADER`.
    AppService { header: String },
    /// An Arc agent whose challenge names `realm`; the key is read from the
    /// file `key_file` when a request answers the challenge.
    Arc { realm: String, key_file: PathBuf },
    /// Cloud Shell (a user's token).
    CloudShell,
}

/// A user-assigned identity, by its three names.
#[derive(Clone, Debug)]
pub struct Uami {
    /// Client (application) id: the token's `appid`.
    pub client_id: String,
    /// Object (principal) id.
    pub object_id: String,
    /// ARM resource id.
    pub resource_id: String,
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct MiRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query, decoded.
    pub query: BTreeMap<String, String>,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// A decoded form body.
    pub form: BTreeMap<String, String>,
}

struct State {
    kind: MiKind,
    tenant_id: String,
    system: Option<Uami>,
    users: Vec<Uami>,
    lifetime: u64,
    numbers_as_strings: bool,
    queue: VecDeque<Scripted>,
    outage: Option<(Scripted, Instant)>,
    delay: Option<Duration>,
    requests: Vec<MiRequest>,
    issued: Vec<String>,
}

/// A fake managed-identity endpoint; stops when dropped.
pub struct FakeImds {
    state: Arc<Mutex<State>>,
    _server: BackgroundServer,
    url: String,
}

/// The user of Cloud Shell tokens.
pub const CLOUD_SHELL_USER: &str = "cloud.shell.user@contoso.example";

impl FakeImds {
    /// Starts an endpoint of `kind` issuing tokens for tenant `tenant_id`,
    /// with a system-assigned identity.
    pub fn start(kind: MiKind, tenant_id: &str) -> FakeImds {
        let state = Arc::new(Mutex::new(State {
            kind,
            tenant_id: tenant_id.to_owned(),
            system: Some(new_uami("system")),
            users: Vec::new(),
            lifetime: 86_399,
            numbers_as_strings: true,
            queue: VecDeque::new(),
            outage: None,
            delay: None,
            requests: Vec::new(),
            issued: Vec::new(),
        }));
        let server = {
            let state = state.clone();
            BackgroundServer::start(move |rq| respond(&state, rq))
        };
        let url = format!("http://{}", server.addr());
        FakeImds {
            state,
            _server: server,
            url,
        }
    }

    /// `http://127.0.0.1:PORT` (IMDS's authority).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The full token URL of this kind (what `IDENTITY_ENDPOINT`/`MSI_ENDPOINT` hold).
    pub fn endpoint(&self) -> String {
        let path = match self.lock().kind {
            MiKind::AppService { .. } => "/msi/token",
            MiKind::CloudShell => "/oauth2/token",
            MiKind::Imds | MiKind::Arc { .. } => "/metadata/identity/oauth2/token",
        };
        format!("{}{path}", self.url)
    }

    /// The system-assigned identity's client id.
    pub fn system_client_id(&self) -> String {
        self.lock()
            .system
            .as_ref()
            .map(|u| u.client_id.clone())
            .expect("a system-assigned identity")
    }

    /// Assigns a new user-assigned identity and returns it.
    pub fn add_user_assigned(&self, name: &str) -> Uami {
        let u = new_uami(name);
        self.lock().users.push(u.clone());
        u
    }

    /// Changes the realm Arc's challenge names.
    pub fn set_realm(&self, realm: &str) {
        if let MiKind::Arc { realm: r, .. } = &mut self.lock().kind {
            *r = realm.to_owned();
        }
    }

    /// Numbers as JSON strings (the default, like the real endpoints) or numbers.
    pub fn set_numbers_as_strings(&self, on: bool) {
        self.lock().numbers_as_strings = on;
    }

    /// Queues a canned answer for the next request.
    pub fn push_response(&self, r: Scripted) {
        self.lock().queue.push_back(r);
    }

    /// Answers every request with `r` (once the queue is empty) for `how_long`
    /// from now, as an endpoint that is down for a while does (IMDS's 410).
    pub fn set_outage_for(&self, r: Scripted, how_long: Duration) {
        self.lock().outage = Some((r, Instant::now() + how_long));
    }

    /// Answers every request (scripted or not) only after `delay`, each on
    /// its own thread: a slow but working endpoint.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = Some(delay);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<MiRequest> {
        self.lock().requests.clone()
    }

    /// Every token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn new_uami(name: &str) -> Uami {
    Uami {
        client_id: random_guid(),
        object_id: random_guid(),
        resource_id: format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            random_guid()
        ),
    }
}

fn respond(state: &Mutex<State>, mut rq: tiny_http::Request) {
    let mut body = Vec::new();
    let _ = rq.as_reader().read_to_end(&mut body);
    let url = rq.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let seen = MiRequest {
        method: rq.method().as_str().to_owned(),
        path: path.to_owned(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        headers: rq
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect(),
        form: url::form_urlencoded::parse(&body).into_owned().collect(),
    };
    let (mut reply, challenge, delay) = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests.push(seen.clone());
        let down = st
            .outage
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(r, _)| r.clone());
        let (reply, challenge) = match st.queue.pop_front().or(down) {
            Some(r) => (r, None),
            None => handle(&mut st, &seen),
        };
        (reply, challenge, st.delay)
    };
    if let (Some(d), Delivery::Normal) = (delay, reply.delivery) {
        reply.delivery = Delivery::Delayed(d);
    }
    match reply.delivery {
        Delivery::Normal | Delivery::Delayed(_) => {}
        _ => {
            std::thread::spawn(move || misbehave(rq, reply));
            return;
        }
    }
    let mut resp = tiny_http::Response::from_string(reply.body)
        .with_status_code(reply.status)
        .with_header(header("Content-Type", "application/json; charset=utf-8"));
    if let Some(ra) = reply.retry_after {
        resp.add_header(header("Retry-After", &ra));
    }
    if let Some(realm) = challenge {
        resp.add_header(header("WWW-Authenticate", &format!("Basic realm={realm}")));
    }
    match reply.delivery {
        Delivery::Delayed(d) => {
            std::thread::spawn(move || {
                std::thread::sleep(d);
                let _ = rq.respond(resp);
            });
        }
        _ => {
            let _ = rq.respond(resp);
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("ASCII header")
}

fn reply(status: u16, body: Value) -> Scripted {
    Scripted {
        status,
        retry_after: None,
        body: body.to_string(),
        delivery: Default::default(),
    }
}

/// IMDS's error shape.
fn oauth_error(error: &str, description: &str) -> Scripted {
    reply(
        400,
        json!({"error": error, "error_description": description}),
    )
}

/// Decides the answer; the second value is an Arc challenge's realm.
fn handle(st: &mut State, rq: &MiRequest) -> (Scripted, Option<String>) {
    let q = |k: &str| rq.query.get(k).map(String::as_str);
    let h = |k: &str| rq.headers.get(k).map(String::as_str);
    let kind = st.kind.clone();
    let (path, method, version, names) = match &kind {
        MiKind::Imds => (
            "/metadata/identity/oauth2/token",
            "GET",
            "2018-02-01",
            ["client_id", "object_id", "msi_res_id"],
        ),
        MiKind::AppService { .. } => (
            "/msi/token",
            "GET",
            "2019-08-01",
            ["client_id", "principal_id", "mi_res_id"],
        ),
        MiKind::Arc { .. } => (
            "/metadata/identity/oauth2/token",
            "GET",
            "2020-06-01",
            ["", "", ""],
        ),
        MiKind::CloudShell => ("/oauth2/token", "POST", "", ["", "", ""]),
    };
    if rq.path != path || rq.method != method {
        return (reply(404, json!({"error": "not_found"})), None);
    }
    let refusal = match &kind {
        MiKind::AppService { header } if h("x-identity-header") != Some(header.as_str()) => {
            let body = json!({"statusCode": 401, "message": "Unauthorized. X-IDENTITY-HEADER is missing or invalid."});
            Some(reply(401, body))
        }
        MiKind::AppService { .. } => None,
        _ if h("metadata") != Some("true") => Some(oauth_error(
            "invalid_request",
            "Required metadata header not specified",
        )),
        _ => None,
    };
    if let Some(refusal) = refusal {
        return (refusal, None);
    }
    let resource = if let MiKind::CloudShell = kind {
        rq.form.get("resource").map(String::as_str)
    } else {
        if q("api-version") != Some(version) {
            return (
                oauth_error("invalid_request", "Invalid or unsupported api-version"),
                None,
            );
        }
        q("resource")
    };
    // Azure DevOps, the token exchange (a managed identity's token used as
    // a federated credential for an app registration), or Key Vault (a
    // certificate kept there).
    let Some(resource) =
        resource.filter(|r| [ADO_RESOURCE, EXCHANGE_AUDIENCE, VAULT_RESOURCE].contains(r))
    else {
        return (
            oauth_error(
                "invalid_resource",
                "Invalid resource: the resource is not registered",
            ),
            None,
        );
    };
    if let MiKind::Arc { realm, key_file } = &kind {
        let expected = std::fs::read_to_string(key_file)
            .ok()
            .map(|k| format!("Basic {}", k.trim()));
        if h("authorization").is_none() || h("authorization") != expected.as_deref() {
            let body =
                json!({"error": "unauthorized", "error_description": "answer the challenge"});
            return (reply(401, body), Some(realm.clone()));
        }
    }
    if let MiKind::CloudShell = kind {
        return (issue(st, None, resource), None);
    }
    let selectors: Vec<(usize, &str)> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.is_empty())
        .filter_map(|(i, n)| Some((i, q(n)?)))
        .collect();
    let not_found = || match kind {
        MiKind::AppService { .. } => reply(
            400,
            json!({"statusCode": 400, "message": "Unable to load the proper Managed Identity.", "correlationId": random_guid()}),
        ),
        _ => oauth_error("invalid_request", "Identity not found"),
    };
    let who = match selectors.as_slice() {
        [] => st.system.clone(),
        [(i, value)] => st
            .users
            .iter()
            .find(|u| [&u.client_id, &u.object_id, &u.resource_id][*i].eq_ignore_ascii_case(value))
            .cloned(),
        _ => {
            return (
                oauth_error(
                    "invalid_request",
                    "Only one of client_id, object_id or msi_res_id may be given",
                ),
                None,
            );
        }
    };
    match who {
        Some(u) => (issue(st, Some(&u), resource), None),
        None => (not_found(), None),
    }
}

/// Mints a token for `who` (a user's token for Cloud Shell when `None`).
fn issue(st: &mut State, who: Option<&Uami>, resource: &str) -> Scripted {
    let now = now_secs();
    let tid = st.tenant_id.clone();
    // Exchange tokens are v2 tokens whose issuer a federated credential names.
    let iss = if resource == EXCHANGE_AUDIENCE {
        format!("https://login.microsoftonline.com/{tid}/v2.0")
    } else {
        format!("https://sts.windows.net/{tid}/")
    };
    let mut claims = json!({
        "aud": resource,
        "iss": iss,
        "tid": tid,
        "iat": now,
        "nbf": now,
        "exp": now + st.lifetime,
        "jti": random_guid(),
        "ver": "1.0",
    });
    match who {
        Some(u) => {
            claims["appid"] = json!(u.client_id);
            claims["oid"] = json!(u.object_id);
            claims["sub"] = json!(u.object_id);
            claims["xms_mirid"] = json!(u.resource_id);
            claims["idtyp"] = json!("app");
        }
        None => {
            claims["upn"] = json!(CLOUD_SHELL_USER);
            claims["appid"] = json!("04b07795-8ddb-461a-bbee-02f9e1bf7b46");
        }
    }
    let token = jwt::sign(&claims);
    st.issued.push(token.clone());
    super::scan::register_seen(super::scan::Kind::AccessToken, &token);
    let num = |n: u64| {
        if st.numbers_as_strings {
            Value::from(n.to_string())
        } else {
            Value::from(n)
        }
    };
    let mut body = json!({
        "access_token": token,
        "resource": resource,
        "token_type": "Bearer",
    });
    // App Service sends no expires_in; the others send both.
    if !matches!(st.kind, MiKind::AppService { .. }) {
        body["expires_in"] = num(st.lifetime);
    }
    if !matches!(st.kind, MiKind::CloudShell) {
        body["expires_on"] = num(now + st.lifetime);
        body["not_before"] = num(now);
    }
    if let Some(u) = who {
        body["client_id"] = json!(u.client_id);
    }
    reply(200, body)
}
