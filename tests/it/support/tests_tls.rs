//! Self-tests of the TLS front, the test proxy and the world built of them:
//! clients reach the fakes by their public names through the proxy and TLS
//! (asking DNS nothing: a client with an http proxy leaves the name to the
//! proxy, which only looks it up in its table), the proxy's challenge and
//! refusals work, and a client trusting the wrong CA is refused and counted.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use super::proxy::Connect;
use super::tls::{Handshake, Outcome};
use super::world::{CLIENT, NEW_GIT, SECRET, TENANT};
use super::{ADO_RESOURCE, RunOutput, TestEnv};
use crate::support::tls_world::{ADO_HOST, LOGIN_HOST, TlsWorld};

const PROXY_USER: &str = "corp-builder";
const PROXY_PASS: &str = "proxy~pass~Zr4.Kw8";

/// The token endpoint by its public name.
fn token_url() -> String {
    format!("https://{LOGIN_HOST}/{TENANT}/oauth2/v2.0/token")
}

/// curl POSTs a client-credentials request to Entra by name with `args`
/// (proxy, CA, proxy credentials); the answer's body is dropped, so only
/// the status code is printed (000 when no HTTP answer came).
fn curl_token(w: &TlsWorld, args: &[&str]) -> RunOutput {
    let scope = format!("{ADO_RESOURCE}/.default");
    let mut cmd = w.w.env.command("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ])
    .args(args)
    .args(["--data-urlencode", "grant_type=client_credentials"])
    .args(["--data-urlencode", &format!("client_id={CLIENT}")])
    .args(["--data-urlencode", &format!("client_secret={SECRET}")])
    .args(["--data-urlencode", &format!("scope={scope}")])
    .arg(token_url());
    w.w.env.run(&mut cmd, b"")
}

/// What the proxy answers `head`, sent raw; the connection for what follows.
fn raw_request(proxy: SocketAddr, head: &str) -> (String, TcpStream) {
    let mut s = TcpStream::connect(proxy).expect("connect to the proxy");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("set a read timeout");
    s.write_all(head.as_bytes()).expect("send the request");
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") && s.read(&mut byte).expect("read the answer") == 1 {
        got.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    (status, s)
}

fn connect(target: &str, authorized: bool, status: u16) -> Connect {
    Connect {
        method: "CONNECT".into(),
        target: target.into(),
        authorized,
        status,
    }
}

#[test]
fn test_env_passes_no_proxy_or_tls_variables_it_was_not_given() {
    let mut env = TestEnv::new();
    env.set_env("HTTPS_PROXY", "http://127.0.0.1:9");
    let out = env.run(&mut env.command("env"), b"");
    assert!(out.status.success(), "{}", out.stderr);
    // What isolate sets: whatever the machine running the tests has set
    // (a proxy, a CA bundle, GIT_SSL_NO_VERIFY) is not among them.
    let allowed = [
        "PATH",
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_RUNTIME_DIR",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_TERMINAL_PROMPT",
        "LANG",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "DBUS_SESSION_BUS_ADDRESS",
        "HTTPS_PROXY",
    ];
    for line in out.stdout.lines() {
        let name = line.split('=').next().unwrap_or_default();
        assert!(allowed.contains(&name), "{name} reached the command");
    }
    assert!(
        out.stdout
            .lines()
            .any(|l| l == "HTTPS_PROXY=http://127.0.0.1:9")
    );
}

#[test]
fn rustls_client_gets_a_token_by_name_through_proxy_and_tls() {
    let w = TlsWorld::with_proxy_credentials(PROXY_USER, PROXY_PASS);
    let proxy = format!("http://{}:{}@{}", PROXY_USER, PROXY_PASS, w.proxy.addr());
    let client = reqwest::blocking::Client::builder()
        .proxy(reqwest::Proxy::all(&proxy).expect("a proxy URL"))
        .use_preconfigured_tls(w.ca.client_config())
        .build()
        .expect("an HTTPS client trusting the test CA");
    let scope = format!("{ADO_RESOURCE}/.default");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("scope", &scope),
    ];
    let resp = client
        .post(token_url())
        .form(&form)
        .send()
        .expect("Entra answers through the proxy");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(w.w.token_requests(), 1);
    let target = format!("{LOGIN_HOST}:443");
    assert_eq!(w.proxy.seen(), vec![connect(&target, true, 200)]);
    assert_eq!(w.entra_front.sni_names(), vec![LOGIN_HOST.to_owned()]);
    assert_eq!(w.entra_front.handshake_failures(), 0);
    assert!(w.ado_front.handshakes().is_empty());
}

