//! Behind a corporate network: Entra and Azure DevOps reached by their public
//! names, only through an HTTP proxy, with certificates of a corporate CA
//! (support/tls_world.rs), the helper told about both only as git is (its
//! `http.*` config and variables). Nothing here may resolve a name: a client
//! that skipped the proxy would fail (or leave the machine), not pass.

use crate::support::FakeOidc;
use crate::support::proxy::TestProxy;
use crate::support::tls::TlsFront;
use crate::support::tls_world::{ADO_HOST, LOGIN_HOST, TlsWorld};
use crate::support::world::{CLIENT, NEW_GIT, TENANT};
use crate::support::{RunOutput, assert_no_leak};
use crate::workload::WL_CLIENT;

/// What git sends the helper for the test repository.
const REQUEST: &str = "protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";

/// git configured with the helper, and a trace file to scan for leaks.
/// The environment's proxy is a closed port: a helper that ignored git's
/// proxy setting would fail there instead of asking DNS for a public name.
pub(crate) fn start(t: &mut TlsWorld) {
    t.w.env.set_env("HTTPS_PROXY", "http://127.0.0.1:9");
    let trace = t.w.env.path().join("trace.log");
    t.w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    t.w.configure_git();
}

pub(crate) fn git_config(t: &TlsWorld, key: &str, value: &str) {
    t.w.env.git_ok(NEW_GIT, &["config", "--global", key, value]);
}

/// A git setting in git's environment form of `-c` (no file holds it).
fn git_env_config(t: &mut TlsWorld, key: &str, value: &str) {
    t.w.env.set_env("GIT_CONFIG_COUNT", "1");
    t.w.env.set_env("GIT_CONFIG_KEY_0", key);
    t.w.env.set_env("GIT_CONFIG_VALUE_0", value);
}

/// Clones, commits and pushes through real git; the helper asked Entra once,
/// both names went through the proxy, nothing leaked.
pub(crate) fn clone_and_push(t: &TlsWorld) {
    t.w.env
        .git_ok(NEW_GIT, &["clone", "-q", &t.repo_url, "work"]);
    let work = t.w.env.path().join("work");
    std::fs::write(work.join("f.txt"), "pushed\n").expect("write");
    let work = work.to_str().expect("utf8");
    t.w.env.git_ok(NEW_GIT, &["-C", work, "add", "f.txt"]);
    t.w.env
        .git_ok(NEW_GIT, &["-C", work, "commit", "-qm", "pushed"]);
    t.w.env
        .git_ok(NEW_GIT, &["-C", work, "push", "-q", "origin", "HEAD"]);
    assert_eq!(t.w.token_requests(), 1, "one token, asked for by name");
    let tunnels = t.proxy.tunnels();
    for name in [ADO_HOST, LOGIN_HOST] {
        let target = format!("{name}:443");
        assert!(
            tunnels.contains(&target),
            "no CONNECT to {target}: {tunnels:?}"
        );
    }
    assert_eq!(t.entra_front.handshake_failures(), 0);
    assert!(t.entra_front.sni_names().iter().all(|n| n == LOGIN_HOST));
    let authed = t.w.authed_requests();
    assert!(
        authed
            .iter()
            .any(|r| r.path.contains("git-receive-pack") && r.status == 200),
        "{authed:?}"
    );
    let traced = std::fs::read_to_string(t.w.env.path().join("trace.log")).unwrap_or_default();
    assert_no_leak("trace file", &traced);
    t.w.env.assert_files_clean();
}

/// The helper's `get`, as git would run it for the test repository.
fn get(t: &TlsWorld) -> RunOutput {
    t.w.helper(&["get"], REQUEST)
}

#[test]
fn proxy_and_ca_from_git_config_for_clone_and_push() {
    let mut t = TlsWorld::new();
    start(&mut t);
    git_config(&t, "http.proxy", &t.proxy_url());
    git_config(&t, "http.sslCAInfo", &t.ca_pem());
    clone_and_push(&t);
}

#[test]
fn a_ca_scoped_to_the_remote_serves_the_token_request_too() {
    let mut t = TlsWorld::new();
    start(&mut t);
    git_config(&t, "http.proxy", &t.proxy_url());
    git_config(&t, "http.https://dev.azure.com/.sslCAInfo", &t.ca_pem());
    // A scope that is not the remote's must not apply.
    git_config(
        &t,
        "http.https://elsewhere.example/.sslCAInfo",
        &t.wrong_ca_pem(),
    );
    clone_and_push(&t);
}

