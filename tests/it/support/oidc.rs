//! `FakeOidc`: the CI platforms' endpoints that hand a job its federated
//! token — GitHub Actions (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`,
//! answer `{"value": …}`) and Azure Pipelines (`POST
//! $SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=…`, answer
//! `{"oidcToken": …}`). Each checks the request's shape as the real one
//! needs it, answers a wrong one as the platform would (401, 400, 404), and
//! issues assertion JWTs signed with the test key, so FakeEntra can accept
//! them for a federated app.

use super::entra::{Federation, Scripted};
use super::{BackgroundServer, jwt, now_secs, random_guid, register_sensitive};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// The default token-exchange audience.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// GitHub's OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The subject GitHub gives the test workflow.
pub const GITHUB_SUBJECT: &str = "repo:contoso/payments:ref:refs/heads/main";

/// Which platform the fake plays.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Flavor {
    Github,
    Pipelines { service_connection_id: String },
}

/// One request as the fake saw it; the bearer token is never kept.
#[derive(Clone, Debug)]
pub struct OidcRequest {
    /// HTTP method.
    pub method: String,
    /// Query pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers (names lower-cased); `authorization` is replaced by whether it was right.
    pub headers: BTreeMap<String, String>,
    /// Request body length.
    pub body_len: usize,
    /// What the platform would object to; empty for a well-formed request.
    pub problems: Vec<String>,
    /// The `x-vss-e2eid` sent back (Azure Pipelines).
    pub e2eid: Option<String>,
}

struct State {
    lifetime: i64,
    queue: VecDeque<Scripted>,
    requests: Vec<OidcRequest>,
    issued: Vec<String>,
}

/// A fake GitHub Actions or Azure Pipelines OIDC endpoint on 127.0.0.1.
pub struct FakeOidc {
    flavor: Flavor,
    bearer: String,
    state: Arc<Mutex<State>>,
    _server: BackgroundServer,
    base: String,
}

/// The job's path on each platform (what the runner / agent puts in the variable).
const GITHUB_PATH: &str =
    "/pipelines-1a2b/_apis/distributedtask/hubs/Actions/plans/5f9a/jobs/7c1d/idtoken";
const PIPELINES_PATH: &str = "/contoso/8e1c0a52-55a1-4f7b-b0b2-3b5e4f0c9a11/_apis/distributedtask/hubs/build/plans/2d4e/jobs/9b3f/oidctoken";
/// Azure DevOps organization id, part of the Pipelines issuer.
const ORG_ID: &str = "4c1e6f3a-9d2b-4e8f-a7c5-1b0d3e6f9a24";

impl FakeOidc {
    /// GitHub Actions' endpoint, accepting `request_token` (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
    pub fn github(request_token: &str) -> FakeOidc {
        FakeOidc::start(Flavor::Github, request_token)
    }

    /// Azure Pipelines' endpoint for one service connection, accepting the
    /// job token `system_access_token`.
    pub fn pipelines(system_access_token: &str, service_connection_id: &str) -> FakeOidc {
        FakeOidc::start(
            Flavor::Pipelines {
                service_connection_id: service_connection_id.to_owned(),
            },
            system_access_token,
        )
    }

    fn start(flavor: Flavor, bearer: &str) -> FakeOidc {
        register_sensitive(bearer);
        let state = Arc::new(Mutex::new(State {
            lifetime: 300,
            queue: VecDeque::new(),
            requests: Vec::new(),
            issued: Vec::new(),
        }));
        let server = {
            let (state, flavor, bearer) = (state.clone(), flavor.clone(), bearer.to_owned());
            BackgroundServer::start(move |rq| respond(&flavor, &bearer, &state, rq))
        };
        let base = format!("http://{}", server.addr());
        FakeOidc {
            flavor,
            bearer: bearer.to_owned(),
            state,
            _server: server,
            base,
        }
    }

    /// The URL the platform puts in its variable (GitHub's already has a query).
    pub fn request_url(&self) -> String {
        match self.flavor {
            Flavor::Github => format!("{}{GITHUB_PATH}?api-version=2.0", self.base),
            Flavor::Pipelines { .. } => format!("{}{PIPELINES_PATH}", self.base),
        }
    }

    /// The variables the platform sets for a job (with the job token mapped, for Pipelines).
    pub fn job_env(&self) -> Vec<(&'static str, String)> {
        match self.flavor {
            Flavor::Github => vec![
                ("ACTIONS_ID_TOKEN_REQUEST_URL", self.request_url()),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", self.bearer.clone()),
                ("GITHUB_ACTIONS", "true".to_owned()),
            ],
            Flavor::Pipelines { .. } => vec![
                ("SYSTEM_OIDCREQUESTURI", self.request_url()),
                ("SYSTEM_ACCESSTOKEN", self.bearer.clone()),
                ("TF_BUILD", "True".to_owned()),
            ],
        }
    }

    /// The federated credential that trusts this platform's tokens.
    pub fn federation(&self) -> Federation {
        Federation {
            issuer: self.issuer(),
            subject: self.subject(),
            audience: EXCHANGE_AUDIENCE.to_owned(),
        }
    }

    fn issuer(&self) -> String {
        issuer(&self.flavor)
    }

    fn subject(&self) -> String {
        subject(&self.flavor)
    }

