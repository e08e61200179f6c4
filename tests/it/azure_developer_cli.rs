//! The `azure-developer-cli` identity against a stand-in `azd` on PATH. The
//! stand-in refuses any arguments but the ones the test expects, and prints
//! what `azd auth token --output json` prints: `{"token","expiresOn"}` on
//! success, and its errors as azd 1.x writes them with `--output json`, a
//! JSON console message on stderr.

use std::path::Path;

use serde_json::json;

use crate::support::fake_tool::{FakeTool, USER, failed, tool_world, user_token};
use crate::support::world::{World, field, token_of};
use crate::support::{ADO_RESOURCE, RunOutput, TestEnv, entra_timestamp, now_secs};

/// Refuses arguments other than the `args` file's (one per line).
const PRELUDE: &str = r#"if [ -f "$s/args" ]; then
  want=$(cat "$s/args"); got=$(for a in "$@"; do printf '%s\n' "$a"; done)
  [ "$got" = "$want" ] || { echo "azd stand-in: unexpected arguments: $*" >&2; exit 64; }
fi"#;

fn fake_azd(root: &Path) -> FakeTool {
    let azd = FakeTool::new(
        root,
        "azd",
        &[
            "NO_COLOR",
            "AZD_SKIP_UPDATE_CHECK",
            "AZURE_DEV_COLLECT_TELEMETRY",
        ],
        PRELUDE,
    );
    azd.write("args", &expected_args(None).join("\n"));
    azd
}

fn expected_args(tenant: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = ["auth", "token", "--output", "json", "--scope"]
        .map(String::from)
        .to_vec();
    args.push(format!("{ADO_RESOURCE}/.default"));
    if let Some(t) = tenant {
        args.extend(["--tenant-id".into(), t.into()]);
    }
    args
}

/// azd's answer: the token, expiring at `expires_on` (RFC 3339).
fn answer_token(azd: &FakeTool, token: &str, expires_on: &str) {
    let out = json!({ "token": token, "expiresOn": expires_on });
    azd.answer(&format!("{out}\n"), "", 0);
}

/// azd's error as it writes it with `--output json`.
fn console_message(text: &str) -> String {
    format!(
        "{}\n",
        json!({
            "type": "consoleMessage",
            "timestamp": "2026-12-06T21:00:00.000000000Z",
            "data": { "message": format!("\nERROR: {text}\n") },
        })
    )
}

fn azd_world(extra: &str) -> (World, FakeTool) {
    tool_world("azure-developer-cli", extra, fake_azd)
}

#[test]
fn the_token_is_served_once_per_lifetime() {
    let (w, azd) = azd_world("");
    let exp = now_secs() + 3600;
    let token = user_token(&w, exp);
    answer_token(&azd, &token, &entra_timestamp(exp));
    for _ in 0..3 {
        let out = w.helper(&["get"], &w.request());
        assert!(out.status.success(), "{}", out.stderr);
        assert_eq!(token_of(&out.stdout), token);
        assert_eq!(field(&out.stdout, "username"), Some(USER));
        assert_eq!(
            field(&out.stdout, "password_expiry_utc"),
            Some((exp - 300).to_string().as_str())
        );
    }
    assert_eq!(azd.calls(), vec![expected_args(None)], "one run");
    assert_eq!(azd.seen("cwd").trim(), "/", "outside the repository");
    assert_eq!(azd.seen("env-NO_COLOR"), "1");
    assert_eq!(azd.seen("env-AZD_SKIP_UPDATE_CHECK"), "true");
    assert_eq!(azd.seen("env-AZURE_DEV_COLLECT_TELEMETRY"), "no");
}

