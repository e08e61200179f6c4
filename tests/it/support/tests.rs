//! Self-tests of the support code: the fakes and the leak check must work before any test of the
//! helper can be trusted.

use super::{
    ADO_RESOURCE, FakeAdo, FakeEntra, RunOutput, Scripted, SeenAuth, TestEnv, assert_no_leak, jwt,
    register_sensitive,
};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::Path;

pub(super) const TENANT: &str = "contoso.onmicrosoft.com";
pub(super) const APP: &str = "11111111-2222-3333-4444-555555555555";
pub(super) const SECRET: &str = "harness~secret~Qx7.v9ZkP";
const OTHER_APP: &str = "66666666-7777-8888-9999-000000000000";
const OTHER_SECRET: &str = "harness~other~secret~W3";

/// POSTs a client-credentials request over plain HTTP; returns the status and parsed body.
fn post_token(entra: &FakeEntra, tenant: &str, id: &str, secret: &str) -> (u16, Value) {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", entra.url());
    let scope = format!("{ADO_RESOURCE}/.default");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
        ("scope", scope.as_str()),
    ];
    // The crate builds reqwest without a default TLS provider; the helper installs ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client for loopback")
        .post(&url)
        .form(&form)
        .send()
        .expect("the fake Entra answers");
    let status = resp.status().as_u16();
    let body = resp.text().expect("a body");
    (
        status,
        serde_json::from_str(&body).expect("Entra answers JSON"),
    )
}

/// Fetches a token that the caller expects to succeed.
pub(super) fn fetch_token(entra: &FakeEntra, id: &str, secret: &str) -> String {
    let (status, body) = post_token(entra, TENANT, id, secret);
    assert_eq!(status, 200, "token request failed: {body}");
    body["access_token"]
        .as_str()
        .expect("access_token is a string")
        .to_owned()
}

#[test]
fn jwt_round_trips_and_rejects_tampering() {
    let token = jwt::sign(&json!({"appid": APP, "n": 1}));
    assert_eq!(
        jwt::verify(&token).expect("own token verifies")["appid"],
        APP
    );
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"appid":"evil"}"#);
    assert!(
        jwt::verify(&parts.join(".")).is_none(),
        "tampered payload must not verify"
    );
    assert!(jwt::verify("not.a.jwt").is_none());
}

#[test]
fn fake_entra_issues_rejects_and_scripts() {
    let entra = FakeEntra::start();
    entra.add_app(TENANT, APP, SECRET);
    entra.set_refresh_in(Some(1800));

    let (status, body) = post_token(&entra, TENANT, APP, SECRET);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["refresh_in"], 1800);
    let claims =
        jwt::verify(body["access_token"].as_str().expect("token")).expect("token verifies");
    assert_eq!(claims["aud"], ADO_RESOURCE);
    assert_eq!(claims["appid"], APP);
    assert_eq!(claims["tid"], entra.tenant_id(TENANT).as_str());
    assert!(claims["exp"].as_u64().expect("exp") > claims["iat"].as_u64().expect("iat"));

    let (status, body) = post_token(&entra, TENANT, APP, "wrong-secret-value");
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
    assert!(
        body["error_description"]
            .as_str()
            .expect("text")
            .starts_with("AADSTS7000215: ")
    );

    let (status, body) = post_token(&entra, "unknown-tenant", APP, SECRET);
    assert_eq!((status, body["error_codes"].clone()), (400, json!([90002])));

    entra.push_response(Scripted {
        retry_after: Some("1".into()),
        ..Scripted::status(503)
    });
    assert_eq!(post_token(&entra, TENANT, APP, SECRET).0, 503);
    entra.set_numbers_as_strings(true);
    let (status, body) = post_token(&entra, TENANT, APP, SECRET);
    assert_eq!((status, body["expires_in"].clone()), (200, json!("3599")));

    let reqs = entra.token_requests();
    let ok: Vec<bool> = reqs.iter().map(|r| r.secret_ok).collect();
    assert_eq!(ok, [true, false, false, true, true]);
    assert!(reqs.iter().all(|r| r.method == "POST"));
    assert_eq!(reqs[0].tenant, TENANT);
    assert_eq!(reqs[0].form["client_secret"], "<redacted>");
    assert_eq!(reqs[0].form["scope"], format!("{ADO_RESOURCE}/.default"));
    assert_no_leak("Debug of TokenRequest", &format!("{reqs:?}"));
    let issued = entra.issued_tokens();
    assert_eq!(
        issued.len(),
        2,
        "scripted and failed requests issue nothing"
    );
    assert_ne!(issued[0], issued[1], "jti makes every token unique");
}

#[test]
fn fake_entra_outage_and_tenant_ids() {
    let entra = FakeEntra::start();
    entra.add_app(TENANT, APP, SECRET);
    entra.set_outage(Some(Scripted::aadsts(
        500,
        "server_error",
        50000,
        "There was an error issuing a token.",
    )));
    let (status, body) = post_token(&entra, TENANT, APP, SECRET);
    assert_eq!((status, body["error_codes"].clone()), (500, json!([50000])));
    entra.set_outage(None);
    assert_eq!(post_token(&entra, TENANT, APP, SECRET).0, 200);

    let guid = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
    assert_eq!(entra.tenant_id(guid), guid.to_ascii_lowercase());
    assert_eq!(entra.tenant_id(TENANT), entra.tenant_id(TENANT));
    assert_ne!(entra.tenant_id(TENANT), entra.tenant_id("fabrikam.com"));
}

