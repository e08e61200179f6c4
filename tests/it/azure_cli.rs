//! The `azure-cli` identity against a fake `az` on PATH (`support::fake_tool`):
//! a shell script that records its arguments, working directory and
//! environment, and answers what the test wrote for it (JSON on stdout, an
//! error on stderr, an exit status, or a hang).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::fake_tool::{FakeTool, USER, failed, tool_world, user_token};
use crate::support::world::{TENANT, World, field, token_of};
use crate::support::{ADO_RESOURCE, RunOutput, TestEnv, entra_timestamp, now_secs};

/// The helper's limit on one `az` run (`identity::azure_cli::TIMEOUT`).
const AZ_TIMEOUT: Duration = Duration::from_secs(15);

/// The stand-in `az`, recording whether it was asked for no colours.
type FakeAz = FakeTool;

fn fake_az(root: &Path) -> FakeAz {
    FakeTool::new(root, "az", &["AZURE_CORE_NO_COLOR"], "")
}

/// A token answer in the current CLI's shape, expiring at `exp`.
fn answer_token(az: &FakeAz, token: &str, exp: u64) {
    let out = json!({
        "accessToken": token,
        "expiresOn": "2000-01-01 00:00:00.000000",
        "expires_on": exp,
        "subscription": "00000000-1111-2222-3333-444444444444",
        "tenant": "t",
        "tokenType": "Bearer",
    });
    az.answer(&out.to_string(), "", 0);
}

/// The standard world with `contoso` routed to an `azure-cli` identity
/// (`extra` is spliced into it, e.g. `, "tenant": "…"`) and the fake az on PATH.
fn cli_world(extra: &str) -> (World, FakeAz) {
    tool_world("azure-cli", extra, fake_az)
}

fn expected_args(tenant: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "account",
        "get-access-token",
        "--resource",
        ADO_RESOURCE,
        "--output",
        "json",
    ]
    .map(String::from)
    .to_vec();
    if let Some(t) = tenant {
        args.extend(["--tenant".into(), t.into()]);
    }
    args
}

#[test]
fn the_cli_token_is_served_once_per_hour_not_once_per_get() {
    let (w, az) = cli_world("");
    let exp = now_secs() + 3600;
    let token = user_token(&w, exp);
    answer_token(&az, &token, exp);
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
    assert_eq!(
        az.calls(),
        vec![expected_args(None)],
        "one run, these arguments"
    );
    assert_eq!(az.seen("cwd").trim(), "/", "az runs outside the repository");
    assert_eq!(az.seen("env-AZURE_CORE_NO_COLOR"), "true");
}

