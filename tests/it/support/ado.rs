//! `FakeAdo`: an Azure DevOps-like smart-HTTP git server. It gates requests the way Azure DevOps
//! does (Entra bearer tokens, or Basic with a token as password) and hands authorized ones to the
//! real `git http-backend` (`backend`), or, for Git LFS, to its LFS server (`lfs`).

mod backend;
pub mod lfs;

use super::{ADO_RESOURCE, BackgroundServer, jwt, now_secs};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Audiences Azure DevOps accepts: the resource GUID and its URI form.
const ACCEPTED_AUDIENCES: [&str; 2] = [ADO_RESOURCE, "https://app.vssps.visualstudio.com"];

/// The Basic challenge Azure DevOps sends alongside the Bearer one.
const BASIC_CHALLENGE: &str = "Basic realm=\"https://tfsprodneu2.visualstudio.com/\"";

/// How a request authenticated, as judged by the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeenAuth {
    /// No `Authorization` header.
    None,
    /// Basic with a valid token as password.
    Basic {
        /// The (non-empty, otherwise ignored) username.
        username: String,
    },
    /// Bearer with a valid token.
    Bearer,
    /// An `Authorization` header that did not carry a valid token.
    Invalid,
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct AdoRequest {
    /// HTTP method.
    pub method: String,
    /// Request path including the query string, e.g. `/o/p/_git/r/info/refs?service=git-upload-pack`.
    pub path: String,
    /// How the request authenticated.
    pub auth: SeenAuth,
    /// The status code returned.
    pub status: u16,
}