    /// Queues a canned answer for the next request.
    pub fn push_response(&self, r: Scripted) {
        self.lock().queue.push_back(r);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<OidcRequest> {
        self.lock().requests.clone()
    }

    /// Every token issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn issuer(flavor: &Flavor) -> String {
    match flavor {
        Flavor::Github => GITHUB_ISSUER.to_owned(),
        Flavor::Pipelines { .. } => format!("https://vstoken.dev.azure.com/{ORG_ID}"),
    }
}

fn subject(flavor: &Flavor) -> String {
    match flavor {
        Flavor::Github => GITHUB_SUBJECT.to_owned(),
        Flavor::Pipelines { .. } => "sc://contoso/proj/deploy-connection".to_owned(),
    }
}

/// What the platform would object to in a request, and the status it would answer.
fn check(
    flavor: &Flavor,
    bearer: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &BTreeMap<String, String>,
    body_len: usize,
) -> (Vec<String>, u16) {
    let mut problems = Vec::new();
    let once = |key: &str| {
        let values: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        match values.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    };
    let header = |name: &str| headers.get(name).map(String::as_str);
    if header("authorization") != Some(format!("Bearer {bearer}").as_str()) {
        problems.push("the Authorization header is not `Bearer <the job's token>`".to_owned());
        return (problems, 401);
    }
    let mut status = 400;
    match flavor {
        Flavor::Github => {
            if method != "GET" {
                problems.push(format!("method {method}, expected GET"));
            }
            if path != GITHUB_PATH {
                problems.push(format!("path {path}"));
            }
            if once("api-version").as_deref() != Some("2.0") {
                problems.push("the runner's api-version=2.0 was lost".to_owned());
            }
            if once("audience").is_none() {
                problems.push("no single audience parameter".to_owned());
            }
        }
        Flavor::Pipelines {
            service_connection_id,
        } => {
            if method != "POST" {
                problems.push(format!("method {method}, expected POST"));
            }
            if path != PIPELINES_PATH {
                problems.push(format!("path {path}"));
            }
            if once("api-version").as_deref() != Some("7.1") {
                problems.push("api-version is not 7.1".to_owned());
            }
            if header("content-type") != Some("application/json") {
                problems.push("Content-Type is not application/json".to_owned());
            }
            if header("x-tfs-fedauthredirect") != Some("Suppress") {
                problems.push("X-TFS-FedAuthRedirect: Suppress is missing".to_owned());
            }
            if body_len != 0 {
                problems.push(format!("a {body_len}-byte body"));
            }
            match once("serviceConnectionId") {
                Some(sc) if sc == *service_connection_id => {}
                Some(sc) if problems.is_empty() => {
                    problems.push(format!("unknown service connection {sc}"));
                    status = 404;
                }
                _ => problems.push("no single serviceConnectionId".to_owned()),
            }
        }
    }
    (problems, status)
}

fn respond(flavor: &Flavor, bearer: &str, state: &Mutex<State>, mut rq: tiny_http::Request) {
    let mut body = Vec::new();
    let _ = rq.as_reader().read_to_end(&mut body);
    let method = rq.method().as_str().to_owned();
    let (path, raw_query) = rq.url().split_once('?').unwrap_or((rq.url(), ""));
    let path = path.to_owned();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let mut headers: BTreeMap<String, String> = rq
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.to_string().to_ascii_lowercase(),
                h.value.to_string(),
            )
        })
        .collect();
    let (problems, fail_status) =
        check(flavor, bearer, &method, &path, &query, &headers, body.len());
    if let Some(a) = headers.get_mut("authorization") {
        *a = if problems.iter().any(|p| p.contains("Authorization")) {
            "<wrong>".to_owned()
        } else {
            "<the job's token>".to_owned()
        };
    }
    let e2eid = matches!(flavor, Flavor::Pipelines { .. }).then(random_guid);
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    st.requests.push(OidcRequest {
        method,
        query: query.clone(),
        headers,
        body_len: body.len(),
        problems: problems.clone(),
        e2eid: e2eid.clone(),
    });
    let (status, retry_after, text) = if let Some(s) = st.queue.pop_front() {
        (s.status, s.retry_after, s.body)
    } else if !problems.is_empty() {
        let message = problems.join("; ");
        (fail_status, None, json!({ "message": message }).to_string())
    } else {
        let audience = query
            .iter()
            .find(|(k, _)| k == "audience")
            .map_or(EXCHANGE_AUDIENCE.to_owned(), |(_, v)| v.clone());
        let now = now_secs() as i64;
        let token = jwt::sign(&json!({
            "iss": issuer(flavor),
            "sub": subject(flavor),
            "aud": audience,
            "iat": now,
            "nbf": now.min(now + st.lifetime),
            "exp": now + st.lifetime,
            "jti": random_guid(),
        }));
        st.issued.push(token.clone());
        let field = match flavor {
            Flavor::Github => "value",
            Flavor::Pipelines { .. } => "oidcToken",
        };
        (200, None, json!({ field: token }).to_string())
    };
    drop(st);
    let mut resp = tiny_http::Response::from_string(text)
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json; charset=utf-8"));
    if let Some(id) = &e2eid {
        resp.add_header(header("x-vss-e2eid", id));
        resp.add_header(header("x-msedge-ref", &format!("Ref A: {id} Ref B: AMS")));
    }
    if let Some(ra) = retry_after {
        resp.add_header(header("Retry-After", &ra));
    }
    let _ = rq.respond(resp);
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("ASCII header")
}
