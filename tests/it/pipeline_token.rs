//! `pipeline-token`: the Azure Pipelines job token, served as it is and
//! never written anywhere (no cache entry, no lock file).

use std::path::Path;

use serde_json::json;

use crate::support::world::{TENANT, World, field, token_of};
use crate::support::{ADO_RESOURCE, derived_guid, jwt, now_secs};

/// The project build service's id, as the job token names it.
const BUILD_SERVICE: &str = "7d9e8f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a";

/// A world whose `job` identity is `pipeline-token` (reading `variable`,
/// when given) and whose job token is `token`.
fn world(variable: Option<&str>, token: &str) -> World {
    let mut w = World::new();
    let extra = match variable {
        Some(v) => format!(r#", "job": {{ "type": "pipeline-token", "variable": "{v}" }}"#),
        None => r#", "job": { "type": "pipeline-token" }"#.to_string(),
    };
    w.write_config(&extra);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_IDENTITY", "job");
    w.env.set_env("TF_BUILD", "True");
    w.env
        .set_env(variable.unwrap_or("SYSTEM_ACCESSTOKEN"), token);
    w
}

/// A job token Azure DevOps accepts for the build service, valid `secs` more.
fn job_token(secs: u64) -> (String, u64) {
    let exp = now_secs() + secs;
    let token = jwt::sign(&json!({
        "aud": ADO_RESOURCE,
        // FakeEntra's (and so FakeAdo's) id for the tenant's name.
        "tid": derived_guid(TENANT),
        "appid": BUILD_SERVICE,
        "scp": "app_token",
        "exp": exp,
    }));
    (token, exp)
}

/// Files under `dir` (recursively), none when it does not exist.
fn files_under(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let path = e.expect("a directory entry").path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path.display().to_string()]
            }
        })
        .collect()
}

#[test]
fn the_job_token_is_served_and_never_stored() {
    let (token, exp) = job_token(3000);
    let w = world(None, &token);
    let out = w.helper(&["get"], &w.bearer_request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), token);
    // The expiry is the token's own exp, less the margin.
    assert_eq!(
        field(&out.stdout, "password_expiry_utc"),
        Some((exp - 300).to_string().as_str())
    );
    let basic = w.helper(&["get"], &w.request());
    assert_eq!(field(&basic.stdout, "username"), Some(BUILD_SERVICE));
    let erase = format!("{}password={token}\n", w.request());
    assert!(w.helper(&["erase"], &erase).status.success());
    assert_eq!(w.token_requests(), 0, "Entra is not involved");
    let written: Vec<String> = ["cache", "runtime"]
        .iter()
        .flat_map(|d| files_under(&w.env.path().join(d)))
        .collect();
    assert!(
        written.is_empty(),
        "no cache entry and no lock file: {written:?}"
    );
}

#[test]
fn an_empty_job_token_variable_says_how_to_map_it() {
    for (variable, mapped) in [
        (None, "env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)"),
        (Some("ADO_TOKEN"), "env: ADO_TOKEN: $(System.AccessToken)"),
    ] {
        let w = world(variable, "");
        let out = w.helper(&["get"], &w.request());
        assert_eq!(out.stdout, "quit=1\n");
        assert!(
            out.stderr.contains("identity 'job'")
                && out.stderr.contains(mapped)
                && out
                    .stderr
                    .contains("Allow scripts to access the OAuth token"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn clone_and_push_with_the_job_token() {
    let (token, _) = job_token(3000);
    let w = world(None, &token);
    w.ado.allow("contoso", BUILD_SERVICE);
    w.clone_and_push("work");
    assert!(files_under(&w.env.path().join("cache")).is_empty());
}
