//! A certificate in Key Vault, read as in production: an https secret URL on
//! a real vault host name, validated as such, reached only through git's
//! proxy and trusting git's CA (the corporate world of corporate.rs), while
//! the managed identity's own endpoint is reached directly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::corporate::{clone_and_push, git_config, start};
use crate::support::cert::{TestCert, openssl_available};
use crate::support::mi_world::one_error;
use crate::support::tls::TlsFront;
use crate::support::tls_world::{ADO_HOST, LOGIN_HOST, TlsWorld};
use crate::support::world::{TENANT, World};
use crate::support::{FakeImds, FakeKeyVault, MiKind, VAULT_RESOURCE, assert_no_leak};

/// The app registration, in the organization's tenant.
const APP: &str = "6b7c8d9e-2f3a-4b5c-8d6e-7f8a9b0c1d2e";
/// The tenant of the machine, its identity and the vault.
const HOME: &str = "fabrikam-home.onmicrosoft.com";
/// The vault's public name.
const VAULT_HOST: &str = "contoso-kv.vault.azure.net";
const SECRET: &str = "app-cert";
/// What git sends the helper for the test repository.
const REQUEST: &str = "protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";

/// The corporate world, a fake IMDS on loopback and the fake vault behind a
/// TLS front for `VAULT_HOST` (the test CA), routed by the proxy.
struct KvTls {
    t: TlsWorld,
    imds: FakeImds,
    kv: FakeKeyVault,
    vault_front: TlsFront,
}

impl KvTls {
    /// `None` (SKIPPED) without openssl.
    fn new() -> Option<KvTls> {
        if !openssl_available() {
            return None;
        }
        let mut w = World::new();
        let imds = FakeImds::start(MiKind::Imds, &w.entra.tenant_id(HOME));
        w.env
            .set_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url());
        let dir = w.env.path().join("certs");
        let cert = TestCert::new(&dir, "app", 30);
        w.env.planted(&dir);
        w.entra.add_cert_app(TENANT, APP, &cert.der);
        w.ado.allow("contoso", APP);
        let mut t = TlsWorld::around(w);
        start(&mut t);
        // Plain-http and catch-all proxies of the environment are the test
        // proxy: a managed-identity request that used one would show there.
        for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            let proxy = t.proxy_url();
            t.w.env.set_env(var, &proxy);
        }
        let kv = FakeKeyVault::start();
        kv.allow(&imds.system_client_id());
        let pfx = cert.pfx("nopass.pfx", "", None);
        let value = STANDARD.encode(std::fs::read(pfx).expect("read the PFX"));
        kv.put(SECRET, &value, Some("application/x-pkcs12"));
        let backend = kv.name().parse().expect("the vault is at IP:PORT");
        let vault_front = TlsFront::start(t.ca.server_config(&[VAULT_HOST]), backend);
        t.proxy
            .route(&format!("{VAULT_HOST}:443"), vault_front.addr());
        t.w.env.write_config(&format!(
            r#"{{
  "identities": {{
    "kv": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{APP}",
            "certificate": "https://{VAULT_HOST}/secrets/{SECRET}" }}
  }},
  "routes": [ {{ "url": "https://{ADO_HOST}/contoso", "identity": "kv" }} ]
}}"#
        ));
        git_config(&t, "http.proxy", &t.proxy_url());
        Some(KvTls {
            t,
            imds,
            kv,
            vault_front,
        })
    }

    /// Whatever the proxy was asked that names the IMDS address.
    fn imds_through_proxy(&self) -> Vec<String> {
        let imds = self.imds.url();
        let addr = imds.trim_start_matches("http://");
        self.t
            .proxy
            .seen()
            .into_iter()
            .map(|c| c.target)
            .filter(|target| target.contains(addr))
            .collect()
    }
}

