//! The CI platforms' OIDC endpoints that hand a job its federated token:
//! GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL`) and Azure Pipelines
//! (`SYSTEM_OIDCREQUESTURI`, for one service connection).
//!
//! Both calls carry the job's own token, so they go only to https (plain
//! http to loopback for local tests), follow no redirect, and are bounded:
//! a short retry budget for throttling and outages, and a size limit on the
//! answer. What the server says is sanitized and cleaned of the job's token
//! before it is shown; the correlation headers are kept so the user can
//! quote them to support.

use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use serde_json::Value;
use url::Url;

use crate::net::answer::{
    BodyError, NoAnswer, Verdict, error_chain, read_capped, retry_after, verdict,
};
use crate::net::retry::{OIDC as POLICY, Step};
use crate::sys::secret::Secret;
use crate::sys::text::sanitize;
use crate::token::AccessToken;

use super::error::{FederationError, MAX_ASSERTION_BYTES};
use crate::identity::AcquireCx;

const GITHUB: &str = "GitHub Actions' OIDC endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)";
const PIPELINES: &str = "Azure Pipelines' OIDC endpoint (SYSTEM_OIDCREQUESTURI)";

/// `pipeline::system_accesstoken_hint("SYSTEM_ACCESSTOKEN")`, as a constant.
const SYSTEM_ACCESSTOKEN_FIX: &str = "map the job's token into the step's environment: in YAML add `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)` to the step that runs git; in a classic pipeline enable \"Allow scripts to access the OAuth token\" on the agent job";

/// The Azure DevOps REST version the OIDC endpoint is called with.
const PIPELINES_API_VERSION: &str = "7.1";

/// A GitHub Actions OIDC token for `audience`:
/// `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` → `{"value": "<jwt>"}`.
pub fn github_actions(cx: &AcquireCx, audience: &str) -> Result<Secret<String>, FederationError> {
    const URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
    const TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
    let (url, bearer) = match (cx.env.get(URL_VAR), cx.env.get(TOKEN_VAR)) {
        (Some(url), Some(bearer)) => (url, bearer),
        (url, _) => {
            let mut vars = Vec::new();
            if url.is_none() {
                vars.push(URL_VAR);
            }
            if cx.env.get(TOKEN_VAR).is_none() {
                vars.push(TOKEN_VAR);
            }
            return Err(FederationError::NotSet {
                vars,
                fix: "the workflow (or job) needs `permissions: id-token: write`, and git must run in a step of that job (the runner sets these variables only then)",
            });
        }
    };
    // The runner's URL already has a query (`?api-version=2.0`): the
    // audience is appended to it, not put in its place.
    let mut url = endpoint_url(URL_VAR, url)?;
    url.query_pairs_mut().append_pair("audience", audience);
    Call {
        endpoint: GITHUB,
        post: false,
        url,
        bearer: Secret::new(bearer.to_string()),
        field: "value",
        ids: &["x-github-request-id"],
        fix_denied: "give the workflow (or job) `permissions: id-token: write`, and run git in a step of the job the variables were set for",
        fix_other: "check that ACTIONS_ID_TOKEN_REQUEST_URL is the one the runner set, and retry the job",
    }
    .run(cx)
}

/// An Azure Pipelines OIDC token for a service connection:
/// `POST $SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=…`
/// with the job's token → `{"oidcToken": "<jwt>"}`.
pub fn azure_pipelines(
    cx: &AcquireCx,
    service_connection_id: &str,
) -> Result<Secret<String>, FederationError> {
    const URL_VAR: &str = "SYSTEM_OIDCREQUESTURI";
    let Some(uri) = cx.env.get(URL_VAR) else {
        return Err(FederationError::NotSet {
            vars: vec![URL_VAR],
            fix: "run git in a step of an Azure Pipelines job (the agent sets SYSTEM_OIDCREQUESTURI there)",
        });
    };
    let Some(bearer) = cx.env.get("SYSTEM_ACCESSTOKEN") else {
        return Err(FederationError::NotSet {
            vars: vec!["SYSTEM_ACCESSTOKEN"],
            fix: SYSTEM_ACCESSTOKEN_FIX,
        });
    };
    let mut url = endpoint_url(URL_VAR, uri)?;
    url.query_pairs_mut()
        .append_pair("api-version", PIPELINES_API_VERSION)
        .append_pair("serviceConnectionId", service_connection_id);
    Call {
        endpoint: PIPELINES,
        post: true,
        url,
        bearer: Secret::new(bearer.to_string()),
        field: "oidcToken",
        ids: &["x-vss-e2eid", "x-msedge-ref"],
        fix_denied: "check that SYSTEM_ACCESSTOKEN is this job's token ($(System.AccessToken)) and that the pipeline is allowed to use the service connection",
        fix_other: "check service_connection_id (the id in the service connection's URL under Project settings > Service connections) and that the connection uses workload identity federation",
    }
    .run(cx)
}