/// State shared with the request threads.
struct Shared {
    root: PathBuf,
    tenant_id: String,
    allowed: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// Principals known to Entra but never added to an org (TF401444).
    unmaterialized: Mutex<BTreeSet<(String, String)>>,
    /// Principals that may read but not push in an org (TF401027).
    read_only: Mutex<BTreeSet<(String, String)>>,
    /// Organizations whose tenant differs from `tenant_id` (the empty GUID for an MSA org).
    org_tenants: Mutex<BTreeMap<String, String>>,
    /// Tokens Azure DevOps refuses although Entra would still call them valid.
    revoked: Mutex<BTreeSet<String>>,
    requests: Mutex<Vec<AdoRequest>>,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

/// A fake Azure DevOps git host on `127.0.0.1`; stops when dropped.
pub struct FakeAdo {
    shared: Arc<Shared>,
    server: BackgroundServer,
    addr: String,
}

impl FakeAdo {
    /// Starts the server; repos live under `root`, and every org belongs to Entra tenant `tenant_id`.
    pub fn start(root: &Path, tenant_id: &str) -> FakeAdo {
        let shared = Arc::new(Shared {
            root: root.to_owned(),
            tenant_id: tenant_id.to_owned(),
            allowed: Mutex::new(BTreeMap::new()),
            org_tenants: Mutex::new(BTreeMap::new()),
            unmaterialized: Mutex::new(BTreeSet::new()),
            read_only: Mutex::new(BTreeSet::new()),
            revoked: Mutex::new(BTreeSet::new()),
            requests: Mutex::new(Vec::new()),
            handlers: Mutex::new(Vec::new()),
        });
        let server = {
            let shared = shared.clone();
            // Parallel clones must not queue behind one another, so each request gets a thread.
            BackgroundServer::start(move |rq| {
                let worker = shared.clone();
                let h = std::thread::spawn(move || handle(&worker, rq));
                lock(&shared.handlers).push(h);
            })
        };
        let addr = server.addr().to_string();
        FakeAdo {
            shared,
            server,
            addr,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, as git sends it in `host=`.
    pub fn host(&self) -> String {
        self.addr.clone()
    }

    /// Creates a bare repo with one commit on `main` and returns its clone URL.
    pub fn create_repo(&self, org: &str, project: &str, repo: &str) -> String {
        let dest = self.repo_path(org, project, repo);
        let dest_str = dest.to_str().expect("temp paths are UTF-8");
        let work = tempfile::tempdir().expect("create a scratch work tree");
        let w = work.path();
        setup_git(w, &["init", "-q", "--bare", "-b", "main", dest_str]);
        setup_git(&dest, &["config", "http.receivepack", "true"]);
        setup_git(w, &["init", "-q", "-b", "main"]);
        std::fs::write(w.join("README.md"), format!("# {repo}\n")).expect("write README.md");
        setup_git(w, &["add", "README.md"]);
        let ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"];
        setup_git(
            w,
            &[&ident[..], &["commit", "-q", "-m", "initial"]].concat(),
        );
        setup_git(w, &["push", "-q", dest_str, "main"]);
        format!("{}/{org}/{project}/_git/{repo}", self.base_url())
    }

    /// Where the bare repository `org/project/repo` lives.
    fn repo_path(&self, org: &str, project: &str, repo: &str) -> PathBuf {
        self.shared
            .root
            .join(format!("{org}/{project}/_git/{repo}"))
    }

    /// Allows `principal` (a token's `appid`, or `upn` for users) in `org`.
    pub fn allow(&self, org: &str, principal: &str) {
        lock(&self.shared.allowed)
            .entry(org.to_owned())
            .or_default()
            .insert(principal.to_owned());
    }

    /// Makes `principal` one Entra knows but `org` never added: every
    /// request is refused with TF401444, as Azure DevOps does.
    pub fn unmaterialize(&self, org: &str, principal: &str) {
        lock(&self.shared.unmaterialized).insert((org.to_owned(), principal.to_owned()));
    }

    /// Lets `principal` fetch from but not push to `org`'s repos (TF401027).
    pub fn read_only(&self, org: &str, principal: &str) {
        lock(&self.shared.read_only).insert((org.to_owned(), principal.to_owned()));
    }

    /// Makes `org` belong to tenant `tid` in answers to the tenant probe
    /// (the empty GUID: an organization backed by Microsoft accounts).
    pub fn set_org_tenant(&self, org: &str, tid: &str) {
        lock(&self.shared.org_tenants).insert(org.to_owned(), tid.to_owned());
    }

    /// Makes Azure DevOps refuse `token` (401, with the usual challenges)
    /// while it is still valid in Entra's eyes, as after a revocation.
    pub fn revoke(&self, token: &str) {
        lock(&self.shared.revoked).insert(token.to_owned());
    }

    /// Every request so far, in the order responses were decided.
    pub fn requests(&self) -> Vec<AdoRequest> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for FakeAdo {
    fn drop(&mut self) {
        self.server.stop();
        // Let in-flight requests finish so no stray http-backend outlives the test.
        for h in std::mem::take(&mut *lock(&self.shared.handlers)) {
            let _ = h.join();
        }
    }
}

/// Locks a mutex, tolerating poison from a panicked test thread.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the PATH `git` in `dir` for repo setup, ignoring all user and system config.
fn setup_git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("spawn git");
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A response about to be sent: status, headers and body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Gates one request and answers it.
fn handle(shared: &Shared, mut rq: tiny_http::Request) {
    let mut body = Vec::new();
    // tiny_http has already undone chunked transfer encoding (and sends 100-continue on demand).
    let _ = rq.as_reader().read_to_end(&mut body);
    let method = rq.method().as_str().to_owned();
    let url = rq.url().to_owned();
    let headers: Vec<(String, String)> = rq
        .headers()
        .iter()
        .map(|h| (h.field.to_string(), h.value.to_string()))
        .collect();
    let header = |name: &str| {
        let found = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.clone())
    };
    let (auth, principal) = check_auth(shared, header("Authorization").as_deref());
    let reply = tenant_probe(shared, &method, &url, header("X-TFS-FedAuthRedirect"))
        .or_else(|| gate(shared, &auth, &principal, &url))
        .or_else(|| lfs::serve(shared, &method, &url, &body, &header))
        .unwrap_or_else(|| backend::cgi(shared, &principal, &method, &url, &body, &header));
    lock(&shared.requests).push(AdoRequest {
        method,
        path: url,
        auth,
        status: reply.status,
    });
    let mut resp = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    for (k, v) in &reply.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            resp.add_header(h);
        }
    }
    // The client may have hung up; nothing to do about it.
    let _ = rq.respond(resp);
}

/// `HEAD /{org}`, as the account service answers it: with
/// `X-TFS-FedAuthRedirect: Suppress`, 404 naming the tenant in
/// `X-VSS-ResourceTenant`; without, a browser redirect to sign-in that
/// names none.
fn tenant_probe(
    shared: &Shared,
    method: &str,
    url: &str,
    suppress: Option<String>,
) -> Option<Reply> {
    let path = url.split('?').next().unwrap_or_default();
    let org = path
        .strip_prefix('/')
        .filter(|o| !o.is_empty() && !o.contains('/'))?;
    if method != "HEAD" {
        return None;
    }
    if !suppress.is_some_and(|v| v.eq_ignore_ascii_case("suppress")) {
        let location = "https://app.vssps.visualstudio.com/_signin?realm=dev.azure.com".to_owned();
        return Some(Reply {
            status: 302,
            headers: vec![("Location".into(), location)],
            body: Vec::new(),
        });
    }
    let tid = lock(&shared.org_tenants)
        .get(org)
        .cloned()
        .unwrap_or_else(|| shared.tenant_id.clone());
    Some(Reply {
        status: 404,
        headers: vec![("X-VSS-ResourceTenant".into(), tid)],
        body: Vec::new(),
    })
}

/// Classifies the `Authorization` header; returns the principal when the token is valid.
fn check_auth(shared: &Shared, header: Option<&str>) -> (SeenAuth, String) {
    let Some(value) = header else {
        return (SeenAuth::None, String::new());
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let basic = || {
        let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        let user = Some(user.to_owned()).filter(|u| !u.is_empty())?;
        Some((SeenAuth::Basic { username: user }, pass.to_owned()))
    };
    let valid = if scheme.eq_ignore_ascii_case("bearer") {
        Some((SeenAuth::Bearer, rest.trim().to_owned()))
    } else if scheme.eq_ignore_ascii_case("basic") {
        basic()
    } else {
        None
    };
    let valid = valid.filter(|(_, t)| !lock(&shared.revoked).contains(t));
    let Some((seen, claims)) = valid.and_then(|(seen, t)| Some((seen, jwt::verify(&t)?))) else {
        return (SeenAuth::Invalid, String::new());
    };
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let aud_ok = ACCEPTED_AUDIENCES.contains(&s("aud").as_str());
    let exp_ok = claims.get("exp").and_then(Value::as_u64) > Some(now_secs());
    let tid_ok = s("tid").eq_ignore_ascii_case(&shared.tenant_id);
    if !(aud_ok && exp_ok && tid_ok) {
        return (SeenAuth::Invalid, String::new());
    }
    let principal = Some(s("appid"))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| s("upn"));
    (seen, principal)
}

/// Returns the rejection for a request that must not reach git, or `None` to let it through.
fn gate(shared: &Shared, auth: &SeenAuth, principal: &str, url: &str) -> Option<Reply> {
    let path = url.split('?').next().unwrap_or_default();
    match auth {
        SeenAuth::None => return Some(unauthorized(shared, None)),
        SeenAuth::Invalid => return Some(unauthorized(shared, Some(""))),
        SeenAuth::Basic { .. } | SeenAuth::Bearer => {}
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let org = segs.first().copied().unwrap_or_default();
    let allowed = lock(&shared.allowed)
        .get(org)
        .is_some_and(|set| set.contains(principal));
    let key = (org.to_owned(), principal.to_owned());
    if lock(&shared.unmaterialized).contains(&key) {
        return Some(not_materialized(shared, principal));
    }
    if !allowed {
        return Some(unauthorized(shared, Some(principal)));
    }
    let text = |status: u16, msg: String| Reply {
        status,
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: msg.into_bytes(),
    };
    if segs.len() == 3 && segs[1] == "_apis" && segs[2].eq_ignore_ascii_case("connectionData") {
        return Some(connection_data(principal));
    }
    if url.contains("git-receive-pack") && lock(&shared.read_only).contains(&key) {
        let msg = "TF401027: You need the Git 'GenericContribute' permission to perform this action. Details: identity '{principal}', scope 'repository'.".replace("{principal}", principal);
        return Some(text(403, msg));
    }
    // Reject traversal so a crafted path cannot reach outside the repo root.
    if segs.len() < 4 || segs[2] != "_git" || segs.iter().any(|s| s.is_empty() || *s == "..") {
        return Some(text(404, format!("Not found: {path}")));
    }
    if !repo_dir(shared, &segs).join("HEAD").is_file() {
        let repo = segs[3];
        let msg = format!(
            "TF401019: The Git repository with name or identifier {repo} does not exist or you do not have permissions for the operation you are attempting."
        );
        return Some(text(404, msg));
    }
    None
}

/// The bare repository `{org}/{project}/_git/{repo}` of a request's path
/// segments (checked by `gate`); `{repo}.git` names the same repository.
fn repo_dir(shared: &Shared, segs: &[&str]) -> PathBuf {
    let repo = segs[3].strip_suffix(".git").unwrap_or(segs[3]);
    shared
        .root
        .join(segs[0])
        .join(segs[1])
        .join("_git")
        .join(repo)
}

/// `_apis/connectionData` for an allowed principal: who Azure DevOps sees.
fn connection_data(principal: &str) -> Reply {
    let body = serde_json::json!({
        "authenticatedUser": {
            "id": super::derived_guid(principal),
            "descriptor": format!("Microsoft.IdentityModel.Claims.ClaimsIdentity;{principal}"),
            "providerDisplayName": principal,
            "isActive": true,
        },
        "authorizedUser": { "id": super::derived_guid(principal), "providerDisplayName": principal },
        "instanceId": super::derived_guid("instance"),
        "deploymentType": "hosted",
    });
    Reply {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/json; charset=utf-8".into(),
        )],
        body: body.to_string().into_bytes(),
    }
}

