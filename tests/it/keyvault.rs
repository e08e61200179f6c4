//! A service principal whose certificate is kept in Key Vault and read with
//! the machine's managed identity: the way Azure DevOps documents for a
//! managed identity to reach an organization in another tenant. Through the
//! real binary and real git against a fake vault, a fake IMDS and the fake
//! Entra, which checks the assertion signed with the vault's certificate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::support::cert::{TestCert, openssl, openssl_available, path_str};
use crate::support::imds::Uami;
use crate::support::mi_world::one_error;
use crate::support::world::{TENANT, World};
use crate::support::{
    FakeImds, FakeKeyVault, MiKind, RunOutput, VAULT_RESOURCE, assert_no_leak, register_sensitive,
};

/// The app registration, in the organization's tenant.
const APP: &str = "5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d";
/// The tenant the machine, its identity and the vault live in.
const HOME: &str = "fabrikam-home.onmicrosoft.com";
/// The secret holding the certificate.
const SECRET: &str = "app-cert";
const PFX_PASSWORD: &str = "kv-pfx-pass-0123456789";

/// The fakes and a certificate registered on `APP`.
struct Kv {
    w: World,
    imds: FakeImds,
    kv: FakeKeyVault,
    cert: TestCert,
}

impl Kv {
    /// A world (cache backend `cache`) whose IMDS has a system-assigned
    /// identity, and a vault nobody may read yet; `None` (SKIPPED) without
    /// openssl.
    fn new(cache: &str) -> Option<Kv> {
        if !openssl_available() {
            return None;
        }
        let mut w = World::with_cache(cache);
        let imds = FakeImds::start(MiKind::Imds, &w.entra.tenant_id(HOME));
        w.env
            .set_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url());
        let dir = w.env.path().join("certs");
        let cert = TestCert::new(&dir, "app", 30);
        // The test's own copies of what the vault keeps.
        w.env.planted(&dir);
        w.entra.add_cert_app(TENANT, APP, &cert.der);
        w.ado.allow("contoso", APP);
        let kv = FakeKeyVault::start();
        Some(Kv { w, imds, kv, cert })
    }

    /// Identity `kv` (routed for contoso) with the certificate at `url` and
    /// the extra JSON fields `extra`.
    fn configure(&self, url: &str, extra: &str) {
        let w = &self.w;
        w.env.write_config(&format!(
            r#"{{
  "identities": {{
    "kv": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{APP}",
            "certificate": "{url}"{extra} }}
  }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "kv" }} ],
  "hosts": [ "{base}" ],
  "authority_host": "{authority}"
}}"#,
            base = w.ado.base_url(),
            authority = w.entra.url()
        ));
    }

    /// The certificate and key as a PFX with `password`, base64.
    fn pfx(&self, name: &str, password: &str) -> String {
        let path = self.cert.pfx(name, password, None);
        STANDARD.encode(std::fs::read(path).expect("read the PFX"))
    }

    /// The certificate and key as PEM text.
    fn pem(&self) -> String {
        let path = self
            .cert
            .combine("kv.pem", &[&self.cert.cert, &self.cert.key_pkcs8]);
        std::fs::read_to_string(path).expect("read the PEM")
    }

    fn get(&self) -> RunOutput {
        self.w.helper(&["get"], &self.w.request())
    }

    /// Requests to IMDS for the vault's resource.
    fn vault_tokens(&self) -> Vec<crate::support::imds::MiRequest> {
        self.imds
            .requests()
            .into_iter()
            .filter(|r| r.query.get("resource").map(String::as_str) == Some(VAULT_RESOURCE))
            .collect()
    }
}

