//! Workload identities fed by a CI platform's OIDC endpoint — GitHub
//! Actions and Azure Pipelines — through the real binary, against fakes
//! that check each request's shape as the platform needs it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::oidc::OidcRequest;
use crate::support::world::{TENANT, World};
use crate::support::{EXCHANGE_AUDIENCE, FakeOidc, Federation, Scripted};
use crate::workload::{WL_CLIENT, aks_federation, assertions, clone_and_push, failed, ok, world};

const SERVICE_CONNECTION: &str = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
const JOB_TOKEN: &str = "job-token.eyJzY3AiOiJidWlsZCJ9.sig";
const GH_REQUEST_TOKEN: &str = "ghs_request-token-of-this-job-0123456789";

/// Sends a request to a fake OIDC endpoint; returns the status.
fn send(rq: reqwest::blocking::RequestBuilder) -> u16 {
    rq.send().expect("the fake answers").status().as_u16()
}

#[test]
fn the_fake_oidc_endpoints_refuse_the_wrong_shape() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let gh = FakeOidc::github(GH_REQUEST_TOKEN);
    let url = gh.request_url();
    let with_audience = format!("{url}&audience=api://AzureADTokenExchange");
    assert_eq!(
        send(http.get(&with_audience).bearer_auth(GH_REQUEST_TOKEN)),
        200
    );
    // `?audience=` in place of the runner's query, a wrong token, a POST.
    let (base, _) = url.split_once('?').expect("a query");
    assert_eq!(
        send(
            http.get(format!("{base}?audience=x"))
                .bearer_auth(GH_REQUEST_TOKEN)
        ),
        400
    );
    assert_eq!(
        send(http.get(&with_audience).bearer_auth("another-token-value")),
        401
    );
    assert_eq!(
        send(http.post(&with_audience).bearer_auth(GH_REQUEST_TOKEN)),
        400
    );
    let problems: Vec<usize> = gh.requests().iter().map(|r| r.problems.len()).collect();
    assert_eq!(problems, [0, 1, 1, 1]);

    let ado = FakeOidc::pipelines(JOB_TOKEN, SERVICE_CONNECTION);
    let url = format!(
        "{}?api-version=7.1&serviceConnectionId={SERVICE_CONNECTION}",
        ado.request_url()
    );
    let post = || {
        http.post(&url)
            .bearer_auth(JOB_TOKEN)
            .header("Content-Type", "application/json")
    };
    assert_eq!(
        send(post().header("X-TFS-FedAuthRedirect", "Suppress")),
        200
    );
    assert_eq!(send(post()), 400, "no X-TFS-FedAuthRedirect");
    assert_eq!(
        send(
            post()
                .header("X-TFS-FedAuthRedirect", "Suppress")
                .body("{}")
        ),
        400,
        "a body"
    );
    assert_eq!(
        send(
            http.get(&url)
                .bearer_auth(JOB_TOKEN)
                .header("X-TFS-FedAuthRedirect", "Suppress")
        ),
        400,
        "GET"
    );
    assert_eq!(ado.issued().len(), 1);
}

/// A world whose `gh` identity uses GitHub Actions OIDC, with the job's variables set.
fn github_world(cache: &str, extra: &str) -> (World, FakeOidc) {
    let oidc = FakeOidc::github(GH_REQUEST_TOKEN);
    let mut w = world(
        cache,
        "gh",
        |_| format!(r#""assertion": "github-actions"{extra}"#),
        oidc.federation(),
    );
    for (k, v) in oidc.job_env() {
        w.env.set_env(k, &v);
    }
    (w, oidc)
}

/// A fully traced `get` (neither the job's token nor the assertion may show in
/// the trace) that works: the one request the CI's OIDC endpoint saw, which
/// must have no problems.
fn one_traced_request(w: &mut World, oidc: &FakeOidc) -> OidcRequest {
    w.env.set_env("GIT_CREDENTIAL_ENTRA_TRACE", "1");
    let out = w.helper(&["get"], &w.request());
    ok(&out);
    let mut seen = oidc.requests();
    assert_eq!(seen.len(), 1);
    let r = seen.remove(0);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    r
}

#[test]
fn github_actions_requests_have_the_runners_shape() {
    let (mut w, oidc) = github_world("none", "");
    let r = &one_traced_request(&mut w, &oidc);
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.query,
        [
            ("api-version".to_string(), "2.0".to_string()),
            ("audience".to_string(), EXCHANGE_AUDIENCE.to_string())
        ],
        "the audience is appended to the runner's query"
    );
    assert_eq!(r.headers["authorization"], "<the job's token>");
    assert_eq!(assertions(&w), oidc.issued());
    // A second exchange asks GitHub again: its tokens are never reused.
    ok(&w.helper(&["get"], &w.request()));
    assert_eq!(oidc.requests().len(), 2);
    assert_eq!(assertions(&w), oidc.issued());
    assert_ne!(oidc.issued()[0], oidc.issued()[1]);
}

