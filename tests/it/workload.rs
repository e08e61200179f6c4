//! Workload identities through the real binary with a Kubernetes token
//! file (configured, or AKS's AZURE_* variables), against a FakeEntra that
//! accepts only the federated tokens it trusts; and the helpers the CI
//! platforms' tests (`ci_oidc.rs`) share.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::world::{TENANT, World, field, token_of};
use crate::support::{EXCHANGE_AUDIENCE, Federation, RunOutput, jwt, now_secs};

/// The app registration that trusts the platforms' tokens.
pub const WL_CLIENT: &str = "5e6f7a8b-1c2d-4e3f-9a0b-c1d2e3f4a5b6";
const AKS_ISSUER: &str = "https://oidc.prod-aks.azure.com/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b/";
const AKS_SUBJECT: &str = "system:serviceaccount:build:git-pusher";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

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

pub(crate) fn aks_federation() -> Federation {
    Federation {
        issuer: AKS_ISSUER.into(),
        subject: AKS_SUBJECT.into(),
        audience: EXCHANGE_AUDIENCE.into(),
    }
}

/// The standard world plus the federated app, allowed in `contoso`, and an
/// identity `name` whose other fields are `body(test root)`, used by every request.
pub(crate) fn world(
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
    w.env.planted(&file);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    (w, file)
}

pub(crate) fn ok(out: &RunOutput) {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
}

pub(crate) fn failed(out: &RunOutput) -> &str {
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    assert!(!out.status.success());
    &out.stderr
}

/// The assertion of each token request, in order.
pub(crate) fn assertions(w: &World) -> Vec<String> {
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
    let mut tokens = Vec::new();
    for (code, out, err) in w.concurrent_gets(32) {
        assert_eq!(code, Some(0), "{err}");
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
        w.env.planted(&file);
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

/// Clones, commits and pushes through real git with one token request.
pub(crate) fn clone_and_push(w: &World) {
    w.clone_and_push("work");
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