#[test]
fn git_ssl_cainfo_wins_over_the_config_as_in_git() {
    let mut t = TlsWorld::new();
    start(&mut t);
    git_config(&t, "http.proxy", &t.proxy_url());
    git_config(&t, "http.sslCAInfo", &t.wrong_ca_pem());
    let ca = t.ca_pem();
    t.w.env.set_env("GIT_SSL_CAINFO", &ca);
    clone_and_push(&t);
}

#[test]
fn a_proxy_scoped_to_another_host_does_not_apply() {
    let mut t = TlsWorld::new();
    start(&mut t);
    let decoy = TestProxy::start();
    git_config(&t, "http.https://elsewhere.example/.proxy", &decoy.url());
    git_config(&t, "http.sslCAInfo", &t.ca_pem());
    // The proxy that applies comes from the environment, as for git.
    let proxy = t.proxy_url();
    t.w.env.set_env("HTTPS_PROXY", &proxy);
    clone_and_push(&t);
    assert!(decoy.seen().is_empty(), "{:?}", decoy.seen());
}

#[test]
fn a_proxy_with_credentials_in_its_url() {
    let password = "p@ss:w/rd-corp-proxy";
    let mut t = TlsWorld::with_proxy_credentials("dom\\jo", password);
    start(&mut t);
    let proxy = t
        .proxy_url()
        .replace("http://", "http://dom%5Cjo:p%40ss%3Aw%2Frd-corp-proxy@");
    git_env_config(&mut t, "http.proxy", &proxy);
    let ca = t.ca_pem();
    t.w.env.set_env("GIT_SSL_CAINFO", &ca);
    clone_and_push(&t);
    let login = format!("{LOGIN_HOST}:443");
    let seen = t.proxy.seen();
    assert!(
        seen.iter()
            .any(|c| c.target == login && c.authorized && c.status == 200),
        "the helper's CONNECT carried the credentials: {seen:?}"
    );
}

#[test]
fn a_proxy_that_wants_credentials_gets_one_clear_message() {
    let mut t = TlsWorld::with_proxy_credentials("jo", "s3cret-proxy-pass");
    start(&mut t);
    git_config(&t, "http.proxy", &t.proxy_url());
    git_config(&t, "http.sslCAInfo", &t.ca_pem());
    let out = get(&t);
    assert!(
        !out.status.success() || out.stdout.contains("quit=1"),
        "{}",
        out.stdout
    );
    let err = out.stderr.trim();
    assert_eq!(err.lines().count(), 1, "one message: {err}");
    for want in [
        "407",
        &t.proxy_url(),
        "git config http.proxy",
        "USER:PASSWORD@",
        "before it connects to login.microsoftonline.com:",
    ] {
        assert!(err.contains(want), "{want} missing: {err}");
    }
    assert_eq!(t.w.token_requests(), 0);
    let seen = t.proxy.seen();
    assert!(
        seen.iter().all(|c| c.status == 407 && !c.authorized),
        "{seen:?}"
    );
}

#[test]
fn a_wrong_ca_is_named_with_the_git_setting_to_use() {
    let mut t = TlsWorld::new();
    start(&mut t);
    git_config(&t, "http.proxy", &t.proxy_url());
    git_config(&t, "http.sslCAInfo", &t.wrong_ca_pem());
    // Turning verification off for git changes nothing for the token.
    git_config(&t, "http.sslVerify", "false");
    let out = get(&t);
    let err = out.stderr.trim();
    assert_eq!(err.lines().count(), 1, "one message: {err}");
    for want in [
        "TLS certificate",
        "not trusted",
        "UnknownIssuer",
        "git config --global http.sslCAInfo",
        "http.sslVerify=false is not honoured",
        "trusted now: the system's CA certificates and",
        "(from git config http.sslcainfo)",
    ] {
        assert!(err.contains(want), "{want} missing: {err}");
    }
    assert_eq!(t.w.token_requests(), 0, "nothing was sent to Entra");
    assert!(t.entra_front.handshake_failures() >= 1);
}