#[test]
fn github_actions_audience_is_configurable() {
    let audience = "api://AzureADTokenExchangeUSGov";
    let (w, oidc) = github_world("none", &format!(r#", "audience": "{audience}""#));
    w.entra.add_federated_app(
        TENANT,
        WL_CLIENT,
        Federation {
            audience: audience.into(),
            ..oidc.federation()
        },
    );
    ok(&w.helper(&["get"], &w.request()));
    assert_eq!(oidc.requests()[0].query[1].1, audience);
}

#[test]
fn github_actions_without_id_token_permission_says_so() {
    let mut w = world(
        "none",
        "gh",
        |_| r#""assertion": "github-actions""#.to_string(),
        aks_federation(),
    );
    w.env.set_env("GITHUB_ACTIONS", "true");
    let out = w.helper(&["get"], &w.request());
    let err = failed(&out);
    assert!(
        err.contains("identity 'gh'")
            && err.contains(
                "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"
            )
            && err.contains("`permissions: id-token: write`"),
        "{err}"
    );
    assert_eq!(w.token_requests(), 0);
}

/// A world whose `ado` identity uses Azure Pipelines OIDC for `connection`,
/// in a job whose variables are set.
fn pipelines_world(cache: &str, connection: &str) -> (World, FakeOidc) {
    let oidc = FakeOidc::pipelines(JOB_TOKEN, SERVICE_CONNECTION);
    let mut w = world(
        cache,
        "ado",
        |_| format!(r#""assertion": "azure-pipelines", "service_connection_id": "{connection}""#),
        oidc.federation(),
    );
    for (k, v) in oidc.job_env() {
        w.env.set_env(k, &v);
    }
    (w, oidc)
}

#[test]
fn azure_pipelines_requests_have_the_agents_shape() {
    let (mut w, oidc) = pipelines_world("none", SERVICE_CONNECTION);
    let r = &one_traced_request(&mut w, &oidc);
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.query,
        [
            ("api-version".to_string(), "7.1".to_string()),
            (
                "serviceConnectionId".to_string(),
                SERVICE_CONNECTION.to_string()
            )
        ]
    );
    assert_eq!(r.headers["authorization"], "<the job's token>");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["x-tfs-fedauthredirect"], "Suppress");
    assert_eq!(r.body_len, 0);
    assert_eq!(assertions(&w), oidc.issued());
}

#[test]
fn azure_pipelines_failures_show_the_status_and_the_support_ids() {
    let (w, oidc) = pipelines_world("none", "00000000-0000-0000-0000-000000000000");
    let out = w.helper(&["get"], &w.request());
    let err = failed(&out);
    let e2eid = oidc.requests()[0].e2eid.clone().expect("an e2eid was sent");
    assert!(
        err.contains("identity 'ado'")
            && err.contains("Azure Pipelines' OIDC endpoint")
            && err.contains("HTTP 404")
            && err.contains(&format!("x-vss-e2eid: {e2eid}"))
            && err.contains("x-msedge-ref: Ref A:")
            && err.contains("service_connection_id"),
        "{err}"
    );
    assert_eq!(oidc.requests().len(), 1, "a refusal is not retried");
    assert_eq!(w.token_requests(), 0);

    // Hostile text: escape sequences and the job's token echoed back.
    oidc.push_response(Scripted {
        body: json!({ "message": format!("denied\u{1b}[2J for {JOB_TOKEN}\r\nfake: line") })
            .to_string(),
        ..Scripted::status(401)
    });
    let out = w.helper(&["get"], &w.request());
    let err = failed(&out);
    assert!(err.contains("HTTP 401") && err.contains("denied"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains(JOB_TOKEN), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn azure_pipelines_outages_are_retried_within_a_short_budget() {
    let (w, oidc) = pipelines_world("none", SERVICE_CONNECTION);
    for _ in 0..10 {
        oidc.push_response(Scripted::status(503));
    }
    let started = Instant::now();
    let out = w.helper(&["get"], &w.request());
    let took = started.elapsed();
    let err = failed(&out);
    let tries = oidc.requests().len();
    assert!(
        err.contains("HTTP 503")
            && err.contains(&format!("{tries} time(s)"))
            && err.contains("x-vss-e2eid"),
        "{err}"
    );
    assert!((2..=4).contains(&tries), "{tries} attempts");
    assert!(took < Duration::from_secs(12), "{took:?}");
    // The processes queued behind this one report the outage at once.
    let again = w.helper(&["get"], &w.request());
    assert!(failed(&again).contains("HTTP 503"));
    assert_eq!(oidc.requests().len(), tries, "not asked again");
}

#[test]
fn azure_pipelines_throttling_is_waited_out() {
    let (w, oidc) = pipelines_world("none", SERVICE_CONNECTION);
    oidc.push_response(Scripted {
        retry_after: Some("1".into()),
        ..Scripted::status(429)
    });
    ok(&w.helper(&["get"], &w.request()));
    assert_eq!(oidc.requests().len(), 2);
    assert_eq!(assertions(&w), oidc.issued()[..1]);
}

#[test]
fn azure_pipelines_without_the_job_token_says_how_to_map_it() {
    let (mut w, _oidc) = pipelines_world("none", SERVICE_CONNECTION);
    w.env.set_env("SYSTEM_ACCESSTOKEN", "");
    let err = failed(&w.helper(&["get"], &w.request())).to_string();
    assert!(
        err.contains("SYSTEM_ACCESSTOKEN is not set")
            && err.contains("env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)"),
        "{err}"
    );
}

#[test]
fn clone_and_push_with_azure_pipelines_oidc() {
    let (w, oidc) = pipelines_world("file", SERVICE_CONNECTION);
    clone_and_push(&w);
    assert_eq!(oidc.requests().len(), 1);
}