#[test]
fn curl_gets_407_without_proxy_credentials_and_through_with_them() {
    let w = TlsWorld::with_proxy_credentials(PROXY_USER, PROXY_PASS);
    let (proxy, ca) = (w.proxy_url(), w.ca_pem());
    let target = format!("{LOGIN_HOST}:443");

    let out = curl_token(&w, &["--proxy", &proxy, "--cacert", &ca]);
    assert!(!out.status.success(), "no credentials, no tunnel");
    assert!(out.stderr.contains("407"), "{}", out.stderr);
    assert_eq!(w.proxy.seen(), vec![connect(&target, false, 407)]);

    // As git does by default (http.proxyAuthMethod=anyauth): asks without
    // credentials, answers the Basic challenge on the same connection.
    let creds = format!("{PROXY_USER}:{PROXY_PASS}");
    let anyauth = ["--proxy-anyauth", "--proxy-user", &creds];
    let out = curl_token(
        &w,
        &[&["--proxy", &proxy, "--cacert", &ca][..], &anyauth].concat(),
    );
    assert_eq!(out.stdout, "200", "{} {:?}", out.stderr, w.proxy.seen());
    let seen = w.proxy.seen();
    assert_eq!(
        seen[1..],
        [connect(&target, false, 407), connect(&target, true, 200)]
    );
    assert_eq!(w.w.token_requests(), 1);
    assert_eq!(w.entra_front.sni_names(), vec![LOGIN_HOST.to_owned()]);
}

#[test]
fn proxy_tunnels_routed_names_and_loopback_ips_only_and_refuses_plain_requests() {
    let w = TlsWorld::new();
    let p = w.proxy.addr();
    for target in ["example.invalid:443", "10.0.0.1:443", "dev.azure.com:80"] {
        let (status, _) = raw_request(
            p,
            &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        );
        assert_eq!(status, "HTTP/1.1 502 Bad Gateway", "{target}");
    }
    let url = format!("http://{ADO_HOST}/contoso/proj/_git/repo");
    let (status, _) = raw_request(
        p,
        &format!("GET {url} HTTP/1.1\r\nHost: {ADO_HOST}\r\n\r\n"),
    );
    assert_eq!(status, "HTTP/1.1 502 Bad Gateway");

    // A loopback IP literal is tunnelled as it is: here straight to the plain fake.
    let ado = w.w.ado.host();
    let (status, mut tunnel) = raw_request(p, &format!("CONNECT {ado} HTTP/1.1\r\n\r\n"));
    assert_eq!(status, "HTTP/1.1 200 Connection established");
    let get = "GET /contoso/proj/_git/repo/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    tunnel
        .write_all(get.as_bytes())
        .expect("send through the tunnel");
    let mut answer = String::new();
    tunnel
        .read_to_string(&mut answer)
        .expect("the fake answers and closes");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let seen = w.proxy.seen();
    let statuses: Vec<(&str, &str, u16)> = seen
        .iter()
        .map(|c| (c.method.as_str(), c.target.as_str(), c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("CONNECT", "example.invalid:443", 502),
            ("CONNECT", "10.0.0.1:443", 502),
            ("CONNECT", "dev.azure.com:80", 502),
            ("GET", url.as_str(), 502),
            ("CONNECT", ado.as_str(), 200),
        ]
    );
    assert!(seen.iter().all(|c| c.authorized));
    assert!(w.entra_front.handshakes().is_empty() && w.ado_front.handshakes().is_empty());
}

#[test]
fn clients_trusting_the_wrong_ca_are_refused_and_counted() {
    let w = TlsWorld::new();
    let proxy = w.proxy_url();
    // curl (OpenSSL) refuses the certificate inside the handshake, with an alert.
    let out = curl_token(&w, &["--proxy", &proxy, "--cacert", &w.wrong_ca_pem()]);
    assert!(
        !out.status.success(),
        "the wrong CA must fail: {}",
        out.stdout
    );
    assert_eq!(out.stdout, "000", "no HTTP answer");
    let refused = |sni: &str, outcome| Handshake {
        sni: Some(sni.to_owned()),
        outcome,
    };
    assert_eq!(
        w.entra_front.handshakes(),
        [refused(LOGIN_HOST, Outcome::Failed)]
    );
    assert_eq!(w.entra_front.handshake_failures(), 1);
    assert_eq!(w.w.token_requests(), 0, "nothing reached Entra");

    let out = curl_token(&w, &["--proxy", &proxy, "--cacert", &w.ca_pem()]);
    assert_eq!(out.stdout, "200", "{}", out.stderr);
    assert_eq!(w.entra_front.handshake_failures(), 1);
    assert_eq!(
        w.entra_front.handshakes()[1],
        refused(LOGIN_HOST, Outcome::Used)
    );
    assert_eq!(w.w.token_requests(), 1);

    // git's libcurl on Debian (GnuTLS) checks the certificate after the
    // handshake and just closes: counted all the same.
    let mut env_git = w.w.env.git(NEW_GIT);
    env_git.env("GIT_SSL_CAINFO", w.wrong_ca_pem()).args([
        "-c",
        &format!("http.proxy={proxy}"),
        "ls-remote",
        &w.repo_url,
    ]);
    let out = w.w.env.run(&mut env_git, b"");
    assert!(
        !out.status.success(),
        "the wrong CA must fail: {}",
        out.stdout
    );
    assert!(out.stderr.contains("certificate"), "{}", out.stderr);
    assert_eq!(w.ado_front.handshake_failures(), 1);
    assert_eq!(w.ado_front.sni_names(), [ADO_HOST]);
    assert!(
        w.w.ado.requests().is_empty(),
        "nothing reached Azure DevOps"
    );
}