/// The 401 for a principal Entra knows but the organization never added.
fn not_materialized(shared: &Shared, principal: &str) -> Reply {
    let mut reply = unauthorized(shared, Some(principal));
    let error = format!(
        "TF401444%3a+Please+sign-in+at+least+once+as+{}%5c{principal}+in+a+web+browser+to+enable+access+to+the+service.",
        shared.tenant_id
    );
    for (k, v) in &mut reply.headers {
        if k == "X-TFS-ServiceError" {
            *v = error.clone();
        }
    }
    reply
}

/// A 401 like Azure DevOps sends; `user` is `None` for anonymous requests, else the rejected user.
fn unauthorized(shared: &Shared, user: Option<&str>) -> Reply {
    let tid = &shared.tenant_id;
    let error = match user {
        None => "TF400813%3a+Resource+not+available+for+anonymous+access.+Client+authentication+required.".to_owned(),
        Some(u) => format!("TF400813%3a+The+user+%27{u}%27+is+not+authorized+to+access+this+resource."),
    };
    let bearer = format!("Bearer authorization_uri=https://login.microsoftonline.com/{tid}");
    let headers = [
        ("WWW-Authenticate", bearer),
        ("WWW-Authenticate", BASIC_CHALLENGE.to_owned()),
        ("WWW-Authenticate", "TFS-Federated".to_owned()),
        ("X-VSS-ResourceTenant", tid.clone()),
        ("X-TFS-ServiceError", error),
    ];
    let headers = headers
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Reply {
        status: 401,
        headers,
        body: Vec::new(),
    }
}