#[test]
fn no_proxy_sends_a_host_direct() {
    let mut t = TlsWorld::new();
    start(&mut t);
    // Entra also answers at a loopback address (the only place a direct
    // connection may go here), with a certificate for that address.
    let direct = TlsFront::start(t.ca.server_config(&["127.0.0.1"]), t.entra_backend());
    let authority = format!("https://{}", direct.addr());
    t.w.env.write_config(&format!(
        r#"{{
  "identities": {{
    "ci": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_env": "CI_SECRET" }}
  }},
  "routes": [ {{ "url": "https://{ADO_HOST}/contoso", "identity": "ci" }} ],
  "authority_host": "{authority}"
}}"#
    ));
    t.w.env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "none");
    git_config(&t, "http.proxy", &t.proxy_url());
    git_config(&t, "http.sslCAInfo", &t.ca_pem());
    let target = direct.addr().to_string();
    let through = |t: &TlsWorld| t.proxy.tunnels().iter().filter(|c| **c == target).count();

    // Without NO_PROXY even a loopback https authority goes through the proxy, as with curl.
    let out = get(&t);
    assert!(out.stdout.contains("password="), "{}", out.stderr);
    assert_eq!(through(&t), 1, "{:?}", t.proxy.seen());

    t.w.env.set_env("NO_PROXY", "corp.example,127.0.0.1");
    let out = get(&t);
    assert!(out.stdout.contains("password="), "{}", out.stderr);
    assert_eq!(through(&t), 1, "NO_PROXY: not through the proxy again");
    assert_eq!(t.w.token_requests(), 2);
}

#[test]
fn a_github_actions_job_behind_the_proxy_asks_for_its_oidc_token_through_it() {
    const OIDC_HOST: &str = "pipelines.actions.githubusercontent.com";
    let mut t = TlsWorld::new();
    start(&mut t);
    let oidc = FakeOidc::github("ghs_request-token-behind-the-proxy-0123");
    t.w.entra
        .add_federated_app(TENANT, WL_CLIENT, oidc.federation());
    t.w.ado.allow("contoso", WL_CLIENT);
    let url = oidc.request_url();
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_once('/').expect("a path");
    let front = TlsFront::start(
        t.ca.server_config(&[OIDC_HOST]),
        addr.parse().expect("IP:PORT"),
    );
    t.proxy.route(&format!("{OIDC_HOST}:443"), front.addr());
    for (k, v) in oidc.job_env() {
        let v = v.replace(&format!("http://{addr}"), &format!("https://{OIDC_HOST}"));
        t.w.env.set_env(k, &v);
    }
    t.w.env.write_config(&format!(
        r#"{{
  "identities": {{
    "gh": {{ "type": "workload-identity", "tenant": "{TENANT}", "client_id": "{WL_CLIENT}", "assertion": "github-actions" }}
  }},
  "routes": [ {{ "url": "https://{ADO_HOST}/contoso", "identity": "gh" }} ]
}}"#
    ));
    git_config(&t, "http.proxy", &t.proxy_url());
    git_config(&t, "http.sslCAInfo", &t.ca_pem());
    let out = get(&t);
    assert!(out.stdout.contains("password="), "{}", out.stderr);
    assert_eq!(oidc.requests().len(), 1, "{path}");
    let tunnels = t.proxy.tunnels();
    for name in [OIDC_HOST, LOGIN_HOST] {
        assert!(tunnels.contains(&format!("{name}:443")), "{tunnels:?}");
    }
    assert_eq!(front.sni_names(), [OIDC_HOST]);
}

#[test]
fn a_ca_named_by_the_repositorys_own_config_is_not_trusted() {
    let mut t = TlsWorld::new();
    start(&mut t);
    git_config(&t, "http.proxy", &t.proxy_url());
    // A repository nobody vetted names a CA: git may follow it, the token
    // request (a client secret in it) does not.
    t.w.env.git_ok(NEW_GIT, &["init", "-q", "unvetted"]);
    let repo = t.w.env.path().join("unvetted");
    let repo_str = repo.to_str().expect("utf8");
    t.w.env.git_ok(
        NEW_GIT,
        &["-C", repo_str, "config", "http.sslCAInfo", &t.ca_pem()],
    );
    let out = t.w.env.run(
        t.w.env.helper().arg("get").current_dir(&repo),
        REQUEST.as_bytes(),
    );
    assert!(
        out.stderr.contains("not trusted") && out.stderr.contains("http.sslCAInfo"),
        "{}",
        out.stderr
    );
    assert_eq!(t.w.token_requests(), 0, "nothing reached Entra");
    // The same CA in the global config is trusted (once the repository's
    // own setting, which git prefers, is gone).
    git_config(&t, "http.sslCAInfo", &t.ca_pem());
    t.w.env.git_ok(
        NEW_GIT,
        &["-C", repo_str, "config", "--unset", "http.sslCAInfo"],
    );
    let out = t.w.env.run(
        t.w.env.helper().arg("get").current_dir(&repo),
        REQUEST.as_bytes(),
    );
    assert!(out.stdout.contains("password="), "{}", out.stderr);
}