/// The git binaries to exercise: PATH's git, plus the distro's older one when installed.
fn gits() -> Vec<&'static str> {
    let mut v = vec!["git"];
    if Path::new("/usr/bin/git").exists() {
        v.push("/usr/bin/git");
    }
    v
}

/// `git -c credential.helper= -c http.extraHeader=<auth> <args>` in the env root.
fn git_with(env: &TestEnv, git: &str, auth: Option<&str>, args: &[&str]) -> RunOutput {
    let mut cmd = env.git(git);
    cmd.args(["-c", "credential.helper="]);
    if let Some(a) = auth {
        cmd.args(["-c", &format!("http.extraHeader=Authorization: {a}")]);
    }
    env.run(cmd.args(args), b"")
}

#[test]
fn fake_ado_serves_git_behind_entra_tokens() {
    for git in gits() {
        let env = TestEnv::new();
        let entra = FakeEntra::start();
        entra.add_app(TENANT, APP, SECRET);
        entra.add_app(TENANT, OTHER_APP, OTHER_SECRET);
        let ado = FakeAdo::start(&env.path().join("srv"), &entra.tenant_id(TENANT));
        ado.allow("org", APP);
        let url = ado.create_repo("org", "proj", "repo");

        let anon = git_with(&env, git, None, &["clone", "-q", &url, "anon"]);
        assert!(!anon.status.success(), "{git}: anonymous clone must fail");
        let first = ado
            .requests()
            .into_iter()
            .next()
            .expect("a request was logged");
        assert_eq!((first.auth, first.status), (SeenAuth::None, 401));

        let bearer = format!("Bearer {}", fetch_token(&entra, APP, SECRET));
        let out = git_with(&env, git, Some(&bearer), &["clone", "-q", &url, "one"]);
        assert!(
            out.status.success(),
            "{git}: bearer clone failed: {}",
            out.stderr
        );
        std::fs::write(env.path().join("one/pushed.txt"), "hi\n").expect("write a file");
        let one = env.path().join("one");
        let one = one.to_str().expect("UTF-8 path");
        env.git_ok(git, &["-C", one, "add", "pushed.txt"]);
        env.git_ok(
            git,
            &[
                "-C",
                one,
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "commit",
                "-q",
                "-m",
                "push",
            ],
        );
        let out = git_with(
            &env,
            git,
            Some(&bearer),
            &["-C", one, "push", "-q", "origin", "main"],
        );
        assert!(out.status.success(), "{git}: push failed: {}", out.stderr);

        let basic_raw = format!("anything:{}", fetch_token(&entra, APP, SECRET));
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(basic_raw)
        );
        let out = git_with(&env, git, Some(&basic), &["clone", "-q", &url, "two"]);
        assert!(
            out.status.success(),
            "{git}: basic clone failed: {}",
            out.stderr
        );
        assert!(
            env.path().join("two/pushed.txt").is_file(),
            "{git}: second clone lacks the push"
        );
        let basic_seen = ado.requests().iter().any(|r| {
            r.auth
                == SeenAuth::Basic {
                    username: "anything".into(),
                }
                && r.status == 200
        });
        assert!(basic_seen, "{git}: Basic requests were not logged");

        let stranger = format!("Bearer {}", fetch_token(&entra, OTHER_APP, OTHER_SECRET));
        let before = ado.requests().len();
        let out = git_with(&env, git, Some(&stranger), &["clone", "-q", &url, "three"]);
        assert!(
            !out.status.success(),
            "{git}: a principal not allowed must be refused"
        );
        let refused = ado.requests()[before..]
            .iter()
            .all(|r| r.status == 401 && r.auth == SeenAuth::Bearer);
        assert!(
            refused,
            "{git}: expected only 401s: {:?}",
            &ado.requests()[before..]
        );

        let out = git_with(&env, git, Some("Bearer not-a-token"), &["ls-remote", &url]);
        assert!(!out.status.success());
        assert_eq!(
            ado.requests().last().expect("logged").auth,
            SeenAuth::Invalid
        );
        let missing = format!("{}/org/proj/_git/nope", ado.base_url());
        let out = git_with(&env, git, Some(&bearer), &["ls-remote", &missing]);
        assert!(!out.status.success(), "{git}: a missing repo must fail");
        assert_eq!(ado.requests().last().expect("logged").status, 404);
    }
}

#[test]
fn leak_check_catches_registered_secrets_without_printing_them() {
    let secret = format!("leak-canary-{}", super::random_guid());
    register_sensitive(&secret);
    assert_no_leak("clean text", "nothing to see here");
    let text = format!("oops: {secret} in output");
    let err = std::panic::catch_unwind(|| assert_no_leak("the output", &text))
        .expect_err("a registered secret must be caught");
    let msg = err
        .downcast_ref::<String>()
        .expect("panic message is a String");
    assert!(
        msg.contains("the output"),
        "message names the source: {msg}"
    );
    assert!(msg.contains("leak"), "message says what happened: {msg}");
    assert!(!msg.contains(&secret), "message must not repeat the secret");
}