#[test]
fn a_clone_and_push_read_the_vault_once_and_leak_nothing() {
    let Some(mut k) = Kv::new("file") else {
        return;
    };
    let trace = k.w.env.path().join("trace.log");
    k.w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", path_str(&trace));
    k.kv.allow(&k.imds.system_client_id());
    let value = k.pfx("nopass.pfx", "");
    k.kv.put(SECRET, &value, Some("application/x-pkcs12"));
    k.configure(&k.kv.secret_url(SECRET), "");

    k.w.clone_and_push("work");
    let again = k.get();
    assert!(again.status.success(), "{}", again.stderr);

    // Several git operations, one Key Vault read, one token request to
    // Entra: the certificate is fetched only when the token is.
    assert_eq!(k.kv.reads(), 1, "{:?}", k.kv.requests());
    assert_eq!(k.w.token_requests(), 1);
    assert_eq!(k.vault_tokens().len(), 1, "{:?}", k.imds.requests());
    let read = &k.kv.requests()[0];
    assert_eq!(read.path, format!("/secrets/{SECRET}"));
    assert_eq!(
        read.query.get("api-version").map(String::as_str),
        Some("7.4")
    );
    assert_eq!(
        read.caller.as_deref(),
        Some(k.imds.system_client_id().as_str())
    );
    let sent = k.w.entra.token_requests();
    assert_eq!(sent[0].tenant, TENANT);
    assert!(sent[0].assertion.is_some(), "a certificate assertion");

    let traced = std::fs::read_to_string(&trace).expect("the trace was written");
    assert!(
        traced.contains("key vault: GET")
            && traced.contains("PFX, content type application/x-pkcs12"),
        "{traced}"
    );
    // The vault token, the secret's value and the assertion are registered
    // with the scanner; the trace holds none of them.
    assert_no_leak("the trace", &traced);
    assert!(!traced.contains(&value[..40]), "the secret's value");
}

#[test]
fn a_pfx_with_a_password_and_pem_with_or_without_a_content_type() {
    let Some(mut k) = Kv::new("none") else {
        return;
    };
    register_sensitive(PFX_PASSWORD);
    k.w.env.set_env("KV_PFX_PASSWORD", PFX_PASSWORD);
    k.kv.allow(&k.imds.system_client_id());
    let forms = [
        (
            "with-pass",
            k.pfx("pass.pfx", PFX_PASSWORD),
            Some("application/x-pkcs12"),
            r#", "certificate_password_env": "KV_PFX_PASSWORD""#,
        ),
        ("pem", k.pem(), Some("application/x-pem-file"), ""),
        ("pem-untyped", k.pem(), None, ""),
        ("pfx-untyped", k.pfx("untyped.pfx", ""), None, ""),
    ];
    for (i, (name, value, content_type, extra)) in forms.iter().enumerate() {
        let version = k.kv.put(name, value, *content_type);
        // A version pinned in the URL is the one read.
        k.kv.put(
            name,
            "not-the-pinned-version",
            Some("application/x-pem-file"),
        );
        k.configure(&format!("{}/{version}", k.kv.secret_url(name)), extra);
        let out = k.get();
        assert!(out.status.success(), "{name}: {}", out.stderr);
        assert!(out.stdout.contains("password="), "{name}");
        // No token cache here: one read per token request.
        assert_eq!(k.kv.reads(), i + 1, "{name}");
        assert_eq!(k.w.token_requests(), i + 1, "{name}");
    }
}

#[test]
fn a_wrong_pfx_password_names_the_secret() {
    let Some(mut k) = Kv::new("none") else {
        return;
    };
    register_sensitive(PFX_PASSWORD);
    k.w.env.set_env("KV_PFX_PASSWORD", "wrong-password-123");
    k.kv.allow(&k.imds.system_client_id());
    let value = k.pfx("pass.pfx", PFX_PASSWORD);
    k.kv.put(SECRET, &value, Some("application/x-pkcs12"));
    k.configure(
        &k.kv.secret_url(SECRET),
        r#", "certificate_password_env": "KV_PFX_PASSWORD""#,
    );
    let line = one_error(&k.get());
    assert!(
        line.contains(&format!("secret '{SECRET}' (latest)"))
            && line.contains("PFX password is wrong"),
        "{line}"
    );
    assert_eq!(k.w.token_requests(), 0);
}

#[test]
fn a_user_assigned_identity_chosen_by_client_id_reads_the_vault() {
    let Some(k) = Kv::new("file") else {
        return;
    };
    let reader: Uami = k.imds.add_user_assigned("vault-reader");
    k.kv.allow(&reader.client_id);
    k.kv.put(
        SECRET,
        &k.pfx("nopass.pfx", ""),
        Some("application/x-pkcs12"),
    );
    k.configure(
        &k.kv.secret_url(SECRET),
        &format!(
            r#", "key_vault_identity": {{ "client_id": "{}" }}"#,
            reader.client_id
        ),
    );
    let out = k.get();
    assert!(out.status.success(), "{}", out.stderr);
    let asked = k.vault_tokens();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].query.get("client_id"), Some(&reader.client_id));
    assert_eq!(k.kv.requests()[0].caller.as_ref(), Some(&reader.client_id));
}