/// The endpoint from a platform variable: https, or plain http to loopback.
fn endpoint_url(var: &'static str, raw: &str) -> Result<Url, FederationError> {
    let bad = |problem: String| FederationError::BadVariable { var, problem };
    let url = Url::parse(raw).map_err(|e| {
        bad(format!(
            "is not a URL ({e}). Fix: leave it as the CI platform set it"
        ))
    })?;
    if !crate::net::https_or_loopback(&url)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad(
            "must be an https:// URL without a user name (the job's token is sent there). Fix: leave it as the CI platform set it".into(),
        ));
    }
    Ok(url)
}

/// One OIDC token request and how to read its answer.
struct Call {
    endpoint: &'static str,
    post: bool,
    url: Url,
    bearer: Secret<String>,
    /// The JSON field holding the token.
    field: &'static str,
    /// Response headers that identify the request for support.
    ids: &'static [&'static str],
    /// The fix for 401 / 403.
    fix_denied: &'static str,
    /// The fix for any other refusal.
    fix_other: &'static str,
}

impl Call {
    fn run(&self, cx: &AcquireCx) -> Result<Secret<String>, FederationError> {
        let http = cx
            .http
            .oidc(self.url.as_str())
            .map_err(|e| FederationError::Transport {
                endpoint: self.endpoint,
                detail: e.to_string(),
                local: true,
            })?;
        let method = if self.post { "POST" } else { "GET" };
        POLICY.run(
            cx.trace,
            |attempt| {
                let sent = Instant::now();
                let request = if self.post {
                    // No body: the service connection is in the query.
                    http.post(self.url.clone())
                        .header("Content-Type", "application/json")
                        .header("X-TFS-FedAuthRedirect", "Suppress")
                        .body(Vec::new())
                } else {
                    http.get(self.url.clone())
                };
                let result = request
                    .bearer_auth(self.bearer.expose())
                    .header("Accept", "application/json")
                    .timeout(attempt.timeout)
                    .send();
                let resp = match result {
                    Ok(resp) => resp,
                    Err(e) => {
                        let no = NoAnswer::of(&e);
                        let detail = self.clean(&error_chain(&e));
                        let local = no.local_failure(self.endpoint, &detail);
                        let failure = FederationError::Transport {
                            endpoint: self.endpoint,
                            local: local.is_some(),
                            detail: local.unwrap_or(detail),
                        };
                        cx.trace.detail(format_args!(
                            "oidc: {method} {} failed after {} ms: {failure}",
                            self.shown_url(),
                            sent.elapsed().as_millis()
                        ));
                        // A refused connection will not be accepted a moment later.
                        return if no.connect {
                            Step::Done(Err(failure))
                        } else {
                            Step::Transport { failure }
                        };
                    }
                };
                let status = resp.status().as_u16();
                cx.trace.detail(format_args!(
                    "oidc: {method} {} -> {status} in {} ms",
                    self.shown_url(),
                    sent.elapsed().as_millis()
                ));
                let ids = self.ids_of(&resp);
                let verdict = verdict(status, &POLICY);
                if verdict == Verdict::Unavailable {
                    let retry_after = retry_after(&resp);
                    let failure = FederationError::Unavailable {
                        endpoint: self.endpoint,
                        status,
                        attempts: attempt.number,
                        waited: Duration::ZERO,
                        ids,
                    };
                    return Step::Status {
                        status,
                        failure,
                        retry_after,
                    };
                }
                match read_body(resp) {
                    Ok(body) if verdict == Verdict::Ok => {
                        Step::Done(self.token(status, &body, ids))
                    }
                    Ok(body) => Step::Done(Err(FederationError::Refused {
                        endpoint: self.endpoint,
                        status,
                        message: self.message(&body),
                        ids,
                        fix: if matches!(status, 401 | 403) {
                            self.fix_denied
                        } else {
                            self.fix_other
                        },
                    })),
                    Err(BodyError::TooLarge | BodyError::NotText) => {
                        Step::Done(Err(FederationError::BadResponse {
                            endpoint: self.endpoint,
                            status,
                            detail: format!(
                                "the answer is larger than {} KiB",
                                MAX_ASSERTION_BYTES / 1024
                            ),
                            ids,
                        }))
                    }
                    Err(BodyError::Broken(e)) => Step::Transport {
                        failure: FederationError::Transport {
                            endpoint: self.endpoint,
                            detail: self.clean(&format!("reading the answer failed: {e}")),
                            local: false,
                        },
                    },
                }
            },
            |failure, attempts, waited| match failure {
                FederationError::Unavailable {
                    endpoint,
                    status,
                    ids,
                    ..
                } => FederationError::Unavailable {
                    endpoint,
                    status,
                    attempts,
                    waited,
                    ids,
                },
                other => other,
            },
        )
    }