#[test]
fn the_tenant_is_passed_and_an_offset_expiry_read() {
    let (w, azd) = azd_world(r#", "tenant": "contoso.onmicrosoft.com""#);
    azd.write(
        "args",
        &expected_args(Some("contoso.onmicrosoft.com")).join("\n"),
    );
    let exp = now_secs() + 3000;
    // The same instant, written two hours east of UTC.
    let east = entra_timestamp(exp + 7200).replace('Z', "+02:00");
    answer_token(&azd, &user_token(&w, exp), &east);
    let out = w.helper(&["get"], &w.bearer_request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        field(&out.stdout, "password_expiry_utc"),
        Some((exp - 300).to_string().as_str()),
        "{east}"
    );
}

fn fails_with(w: &World, azd: &FakeTool, stdout: &str, stderr: &str, status: i32) -> String {
    azd.answer(stdout, stderr, status);
    let out = w.helper(&["get"], &w.request());
    failed(&out);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    out.stderr.trim_end().to_string()
}

#[test]
fn each_failure_ends_in_one_line_with_its_fix() {
    let (w, azd) = azd_world("");
    let err = fails_with(
        &w,
        &azd,
        "",
        &console_message("not logged in, run `azd auth login` to login"),
        1,
    );
    assert_eq!(
        err,
        "git-credential-entra: identity 'me': Azure Developer CLI: the Azure Developer CLI is not signed in (azd said: ERROR: not logged in, run `azd auth login` to login). Fix: run azd auth login (azd auth login --check-status shows who is signed in)"
    );
    let err = fails_with(
        &w,
        &azd,
        "",
        &console_message(
            "fetching token: AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. Trace ID: t Correlation ID: c Timestamp: 2026-12-06 21:00:00Z",
        ),
        1,
    );
    assert!(
        err.contains("Entra asks for a new Azure Developer CLI sign-in: AADSTS70043")
            && err.contains("Fix: run azd auth login"),
        "{err}"
    );
    // Whatever stdout holds on failure is never shown (the leak check).
    let leaked = user_token(&w, now_secs() + 3600);
    let err = fails_with(&w, &azd, &format!("{{\"token\":\"{leaked}\"}}"), "", 0);
    assert!(
        err.contains(
            "azd auth token answered something this helper cannot use: the JSON has no expiresOn"
        ),
        "{err}"
    );

    let (w, azd) = azd_world(r#", "tenant": "fabrikam.onmicrosoft.com""#);
    azd.write(
        "args",
        &expected_args(Some("fabrikam.onmicrosoft.com")).join("\n"),
    );
    let err = fails_with(
        &w,
        &azd,
        "",
        &console_message("not logged in, run `azd auth login` to login"),
        1,
    );
    assert!(
        err.contains("has no sign-in for tenant fabrikam.onmicrosoft.com")
            && err.contains("Fix: run azd auth login --tenant-id fabrikam.onmicrosoft.com"),
        "{err}"
    );
}

#[test]
fn azd_not_installed_names_its_installer() {
    let (mut w, azd) = azd_world("");
    w.env.set_env("PATH", "/usr/bin:/bin");
    let err = fails_with(&w, &azd, "", "", 0);
    assert!(
        err.contains("the Azure Developer CLI (azd) was not found in the absolute directories of PATH")
            && err.contains("Fix: install the Azure Developer CLI (https://aka.ms/azd-install) and run azd auth login"),
        "{err}"
    );
    assert!(azd.calls().is_empty());
}

#[test]
fn clone_and_push_as_the_azure_developer_cli_user_with_no_token_in_the_trace() {
    let (mut w, azd) = azd_world("");
    let trace = w.env.path().join("trace.log");
    w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    let exp = now_secs() + 3600;
    answer_token(&azd, &user_token(&w, exp), &entra_timestamp(exp));
    w.clone_and_push("work");
    assert_eq!(azd.calls().len(), 1, "clone and push share one azd run");
    assert!(
        std::fs::read_to_string(&trace)
            .expect("a trace")
            .contains("azd auth token")
    );
}

/// A machine with no config file, the stand-in azd on PATH, and `vars` set.
fn auto_machine(vars: &[(&str, &str)]) -> (TestEnv, FakeTool, String) {
    let w = World::new();
    let mut env = TestEnv::new();
    let azd = fake_azd(env.path());
    env.planted(&azd.state);
    env.set_env("PATH", &azd.path_var());
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "none");
    for (k, v) in vars {
        env.set_env(k, v);
    }
    let exp = now_secs() + 3600;
    let token = user_token(&w, exp);
    answer_token(&azd, &token, &entra_timestamp(exp));
    (env, azd, token)
}

fn auto_get(env: &TestEnv) -> RunOutput {
    env.run(
        env.helper().args(["get", "-v"]),
        b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n",
    )
}

#[test]
fn auto_takes_azd_only_once_it_has_a_sign_in() {
    let (env, azd, token) = auto_machine(&[]);
    let out = auto_get(&env);
    assert!(!out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Azure Developer CLI (azd has no sign-in recorded"),
        "{}",
        out.stderr
    );
    assert!(azd.calls().is_empty());
    // What `azd auth login` leaves in its config directory.
    let config = env.path().join("home/.azd");
    std::fs::create_dir_all(&config).expect("azd's directory");
    std::fs::write(
        config.join("auth.json"),
        r#"{"auth":{"account":{"currentUser":{"homeAccountId":"00000000-0000-0000-0000-000000000000.72f988bf-86f1-41af-91ab-2d7cd011db47"}}}}"#,
    )
    .expect("auth.json");
    let out = auto_get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), token);
    assert!(
        out.stderr
            .contains("auto: using the Azure Developer CLI link"),
        "{}",
        out.stderr
    );
    assert_eq!(azd.calls(), vec![expected_args(None)]);
}

#[test]
fn azure_token_credentials_names_the_azure_developer_cli() {
    let (env, azd, token) =
        auto_machine(&[("AZURE_TOKEN_CREDENTIALS", "AzureDeveloperCliCredential")]);
    let out = auto_get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), token);
    assert_eq!(azd.calls().len(), 1);
}
