//! Workload identities through the real binary: a Kubernetes token file
//! (configured, or AKS's AZURE_* variables), GitHub Actions and Azure
//! Pipelines OIDC, against fakes that check each request's shape and a
//! FakeEntra that accepts only the federated tokens it trusts.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    EXCHANGE_AUDIENCE, FakeOidc, Federation, RunOutput, Scripted, SeenAuth, assert_no_leak, jwt,
    now_secs,
};
use crate::world::{NEW_GIT, TENANT, World, field, token_of};

/// The app registration that trusts the platforms' tokens.
pub const WL_CLIENT: &str = "5e6f7a8b-1c2d-4e3f-9a0b-c1d2e3f4a5b6";
const AKS_ISSUER: &str = "https://oidc.prod-aks.azure.com/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b/";
const AKS_SUBJECT: &str = "system:serviceaccount:build:git-pusher";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const SERVICE_CONNECTION: &str = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
const JOB_TOKEN: &str = "job-token.eyJzY3AiOiJidWlsZCJ9.sig";
const GH_REQUEST_TOKEN: &str = "ghs_request-token-of-this-job-0123456789";

/// A service-account token as the kubelet projects it (`aud` is a list).
fn k8s_token(lifetime: i64) -> String {
    let now = now_secs() as i64;
    jwt::sign(&json!({
        "iss": AKS_ISSUER,
        "sub": AKS_SUBJECT,
        "aud": [EXCHANGE_AUDIENCE],
        "iat": now,
        "nbf": now.min(now + lifetime),
        "exp": now + lifetime,
        "kubernetes.io": { "namespace": "build", "serviceaccount": { "name": "git-pusher" } },
    }))
}

fn aks_federation() -> Federation {
    Federation {
        issuer: AKS_ISSUER.into(),
        subject: AKS_SUBJECT.into(),
        audience: EXCHANGE_AUDIENCE.into(),
    }
}

/// The standard world plus the federated app, allowed in `contoso`, and an
/// identity `name` whose other fields are `body(test root)`, used by every request.
fn world(
    cache: &str,
    name: &str,
    body: impl FnOnce(&Path) -> String,
    federation: Federation,
) -> World {
    let mut w = World::with_cache(cache);
    w.entra.add_federated_app(TENANT, WL_CLIENT, federation);
    w.ado.allow("contoso", WL_CLIENT);
    w.write_config(&format!(
        r#", "{name}": {{ "type": "workload-identity", "tenant": "{TENANT}", "client_id": "{WL_CLIENT}", {} }}"#,
        body(w.env.path())
    ));
    w.env.set_env("GIT_CREDENTIAL_ENTRA_IDENTITY", name);
    w
}

/// Where the `aks` identity's token file is.
fn token_file(root: &Path) -> PathBuf {
    root.join("azure/tokens/azure-identity-token")
}

/// A world whose `aks` identity reads a token file; returns the file's path.
fn aks_world(cache: &str) -> (World, PathBuf) {
    let w = world(
        cache,
        "aks",
        |root| {
            format!(
                r#""assertion": "file", "token_file": "{}""#,
                token_file(root).display()
            )
        },
        aks_federation(),
    );
    let file = token_file(w.env.path());
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    (w, file)
}

fn ok(out: &RunOutput) {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
}

fn failed(out: &RunOutput) -> &str {
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    assert!(!out.status.success());
    &out.stderr
}