    /// The token in a 200 answer.
    fn token(
        &self,
        status: u16,
        body: &str,
        ids: Vec<(&'static str, String)>,
    ) -> Result<Secret<String>, FederationError> {
        let bad = |detail: String| FederationError::BadResponse {
            endpoint: self.endpoint,
            status,
            detail,
            ids: ids.clone(),
        };
        let v: Value = serde_json::from_str(body).map_err(|_| bad("not JSON".into()))?;
        let token = v
            .get(self.field)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("no \"{}\" field", self.field)))?;
        AccessToken::check_token(token)
            .map_err(|why| bad(why.replace("access_token", self.field)))?;
        Ok(Secret::new(token.to_string()))
    }

    /// What the server said, when it said something short: its JSON
    /// `message` (Azure DevOps, GitHub), else the text itself.
    fn message(&self, body: &str) -> Option<String> {
        let text = match serde_json::from_str::<Value>(body) {
            Ok(v) => v.get("message").and_then(Value::as_str)?.to_string(),
            Err(_) => body.to_string(),
        };
        Some(self.clean(&text)).filter(|t| !t.is_empty())
    }

    /// The correlation headers present, sanitized.
    fn ids_of(&self, resp: &Response) -> Vec<(&'static str, String)> {
        self.ids
            .iter()
            .filter_map(|name| {
                let value = resp.headers().get(*name)?.to_str().ok()?;
                Some((*name, sanitize(value))).filter(|(_, v)| !v.is_empty())
            })
            .collect()
    }

    /// Server or library text made safe to show: never the job's token.
    fn clean(&self, text: &str) -> String {
        crate::sys::text::sanitize_hiding(text, &[("job token", self.bearer.expose())])
    }

    /// The endpoint without its query, for traces.
    fn shown_url(&self) -> String {
        let mut u = self.url.clone();
        u.set_query(None);
        u.to_string()
    }
}

/// Reads an answer up to [`MAX_ASSERTION_BYTES`] (a token and a little JSON).
fn read_body(resp: Response) -> Result<String, BodyError> {
    read_capped(resp, MAX_ASSERTION_BYTES).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_token_goes_only_to_https_or_loopback() {
        for ok in [
            "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0",
            "https://dev.azure.com/contoso/p/_apis/distributedtask/hubs/build/plans/1/jobs/2/oidctoken",
            "http://127.0.0.1:8080/oidctoken",
        ] {
            assert!(endpoint_url("SYSTEM_OIDCREQUESTURI", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://dev.azure.com/contoso/oidctoken",
            "https://user:pw@dev.azure.com/x",
            "file:///etc/passwd",
            "not a url",
        ] {
            let e = endpoint_url("SYSTEM_OIDCREQUESTURI", bad).expect_err(bad);
            assert!(
                e.to_string().starts_with("SYSTEM_OIDCREQUESTURI ")
                    && e.to_string().contains("Fix:"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_pipelines_hint_is_the_pipeline_token_one() {
        assert_eq!(
            SYSTEM_ACCESSTOKEN_FIX,
            crate::identity::system_accesstoken_hint("SYSTEM_ACCESSTOKEN")
        );
    }
}