/// Writes a shell credential helper into the env that logs its input to `helper.log` and answers
/// with the token in `token`: as Bearer via `authtype` when git offers it and `use-bearer` exists,
/// else as a Basic password.
fn write_shell_helper(env: &TestEnv) -> String {
    let dir = env.path().to_str().expect("UTF-8 path");
    let script = format!(
        r#"#!/bin/sh
input=$(cat)
printf '%s\n%s\n--\n' "$1" "$input" >> '{dir}/helper.log'
[ "$1" = get ] || exit 0
if [ -f '{dir}/use-bearer' ] && printf '%s\n' "$input" | grep -qx 'capability\[\]=authtype'; then
  printf 'capability[]=authtype\nauthtype=Bearer\ncredential=%s\n' "$(cat '{dir}/token')"
else
  printf 'username=x\npassword=%s\n' "$(cat '{dir}/token')"
fi
"#
    );
    let path = env.path().join("helper.sh");
    std::fs::write(&path, script).expect("write helper.sh");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod helper.sh");
    path.to_str().expect("UTF-8 path").to_owned()
}

#[test]
fn fake_ado_challenge_drives_a_credential_helper() {
    for git in gits() {
        let env = TestEnv::new();
        let entra = FakeEntra::start();
        entra.add_app(TENANT, APP, SECRET);
        let tid = entra.tenant_id(TENANT);
        let ado = FakeAdo::start(&env.path().join("srv"), &tid);
        ado.allow("org", APP);
        let url = ado.create_repo("org", "proj", "repo");
        let helper = write_shell_helper(&env);
        // The stand-in helper's answer and its log of what git gave it hold the token.
        env.planted(&env.path().join("helper.log"));
        env.planted(&env.path().join("token"));
        let token = fetch_token(&entra, APP, SECRET);
        std::fs::write(env.path().join("token"), &token).expect("write token");

        let helper_cfg = format!("credential.helper={helper}");
        let clone = |dir: &str| {
            env.run(
                env.git(git).args([
                    "-c",
                    "credential.helper=",
                    "-c",
                    &helper_cfg,
                    "clone",
                    "-q",
                    &url,
                    dir,
                ]),
                b"",
            )
        };
        let out = clone("basic");
        assert!(
            out.status.success(),
            "{git}: clone via helper failed: {}",
            out.stderr
        );
        let seen: Vec<(SeenAuth, u16)> = ado
            .requests()
            .into_iter()
            .map(|r| (r.auth, r.status))
            .collect();
        assert_eq!(
            seen[0],
            (SeenAuth::None, 401),
            "{git}: git probes anonymously first"
        );
        // libcurl re-probes anonymously before choosing a scheme, so look past further 401s.
        let basic_ok = (
            SeenAuth::Basic {
                username: "x".into(),
            },
            200,
        );
        assert!(
            seen.contains(&basic_ok),
            "{git}: no Basic success in {seen:?}"
        );
        let log = std::fs::read_to_string(env.path().join("helper.log")).expect("helper ran");
        assert!(log.starts_with("get\n"), "{git}: helper log: {log}");
        assert!(
            log.contains("\nstore\n"),
            "{git}: git stores a credential that worked"
        );

        // wwwauth[] (git >= 2.41) and authtype/credential (git >= 2.46) exist only in newer gits.
        if git == "git" {
            let want = format!(
                "wwwauth[]=Bearer authorization_uri=https://login.microsoftonline.com/{tid}"
            );
            assert!(log.contains(&want), "{git}: challenge not passed on: {log}");
            std::fs::write(env.path().join("use-bearer"), "").expect("switch helper to Bearer");
            let before = ado.requests().len();
            let out = clone("bearer");
            assert!(
                out.status.success(),
                "{git}: Bearer clone via helper failed: {}",
                out.stderr
            );
            let after = ado.requests();
            assert!(
                after[before..]
                    .iter()
                    .any(|r| r.auth == SeenAuth::Bearer && r.status == 200)
            );
        }
    }
}

#[test]
fn fake_servers_accept_connections_with_nagle_off() {
    // Every fake is served from this listener; its connections must inherit TCP_NODELAY,
    // or a response written in two parts waits for the client's delayed ACK.
    use std::os::fd::AsRawFd as _;
    let listener = super::nodelay_listener();
    let _client = std::net::TcpStream::connect(listener.local_addr().expect("an address"))
        .expect("connect to the listener");
    let (accepted, _) = listener.accept().expect("accept the connection");
    let mut on: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a live socket, and pointers to an int and its size.
    let r = unsafe {
        libc::getsockopt(
            accepted.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&raw mut on).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "getsockopt: {}", std::io::Error::last_os_error());
    assert_eq!(on, 1, "an accepted connection has Nagle's algorithm on");
}