#[test]
fn a_vault_on_its_public_name_is_read_through_gits_proxy_and_ca() {
    let Some(k) = KvTls::new() else {
        return;
    };
    git_config(&k.t, "http.sslCAInfo", &k.t.ca_pem());
    clone_and_push(&k.t);

    // One vault read and one token request across the git operations.
    assert_eq!(k.kv.reads(), 1, "{:?}", k.kv.requests());
    assert_eq!(k.kv.requests().len(), 1, "{:?}", k.kv.requests());
    assert_eq!(
        k.kv.requests()[0].caller.as_deref(),
        Some(k.imds.system_client_id().as_str())
    );
    let sent = k.t.w.entra.token_requests();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].assertion.is_some(), "a certificate assertion");
    let vault_tokens = k
        .imds
        .requests()
        .into_iter()
        .filter(|r| r.query.get("resource").map(String::as_str) == Some(VAULT_RESOURCE))
        .count();
    assert_eq!(vault_tokens, 1, "{:?}", k.imds.requests());

    // The vault and Entra through the proxy, by name; IMDS never.
    let tunnels = k.t.proxy.tunnels();
    for name in [VAULT_HOST, LOGIN_HOST] {
        let target = format!("{name}:443");
        assert_eq!(
            tunnels.iter().filter(|t| **t == target).count(),
            1,
            "one CONNECT to {target}: {tunnels:?}"
        );
    }
    assert_eq!(k.imds_through_proxy(), Vec::<String>::new());
    assert_eq!(k.vault_front.handshake_failures(), 0);
    assert_eq!(k.vault_front.sni_names(), [VAULT_HOST]);
}

#[test]
fn a_vault_certificate_not_trusted_names_the_vault_and_the_git_setting() {
    let Some(k) = KvTls::new() else {
        return;
    };
    // git's proxy, but no CA: the system's roots only.
    let line = one_error(&k.t.w.helper(&["get"], REQUEST));
    for want in [
        "identity 'kv'",
        &format!("secret '{SECRET}' (latest) in Key Vault 'contoso-kv'"),
        &format!("the TLS certificate of {VAULT_HOST} was not trusted"),
        "not trusted",
        "UnknownIssuer",
        "git config --global http.sslCAInfo",
        "trusted now: the system's CA certificates",
    ] {
        assert!(line.contains(want), "{want:?} not in {line}");
    }
    assert_no_leak("the error line", &line);
    let traced = std::fs::read_to_string(k.t.w.env.path().join("trace.log")).unwrap_or_default();
    assert_no_leak("the trace", &traced);
    k.t.w.env.assert_files_clean();

    // The vault was asked for by name through the proxy and refused at the
    // handshake; nothing reached the vault or Entra, IMDS went direct.
    assert!(
        k.t.proxy.tunnels().contains(&format!("{VAULT_HOST}:443")),
        "{:?}",
        k.t.proxy.seen()
    );
    assert!(k.vault_front.handshake_failures() >= 1);
    assert!(k.kv.requests().is_empty(), "{:?}", k.kv.requests());
    assert_eq!(k.t.w.token_requests(), 0);
    assert_eq!(k.imds_through_proxy(), Vec::<String>::new());
}

#[test]
fn a_proxy_refusing_the_vault_is_told_to_allow_its_host() {
    let Some(k) = KvTls::new() else {
        return;
    };
    git_config(&k.t, "http.sslCAInfo", &k.t.ca_pem());
    // The proxy cannot reach the vault (a closed port): it answers 502.
    k.t.proxy.route(
        &format!("{VAULT_HOST}:443"),
        "127.0.0.1:9".parse().expect("an address"),
    );
    let line = one_error(&k.t.w.helper(&["get"], REQUEST));
    // The host, not the secret's URL, is what a proxy's allow-list and
    // NO_PROXY take.
    for want in [
        &"Key Vault 'contoso-kv'".to_string(),
        &format!("the proxy {} (from git config http.proxy)", k.t.proxy_url()),
        &format!("refused to connect to {VAULT_HOST} ("),
        &format!(
            "Fix: ask the proxy's administrators to allow {VAULT_HOST}, or list it in NO_PROXY"
        ),
    ] {
        assert!(line.contains(want.as_str()), "{want:?} not in {line}");
    }
    let seen = k.t.proxy.seen();
    assert!(
        seen.iter()
            .any(|c| c.target == format!("{VAULT_HOST}:443") && c.status == 502),
        "{seen:?}"
    );
    assert_eq!(k.t.w.token_requests(), 0);
}