#[test]
fn expires_on_may_be_a_string_and_the_tenant_is_passed() {
    let (w, az) = cli_world(r#", "tenant": "contoso.onmicrosoft.com""#);
    let exp = now_secs() + 3000;
    let token = user_token(&w, exp);
    let out = json!({ "accessToken": token, "expires_on": exp.to_string(), "tokenType": "Bearer" });
    az.answer(&out.to_string(), "", 0);
    let out = w.helper(&["get"], &w.bearer_request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(field(&out.stdout, "credential"), Some(token.as_str()));
    assert_eq!(
        field(&out.stdout, "password_expiry_utc"),
        Some((exp - 300).to_string().as_str())
    );
    assert_eq!(
        az.calls(),
        vec![expected_args(Some("contoso.onmicrosoft.com"))]
    );
}

#[test]
fn an_old_clis_expires_on_is_read_in_local_time() {
    let (mut w, az) = cli_world("");
    // A POSIX zone nine hours east of UTC, known without a zone database.
    w.env.set_env("TZ", "XYZ-9");
    let exp = now_secs() + 3600;
    let local = entra_timestamp(exp + 9 * 3600);
    let local = format!("{}.000000", local.trim_end_matches('Z'));
    let token = user_token(&w, exp);
    let out = json!({ "accessToken": token, "expiresOn": local, "tokenType": "Bearer" });
    az.answer(&out.to_string(), "", 0);
    let out = w.helper(&["get"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        field(&out.stdout, "password_expiry_utc"),
        Some((exp - 300).to_string().as_str()),
        "expiresOn {local} in UTC+9"
    );
}

#[test]
fn not_signed_in_names_az_login_and_the_tenant() {
    let (w, az) = cli_world("");
    let exp = now_secs() + 3600;
    // Whatever stdout holds on failure is never shown (the leak check).
    let leaked = user_token(&w, exp);
    az.answer(
        &json!({ "accessToken": leaked }).to_string(),
        "WARNING: a warning\nERROR: Please run 'az login' to setup account.\n",
        1,
    );
    let out = w.helper(&["get"], &w.request());
    failed(&out);
    assert!(
        out.stderr
            .contains("identity 'me': Azure CLI: the Azure CLI is not signed in")
            && out
                .stderr
                .contains("ERROR: Please run 'az login' to setup account.")
            && out.stderr.trim_end().ends_with("Fix: run az login"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);

    let (w, az) = cli_world(r#", "tenant": "fabrikam.onmicrosoft.com""#);
    az.answer("", "ERROR: Please run 'az login' to setup account.\n", 1);
    let out = w.helper(&["get"], &w.request());
    failed(&out);
    assert!(
        out.stderr
            .contains("no sign-in for tenant fabrikam.onmicrosoft.com")
            && out
                .stderr
                .trim_end()
                .ends_with("Fix: run az login --tenant fabrikam.onmicrosoft.com"),
        "{}",
        out.stderr
    );

    // Entra wants a new sign-in (MFA): az's own command, for the tenant.
    az.answer(
        "",
        "ERROR: AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '499b84ac-1321-427f-aa17-267ca6975798'. Trace ID: 0c9e1b1a-7d3e-4f8e-9a43-4bf1a1e7a200 Correlation ID: 5b1c8a7e-2f11-4c1b-9d0e-8a3f0e6b7c11 Timestamp: 2026-03-02 10:11:12Z\nInteractive authentication is needed. Please run:\naz login --scope 499b84ac-1321-427f-aa17-267ca6975798/.default\n",
        1,
    );
    let out = w.helper(&["get"], &w.request());
    failed(&out);
    assert!(
        out.stderr.contains("AADSTS50076 (multi-factor authentication is required)")
            && !out.stderr.contains("no sign-in for tenant")
            && out.stderr.trim_end().ends_with(
                "Fix: run az login --scope 499b84ac-1321-427f-aa17-267ca6975798/.default --tenant fabrikam.onmicrosoft.com"
            ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);

    // Other failures show az's text, without its terminal escapes.
    az.answer("", "\x1b[31mERROR: the proxy said no\x1b[0m\n", 2);
    let out = w.helper(&["get"], &w.request());
    failed(&out);
    assert!(
        out.stderr.contains("the proxy said no") && !out.stderr.contains('\x1b'),
        "{}",
        out.stderr
    );
}

#[test]
fn an_entra_refusal_through_az_is_reported_as_one_not_as_signed_out() {
    let (w, az) = cli_world(r#", "tenant": "contoso.onmicrosoft.com""#);
    // What az 2.9x prints when Entra refuses its request: Entra's text,
    // then its standard advice to sign in again.
    az.answer(
        "",
        "ERROR: AADSTS700016: Application with identifier '04b07795-8ddb-461a-bbee-02f9e1bf7b46' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant. Trace ID: 3f1e4a52-08d6-4b9c-a2c1-6f0d2b9e7d00 Correlation ID: 9a7c2d1e-5b3f-4e8a-b6c0-1d2e3f4a5b6c Timestamp: 2026-03-02 10:11:12Z\nInteractive authentication is needed. Please run:\naz logout\naz login --tenant \"contoso.onmicrosoft.com\"\n",
        1,
    );
    let out = w.helper(&["get"], &w.request());
    failed(&out);
    let err = out.stderr.trim_end();
    assert!(
        err.contains("identity 'me': Azure CLI: Entra refused the token request with AADSTS700016 (application not found in the tenant): Application with identifier")
            && err.contains("the app must be registered in, or consented to by, that tenant")
            && err.ends_with("(correlation id 9a7c2d1e-5b3f-4e8a-b6c0-1d2e3f4a5b6c)"),
        "{err}"
    );
    assert!(
        !err.contains("no sign-in") && !err.contains("not signed in"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn az_not_installed_and_never_taken_from_the_repository() {
    let (mut w, az) = cli_world("");
    // An `az` in a relative PATH entry, as a repository could ship one.
    let repo = w.env.path().join("repo");
    std::fs::create_dir_all(repo.join("bin")).expect("repo/bin");
    let planted = repo.join("bin/az");
    let marker = w.env.path().join("planted-ran");
    std::fs::write(
        &planted,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .expect("write planted az");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    w.env.set_env("PATH", "bin::.");
    let mut cmd = w.env.helper();
    cmd.arg("get").current_dir(&repo);
    let out = w.env.run(&mut cmd, w.request().as_bytes());
    failed(&out);
    assert!(
        out.stderr.contains("Azure CLI (az) was not found")
            && out.stderr.contains(
                "Fix: install the Azure CLI (https://aka.ms/installazurecli) and run az login, or configure another identity"
            ),
        "{}",
        out.stderr
    );
    assert!(!marker.exists(), "the repository's az ran");
    assert!(az.calls().is_empty());
}

#[test]
fn a_hanging_az_is_stopped_at_the_timeout() {
    let (w, az) = cli_world("");
    std::fs::write(az.state.join("hang"), "").expect("hang flag");
    let started = Instant::now();
    let out = w.helper(&["get"], &w.request());
    let took = started.elapsed();
    failed(&out);
    assert!(
        took >= AZ_TIMEOUT && took < AZ_TIMEOUT + Duration::from_secs(5),
        "{took:?}"
    );
    assert!(
        out.stderr
            .contains("did not finish within 15 s and was stopped"),
        "{}",
        out.stderr
    );
    // What az started went with it.
    let sleeper = az.seen("sleeper");
    let sleeper = sleeper.trim();
    assert!(!sleeper.is_empty());
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(40));
        !Path::new(&format!("/proc/{sleeper}")).exists()
    });
    assert!(gone, "az's child {sleeper} still runs");
}

#[test]
fn clone_and_push_as_the_azure_cli_user() {
    let (w, az) = cli_world("");
    let exp = now_secs() + 3600;
    answer_token(&az, &user_token(&w, exp), exp);
    w.clone_and_push("work");
    assert_eq!(az.calls().len(), 1, "clone and push share one az run");
}

/// A machine with no config file, the fake az on PATH answering a token
/// for [`USER`], and `vars` set.
struct AutoMachine {
    env: TestEnv,
    az: FakeAz,
    token: String,
}

impl AutoMachine {
    fn new(vars: &[(&str, &str)]) -> AutoMachine {
        let w = World::new();
        let mut env = TestEnv::new();
        let az = fake_az(env.path());
        // The fake az's canned answers hold the token it hands out.
        env.planted(&az.state);
        env.set_env("PATH", &az.path_var());
        env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "none");
        for (k, v) in vars {
            env.set_env(k, v);
        }
        let exp = now_secs() + 3600;
        let token = user_token(&w, exp);
        answer_token(&az, &token, exp);
        AutoMachine { env, az, token }
    }

    /// A `get` through `auto`, with decisions traced.
    fn get(&self) -> RunOutput {
        self.env.run(
            self.env.helper().args(["get", "-v"]),
            b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n",
        )
    }
}

#[test]
fn auto_uses_the_azure_cli_when_az_is_on_path() {
    let m = AutoMachine::new(&[]);
    let out = m.get();
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), m.token);
    assert!(
        out.stderr.contains("auto: using the Azure CLI link"),
        "{}",
        out.stderr
    );
    assert_eq!(m.az.calls(), vec![expected_args(None)]);
}

#[test]
fn variables_only_other_links_use_do_not_fail_auto_on_the_azure_cli() {
    let cases: [&[(&str, &str)]; 2] = [
        // Not https, a tenant that is not one, a client id that is not a
        // GUID: only the environment, workload identity and sign-in links
        // read the authority, and none of them has all it needs.
        &[
            ("AZURE_AUTHORITY_HOST", "http://login.example"),
            ("AZURE_TENANT_ID", "contoso/../evil"),
            ("AZURE_CLIENT_ID", "my-app"),
        ],
        // A relative certificate path, but `dev` leaves the environment out.
        &[
            ("AZURE_TOKEN_CREDENTIALS", "dev"),
            ("AZURE_AUTHORITY_HOST", "ftp://login.example"),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", "00001111-aaaa-2222-bbbb-3333cccc4444"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "app.pfx"),
        ],
    ];
    for vars in cases {
        let m = AutoMachine::new(vars);
        let out = m.get();
        assert!(out.status.success(), "{vars:?}: {}", out.stderr);
        assert_eq!(token_of(&out.stdout), m.token, "{vars:?}");
        assert!(
            out.stderr.contains("auto: using the Azure CLI link"),
            "{vars:?}: {}",
            out.stderr
        );
    }
}