/// The assertion of each token request, in order.
fn assertions(w: &World) -> Vec<String> {
    w.entra
        .token_requests()
        .iter()
        .map(|r| {
            assert_eq!(r.form["client_assertion_type"], JWT_BEARER, "{r:?}");
            assert_eq!(r.form["client_assertion"], "<redacted>");
            assert_eq!(r.form["client_id"], WL_CLIENT);
            assert_eq!(r.form["grant_type"], "client_credentials");
            assert!(!r.form.contains_key("client_secret"), "{r:?}");
            r.assertion
                .as_ref()
                .expect("an assertion")
                .value()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_rotated_token_file_sends_the_new_assertion() {
    let (w, file) = aks_world("none");
    let first = k8s_token(3600);
    std::fs::write(&file, format!("{first}\n")).expect("write the token file");
    let a = w.helper(&["get"], &w.request());
    ok(&a);
    let second = k8s_token(3600);
    std::fs::write(&file, &second).expect("rotate the token file");
    let b = w.helper(&["get"], &w.request());
    ok(&b);
    assert_eq!(assertions(&w), [first, second]);
    assert_eq!(field(&b.stdout, "username"), Some(WL_CLIENT));
}

#[test]
fn an_expired_token_file_is_refused_by_entra_with_its_meaning() {
    let (w, file) = aks_world("file");
    std::fs::write(&file, k8s_token(-60)).expect("write a stale token");
    let out = w.helper(&["get"], &w.request());
    let err = failed(&out);
    assert!(
        err.contains("identity 'aks'")
            && err.contains("AADSTS700024")
            && err.contains("valid time range")
            && err.contains("Fix:"),
        "{err}"
    );
    std::fs::remove_file(&file).expect("remove");
    let out = w.helper(&["get"], &w.request());
    let err = failed(&out);
    assert!(
        err.contains("identity 'aks'")
            && err.contains(&file.display().to_string())
            && err.contains("Fix:"),
        "{err}"
    );
}

#[test]
fn workload_tokens_are_cached_across_processes() {
    let (w, file) = aks_world("file");
    std::fs::write(&file, k8s_token(3600)).expect("write the token file");
    let first = w.helper(&["get"], &w.request());
    ok(&first);
    std::fs::remove_file(&file).expect("the file is not needed for a cached token");
    let second = w.helper(&["get"], &w.bearer_request());
    ok(&second);
    assert_eq!(token_of(&first.stdout), token_of(&second.stdout));
    assert_eq!(w.token_requests(), 1);
}

#[test]
fn thirty_two_concurrent_cold_workload_gets_make_one_request() {
    let (w, file) = aks_world("file");
    std::fs::write(&file, k8s_token(3600)).expect("write the token file");
    let mut children: Vec<_> = (0..32).map(|_| w.spawn_get()).collect();
    for c in &mut children {
        c.stdin
            .take()
            .expect("stdin")
            .write_all(w.request().as_bytes())
            .expect("write the request");
    }
    let mut tokens = Vec::new();
    for mut c in children {
        let (mut out, mut err) = (String::new(), String::new());
        c.stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        c.stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read");
        assert!(c.wait().expect("wait").success(), "{err}");
        assert_no_leak("stderr of a concurrent get", &err);
        tokens.push(token_of(&out));
    }
    assert_eq!(w.token_requests(), 1, "one token request for 32 processes");
    assert!(tokens.iter().all(|t| *t == tokens[0]));
}

#[test]
fn the_environment_identity_and_auto_use_akss_variables() {
    for identity in ["environment", "auto"] {
        let mut w = World::with_cache("none");
        w.entra
            .add_federated_app(TENANT, WL_CLIENT, aks_federation());
        let file = w.env.path().join("azure-identity-token");
        let token = k8s_token(3600);
        std::fs::write(&file, &token).expect("write the token file");
        // No identity configured under that name: `auto` is built in, and
        // `environment` is one entry; AKS's authority host has a trailing slash.
        let entry = if identity == "environment" {
            r#", "environment": { "type": "environment" }"#
        } else {
            ""
        };
        w.write_config(entry);
        for (k, v) in [
            ("AZURE_TENANT_ID", TENANT.to_string()),
            ("AZURE_CLIENT_ID", WL_CLIENT.to_string()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
            ("AZURE_AUTHORITY_HOST", format!("{}/", w.entra.url())),
            ("GIT_CREDENTIAL_ENTRA_IDENTITY", identity.to_string()),
        ] {
            w.env.set_env(k, &v);
        }
        let out = w.helper(&["get"], &w.request());
        ok(&out);
        assert_eq!(assertions(&w), [token], "{identity}");
        assert_eq!(
            field(&out.stdout, "username"),
            Some(WL_CLIENT),
            "{identity}"
        );
    }
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

#[test]
fn github_actions_requests_have_the_runners_shape() {
    let (w, oidc) = github_world("none", "");
    let out = w.helper(&["get"], &w.request());
    ok(&out);
    let seen = oidc.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert!(r.problems.is_empty(), "{:?}", r.problems);
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
    let (w, oidc) = pipelines_world("none", SERVICE_CONNECTION);
    let out = w.helper(&["get"], &w.request());
    ok(&out);
    let seen = oidc.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert!(r.problems.is_empty(), "{:?}", r.problems);
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

/// Clones, commits and pushes through real git with one token request.
fn clone_and_push(w: &World) {
    w.configure_git();
    w.env.git_ok(NEW_GIT, &["clone", &w.repo_url, "work"]);
    let work = w.env.path().join("work");
    let dir = work.to_str().expect("utf8");
    std::fs::write(Path::new(dir).join("wl.txt"), "pushed\n").expect("write");
    w.env.git_ok(NEW_GIT, &["-C", dir, "add", "wl.txt"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "commit", "-qm", "from a workload"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "push", "origin", "main"]);
    let authed = w.authed_requests();
    assert!(
        authed.iter().any(|r| r.path.contains("git-receive-pack")),
        "{authed:?}"
    );
    assert!(
        authed
            .iter()
            .all(|r| r.status == 200 && r.auth != SeenAuth::Invalid),
        "{authed:?}"
    );
    assert_eq!(
        w.token_requests(),
        1,
        "clone and push share one cached token"
    );
}

#[test]
fn clone_and_push_with_a_token_file() {
    let (w, file) = aks_world("file");
    std::fs::write(&file, k8s_token(3600)).expect("write the token file");
    clone_and_push(&w);
}

#[test]
fn clone_and_push_with_azure_pipelines_oidc() {
    let (w, oidc) = pipelines_world("file", SERVICE_CONNECTION);
    clone_and_push(&w);
    assert_eq!(oidc.requests().len(), 1);
}
