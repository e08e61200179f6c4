//! Behind a corporate network: Entra and Azure DevOps reached by their public
//! names, only through an HTTP proxy, with certificates of a corporate CA
//! (support/tls_world.rs). Nothing here may resolve a name: a client that
//! skipped the proxy would fail (or leave the machine), not pass.

use crate::support::assert_no_leak;
use crate::support::tls_world::{ADO_HOST, LOGIN_HOST, TlsWorld};
use crate::support::world::NEW_GIT;

/// Today's helper reads its proxy and CA only from the environment: reqwest's
/// system proxy takes `HTTPS_PROXY`, and rustls-platform-verifier, through
/// rustls-native-certs, trusts `SSL_CERT_FILE` instead of the system store.
/// git takes `http.proxy` from its config and the CA from `GIT_SSL_CAINFO`.
#[test]
fn clone_through_the_proxy_trusting_the_corporate_ca() {
    let mut t = TlsWorld::new();
    let (proxy, ca) = (t.proxy_url(), t.ca_pem());
    let trace = t.w.env.path().join("trace.log");
    t.w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    t.w.env.set_env("GIT_SSL_CAINFO", &ca);
    // These reach git too, but its http.proxy comes first (curl prefers the
    // configured proxy), and git's CA is GIT_SSL_CAINFO.
    t.w.env.set_env("HTTPS_PROXY", &proxy);
    t.w.env.set_env("SSL_CERT_FILE", &ca);
    t.w.configure_git();
    t.w.env
        .git_ok(NEW_GIT, &["config", "--global", "http.proxy", &proxy]);

    t.w.env
        .git_ok(NEW_GIT, &["clone", "-q", &t.repo_url, "work"]);

    assert!(t.w.env.path().join("work/README.md").is_file());
    assert_eq!(t.w.token_requests(), 1, "one token, asked for by name");
    let tunnels = t.proxy.tunnels();
    for name in [ADO_HOST, LOGIN_HOST] {
        let target = format!("{name}:443");
        assert!(
            tunnels.contains(&target),
            "no CONNECT to {target}: {tunnels:?}"
        );
    }
    assert!(
        t.proxy.seen().iter().all(|c| c.status == 200),
        "{:?}",
        t.proxy.seen()
    );
    assert_eq!(t.entra_front.handshake_failures(), 0);
    assert_eq!(t.ado_front.handshake_failures(), 0);
    assert!(t.entra_front.sni_names().iter().all(|n| n == LOGIN_HOST));
    assert!(t.ado_front.sni_names().iter().all(|n| n == ADO_HOST));
    let authed = t.w.authed_requests();
    assert!(
        authed
            .iter()
            .any(|r| r.path.contains("git-upload-pack") && r.status == 200),
        "{authed:?}"
    );
    let traced = std::fs::read_to_string(&trace).unwrap_or_default();
    assert_no_leak("trace file", &traced);
    t.w.env.assert_files_clean();
}
