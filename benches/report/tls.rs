//! A cold `get` over TLS through a corporate proxy, as on a managed network: Entra by its
//! public name, reached only through an HTTP proxy, with a certificate of a corporate CA, the
//! helper told about both only as git is (`http.proxy`, `http.sslCAInfo`); next to `curl`
//! making the same token request through the same proxy with the same CA.

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::Doc;
use crate::cold::{COLD_RUNS, clear};
use crate::measure::{Stats, run_timed};
use crate::phases;
use crate::support::tls_world::{LOGIN_HOST, TlsWorld};
use crate::support::world::{CLIENT, NEW_GIT, SECRET, TENANT};
use crate::support::{ADO_RESOURCE, TestEnv};

/// What git sends for `https://dev.azure.com/contoso/p/_git/r` with useHttpPath: an https
/// remote, so that git's `http.*` settings for it are read. A `get` sends nothing there.
const REQUEST: &str = "protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n";

/// Section: the helper's cold `get` and curl's token request, each through the proxy.
pub fn bench_tls(doc: &mut Doc) {
    let mut t = TlsWorld::new();
    // A helper that skipped git's proxy would find this closed port rather than ask DNS
    // for a public name.
    t.w.env.set_env("HTTPS_PROXY", "http://127.0.0.1:9");
    t.w.env.git_ok(
        NEW_GIT,
        &["config", "--global", "http.proxy", &t.proxy_url()],
    );
    t.w.env.git_ok(
        NEW_GIT,
        &["config", "--global", "http.sslCAInfo", &t.ca_pem()],
    );
    let plain = plain_env(&t);

    let helper = phases::traced_gets("cold get over TLS", &t.w.env, REQUEST, COLD_RUNS, &clear);
    let loopback = phases::traced_gets("cold get, plain http", &plain, REQUEST, COLD_RUNS, &clear);
    let curl = curl_runs(&t, doc);

    let tunnels = t.proxy.tunnels();
    let through = tunnels
        .iter()
        .filter(|c| *c == &format!("{LOGIN_HOST}:443"))
        .count();
    let want = COLD_RUNS + curl.as_ref().map_or(0, |c| c.len());
    for (label, series) in [("over TLS", &helper), ("plain http", &loopback)] {
        doc.check(
            series.good == COLD_RUNS && series.splits.len() == COLD_RUNS,
            format!(
                "cold get {label}: {}/{COLD_RUNS} returned a token, {} traces could be split",
                series.good,
                series.splits.len()
            ),
        );
    }
    if let Some(curl) = &curl {
        let ok = curl.iter().filter(|(_, ok)| *ok).count();
        doc.check(
            ok == COLD_RUNS,
            format!("curl's token request: {ok}/{COLD_RUNS} answered 200"),
        );
    }
    doc.check(
        through == want && tunnels.len() == want && t.entra_front.handshake_failures() == 0,
        format!(
            "{through} tunnels to {LOGIN_HOST}:443 of {} (want {want}), {} failed handshakes",
            tunnels.len(),
            t.entra_front.handshake_failures()
        ),
    );

    doc.table_head(&["client", "what it does", "median", "p95", "min", "÷ curl"]);
    let curl_stats = curl.map(|c| Stats::of(c.into_iter().map(|(d, _)| d).collect()));
    let ratio = |s: &Stats| {
        curl_stats.as_ref().map_or("—".to_string(), |c| {
            format!("{:.2}×", s.median / c.median)
        })
    };
    let tls_stats = Stats::of(helper.times.clone());
    doc.stats_row(
        "git-credential-entra `get`, cold",
        "TLS through the proxy; git's settings read",
        &tls_stats,
        &ratio(&tls_stats),
    );
    if let Some(c) = &curl_stats {
        doc.stats_row("`curl`", "the same token request, proxy and CA", c, "1.00×");
    }
    let plain_stats = Stats::of(loopback.times.clone());
    doc.stats_row(
        "git-credential-entra `get`, cold",
        "plain http on loopback: no TLS, no proxy; git's settings still read",
        &plain_stats,
        &ratio(&plain_stats),
    );
    doc.end_table();

    let mut head = vec!["helper's phases"];
    head.extend(phases::COLUMNS);
    doc.table_head(&head);
    for (label, series) in [
        ("TLS through the proxy", &helper),
        ("plain http on loopback", &loopback),
    ] {
        if series.splits.is_empty() {
            continue;
        }
        let mut cells = vec![label.to_string()];
        cells.extend(phases::row(&series.splits));
        doc.table_row(&cells);
    }
    doc.end_table();
}

/// The same service principal and remote, Entra reached by the fake's plain loopback URL:
/// no TLS, no proxy (git's empty settings are still read).
fn plain_env(t: &TlsWorld) -> TestEnv {
    let mut env = TestEnv::new();
    env.write_config(
        &json!({
            "identities": {"ci": {"type": "service-principal", "tenant": TENANT,
                                  "client_id": CLIENT, "client_secret_env": "CI_SECRET"}},
            "routes": [{"url": "https://dev.azure.com/contoso", "identity": "ci"}],
            "authority_host": t.w.entra.url(),
        })
        .to_string(),
    );
    env.set_env("CI_SECRET", SECRET);
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "file");
    env
}

/// `curl` POSTing the client-credentials request to the token endpoint by its public name,
/// through the proxy, trusting the CA: each run's time and whether it got 200. `None`
/// (noted) when there is no `curl`.
fn curl_runs(t: &TlsWorld, doc: &mut Doc) -> Option<Vec<(Duration, bool)>> {
    if Command::new("curl").arg("--version").output().is_err() {
        doc.note("the `curl` row skipped: no `curl` command (Debian package `curl`)");
        return None;
    }
    // The secret goes in a file (created 0600 by tempfile), never on curl's command line.
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", CLIENT)
        .append_pair("client_secret", SECRET)
        .append_pair("scope", &format!("{ADO_RESOURCE}/.default"))
        .finish();
    let mut file = tempfile::Builder::new()
        .prefix("token-form")
        .tempfile_in(t.w.env.path())
        .expect("a file for the form");
    file.write_all(form.as_bytes()).expect("write the form");
    let data = format!(
        "@{}",
        file.path().to_str().expect("temporary paths are UTF-8")
    );
    let url = format!("https://{LOGIN_HOST}/{TENANT}/oauth2/v2.0/token");
    let runs = (0..COLD_RUNS)
        .map(|_| {
            // -q first: no curlrc (the isolated HOME has none anyway).
            let mut cmd = t.w.env.command("curl");
            cmd.args(["-q", "-sS", "--max-time", "20", "-o", "/dev/null"])
                .args(["-w", "%{http_code}", "--proxy", &t.proxy_url()])
                .args(["--cacert", &t.ca_pem(), "--data-binary", &data, &url]);
            let run = run_timed(&mut cmd, b"");
            (run.elapsed, run.ok && run.stdout.trim() == "200")
        })
        .collect();
    Some(runs)
}
