//! `FakeKeyVault`: Key Vault's secret endpoint on `127.0.0.1`, answering as
//! Key Vault does: `GET /secrets/{name}[/{version}]?api-version=7.4` with a
//! Bearer token that a fake managed-identity endpoint issued for
//! `https://vault.azure.net` (checked by its signature and claims) to an
//! identity on the vault's allow-list; otherwise 401 (with Key Vault's
//! `WWW-Authenticate` challenge when no token came), 403 with its error
//! body, 404 `SecretNotFound`. Secret values are registered with the leak
//! scanner; every request is recorded and the reads that returned a secret
//! are counted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use super::{BackgroundServer, jwt, now_secs, random_bytes, scan};

/// The resource a vault token is for (the public cloud's).
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";
/// The one api-version the fake accepts (the helper's).
pub const API_VERSION: &str = "7.4";

/// One request as the vault saw it.
#[derive(Clone, Debug)]
pub struct KvRequest {
    /// Path without the query.
    pub path: String,
    /// The query, decoded.
    pub query: BTreeMap<String, String>,
    /// The `appid` of a valid vault token, if one came.
    pub caller: Option<String>,
    /// The status answered.
    pub status: u16,
}

struct Version {
    id: String,
    value: String,
    content_type: Option<String>,
}

#[derive(Default)]
struct State {
    /// Versions of each secret, the latest last.
    secrets: BTreeMap<String, Vec<Version>>,
    /// `appid`s allowed to read secrets (the "Key Vault Secrets User" role).
    readers: BTreeSet<String>,
    requests: Vec<KvRequest>,
}

/// A fake vault; stops when dropped.
pub struct FakeKeyVault {
    state: Arc<Mutex<State>>,
    _server: BackgroundServer,
    url: String,
}

impl FakeKeyVault {
    /// Starts an empty vault that nobody may read.
    pub fn start() -> FakeKeyVault {
        let state = Arc::new(Mutex::new(State::default()));
        let server = {
            let state = state.clone();
            BackgroundServer::start(move |rq| respond(&state, rq))
        };
        let url = format!("http://{}", server.addr());
        FakeKeyVault {
            state,
            _server: server,
            url,
        }
    }

    /// The vault's name as the helper shows a loopback vault (`127.0.0.1:PORT`).
    pub fn name(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// `{url}/secrets/{name}`, the latest version's URL.
    pub fn secret_url(&self, name: &str) -> String {
        format!("{}/secrets/{name}", self.url)
    }

    /// Stores a new version of secret `name` and returns the version.
    pub fn put(&self, name: &str, value: &str, content_type: Option<&str>) -> String {
        scan::register(scan::Kind::Secret, value);
        let id: String = random_bytes::<16>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.lock()
            .secrets
            .entry(name.to_owned())
            .or_default()
            .push(Version {
                id: id.clone(),
                value: value.to_owned(),
                content_type: content_type.map(str::to_owned),
            });
        id
    }

    /// Lets the identity with client id `appid` read secrets.
    pub fn allow(&self, appid: &str) {
        self.lock().readers.insert(appid.to_owned());
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<KvRequest> {
        self.lock().requests.clone()
    }

    /// How many requests got a secret.
    pub fn reads(&self) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.status == 200)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("ASCII header")
}

fn error(code: &str, message: &str, inner: Option<&str>) -> Value {
    let mut e = json!({"error": {"code": code, "message": message}});
    if let Some(inner) = inner {
        e["error"]["innererror"] = json!({"code": inner});
    }
    e
}

fn respond(state: &Mutex<State>, rq: tiny_http::Request) {
    let url = rq.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let query: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let auth = rq
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_owned());
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let (status, body, caller) = handle(&st, rq.method().as_str(), path, &query, auth);
    st.requests.push(KvRequest {
        path: path.to_owned(),
        query,
        caller,
        status,
    });
    drop(st);
    let mut resp = tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json; charset=utf-8"));
    if status == 401 {
        resp.add_header(header(
            "WWW-Authenticate",
            &format!(
                "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"{VAULT_RESOURCE}\"",
                super::derived_guid("vault-tenant")
            ),
        ));
    }
    let _ = rq.respond(resp);
}

/// The status, body and valid caller of one request.
fn handle(
    st: &State,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    auth: Option<String>,
) -> (u16, Value, Option<String>) {
    let version = query.get("api-version").map(String::as_str);
    if version != Some(API_VERSION) {
        let message = format!(
            "The specified version ({}) is not recognized. Consider using the latest supported version ({API_VERSION}).",
            version.unwrap_or("")
        );
        return (400, error("BadParameter", &message, None), None);
    }
    let Some(bearer) = auth.as_deref().and_then(|a| a.strip_prefix("Bearer ")) else {
        let e = error(
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
            None,
        );
        return (401, e, None);
    };
    let claims = jwt::verify(bearer).unwrap_or_default();
    let aud = claims["aud"].as_str().unwrap_or("");
    let exp = claims["exp"].as_u64().unwrap_or(0);
    if aud != VAULT_RESOURCE || exp <= now_secs() {
        let message = format!(
            "AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {}.",
            aud
        );
        return (401, error("Unauthorized", &message, None), None);
    }
    let appid = claims["appid"].as_str().unwrap_or("").to_owned();
    let caller = Some(appid.clone());
    if !st.readers.contains(&appid) {
        let message = format!(
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={appid};oid={};iss={}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/subscriptions/{}/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv/secrets/x'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: kv;location=westeurope\r\n",
            claims["oid"].as_str().unwrap_or(""),
            claims["iss"].as_str().unwrap_or(""),
            super::derived_guid("subscription")
        );
        return (
            403,
            error("Forbidden", &message, Some("ForbiddenByRbac")),
            caller,
        );
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (name, wanted) = match segments.as_slice() {
        ["secrets", name] if method == "GET" => (*name, None),
        ["secrets", name, version] if method == "GET" => (*name, Some(*version)),
        _ => {
            return (
                400,
                error("BadParameter", "Method or path not supported.", None),
                caller,
            );
        }
    };
    let found = st.secrets.get(name).and_then(|versions| match wanted {
        None => versions.last(),
        Some(v) => versions.iter().find(|x| x.id.eq_ignore_ascii_case(v)),
    });
    let Some(found) = found else {
        let message = format!(
            "A secret with (name/version) = ({name}/{}) was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
            wanted.unwrap_or("")
        );
        return (404, error("SecretNotFound", &message, None), caller);
    };
    let now = now_secs();
    let mut body = json!({
        "value": found.value,
        "id": format!("https://kv.vault.azure.net/secrets/{name}/{}", found.id),
        "attributes": {
            "enabled": true,
            "nbf": now - 3600,
            "exp": now + 365 * 86400,
            "created": now - 3600,
            "updated": now - 3600,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        },
        "tags": {},
    });
    if let Some(t) = &found.content_type {
        body["contentType"] = json!(t);
        // A certificate's own secret says which certificate it backs.
        body["kid"] = json!(format!(
            "https://kv.vault.azure.net/keys/{name}/{}",
            found.id
        ));
        body["managed"] = json!(true);
    }
    (200, body, caller)
}