#[test]
fn a_denied_identity_gets_one_line_naming_vault_secret_identity_and_role() {
    let Some(k) = Kv::new("file") else {
        return;
    };
    // The vault lets only another identity in.
    let other = k.imds.add_user_assigned("someone-else");
    k.kv.allow(&other.client_id);
    k.kv.put(
        SECRET,
        &k.pfx("nopass.pfx", ""),
        Some("application/x-pkcs12"),
    );
    k.configure(&k.kv.secret_url(SECRET), "");
    let line = one_error(&k.get());
    for part in [
        "identity 'kv'",
        &format!("secret '{SECRET}' (latest) in Key Vault '{}'", k.kv.name()),
        "the system-assigned managed identity",
        "HTTP 403 ForbiddenByRbac",
        "Fix: grant this Azure resource's system-assigned identity",
        "the role \"Key Vault Secrets User\" on the vault",
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }
    assert_eq!(k.w.token_requests(), 0, "Entra is not asked");
}

#[test]
fn a_missing_secret_or_a_certificate_without_its_key_says_what_to_do() {
    let Some(k) = Kv::new("none") else {
        return;
    };
    k.kv.allow(&k.imds.system_client_id());
    k.configure(&k.kv.secret_url("no-such-secret"), "");
    let line = one_error(&k.get());
    assert!(
        line.contains("secret 'no-such-secret'")
            && line.contains("HTTP 404 SecretNotFound")
            && line.contains("Fix: check the secret's name"),
        "{line}"
    );

    // A certificate whose key is not exportable: its secret holds the
    // certificate only.
    let public = std::fs::read_to_string(&k.cert.cert).expect("read the certificate");
    k.kv.put("public-only", &public, Some("application/x-pem-file"));
    k.configure(&k.kv.secret_url("public-only"), "");
    let line = one_error(&k.get());
    assert!(
        line.contains("secret 'public-only'")
            && line.contains("without its private key")
            && line.contains("exportable"),
        "{line}"
    );
    // A PFX exported without the key is the same case.
    let certonly = k.cert.dir.join("certonly.pfx");
    openssl(
        &k.cert.dir,
        &[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            path_str(&k.cert.cert),
            "-out",
            path_str(&certonly),
            "-passout",
            "pass:",
        ],
    );
    let value = STANDARD.encode(std::fs::read(&certonly).expect("read"));
    k.kv.put("pfx-no-key", &value, Some("application/x-pkcs12"));
    k.configure(&k.kv.secret_url("pfx-no-key"), "");
    let line = one_error(&k.get());
    assert!(line.contains("without its private key"), "{line}");
    assert_eq!(k.w.token_requests(), 0);
}

#[test]
fn doctor_shows_the_source_thumbprint_and_expiry() {
    let Some(k) = Kv::new("file") else {
        return;
    };
    k.kv.allow(&k.imds.system_client_id());
    k.kv.put(
        SECRET,
        &k.pfx("nopass.pfx", ""),
        Some("application/x-pkcs12"),
    );
    k.configure(&k.kv.secret_url(SECRET), "");
    k.w.configure_git();
    let out = k.w.helper(&["doctor", &k.w.repo_url], "");
    assert_no_leak("doctor's stdout", &out.stdout);
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("✓ certificate: "))
        .unwrap_or_else(|| panic!("no certificate check in:\n{}", out.stdout));
    let fingerprint = openssl(
        &k.cert.dir,
        &[
            "x509",
            "-in",
            path_str(&k.cert.cert),
            "-noout",
            "-fingerprint",
            "-sha1",
        ],
    );
    let hex: String = String::from_utf8(fingerprint)
        .expect("utf8")
        .trim()
        .rsplit('=')
        .next()
        .expect("a fingerprint")
        .replace(':', "");
    for part in [
        format!("secret '{SECRET}' (latest) in Key Vault '{}'", k.kv.name()),
        "read by the system-assigned managed identity".to_string(),
        format!("thumbprint {hex}"),
        "valid ".to_string(),
    ] {
        assert!(line.contains(&part), "{part:?} not in {line}");
    }
    let expiry = String::from_utf8(openssl(
        &k.cert.dir,
        &["x509", "-in", path_str(&k.cert.cert), "-noout", "-enddate"],
    ))
    .expect("utf8");
    // `notAfter=Jun  1 12:00:00 2031 GMT`: the year is enough here.
    let year = expiry.trim().rsplit(' ').nth(1).expect("a year");
    assert!(line.contains(&format!(" to {year}-")), "{year} in {line}");
}
