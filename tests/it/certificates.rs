//! Service principals with certificates, through the real binary: PEM
//! (PKCS#8, PKCS#1, one file or two) and PFX (with and without a password),
//! PS256 and RS256, with and without `x5c`; every local error; the
//! `environment` identity; a clone and push through real git. Certificates
//! come from the `openssl` command, and openssl also checks our signatures,
//! so our signer and our fake Entra do not merely agree with each other.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::support::cert::{
    TestCert, jwt_parts, openssl, openssl_available, openssl_verifies, path_str,
};
use crate::support::world::{TENANT, World};
use crate::support::{Ci, RunOutput, assert_no_leak, now_secs, random_guid, skip_unless};

/// The app registration the certificates belong to.
const APP: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A PFX password (registered as sensitive where used).
const PFX_PASSWORD: &str = "pfx-pass-0123456789";

/// A world (no token cache, so each `get` signs anew) whose app `APP` has
/// the certificate `app` registered; `None` (SKIPPED) without openssl.
fn cert_world() -> Option<(World, TestCert)> {
    if !openssl_available() {
        return None;
    }
    let w = World::with_cache("none");
    let cert = TestCert::new(&w.env.path().join("certs"), "app", 30);
    w.entra.add_cert_app(TENANT, APP, &cert.der);
    w.ado.allow("contoso", APP);
    Some((w, cert))
}

/// Configures identity `cert` for `APP` with the extra JSON fields `body`.
fn configure(w: &World, body: &str) {
    w.write_config(&format!(
        r#", "cert": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{APP}", {body} }}"#
    ));
}

fn get(w: &World) -> RunOutput {
    w.helper(&["get", "--identity", "cert"], &w.request())
}

/// The assertion of the last token request.
fn last_assertion(w: &World) -> String {
    let requests = w.entra.token_requests();
    let last = requests.last().expect("a token request");
    assert_eq!(
        last.form.get("client_assertion_type").map(String::as_str),
        Some(JWT_BEARER)
    );
    assert!(!last.form.contains_key("client_secret"));
    last.assertion
        .as_ref()
        .expect("an assertion was sent")
        .value()
        .to_owned()
}

fn the_token_endpoint(w: &World) -> String {
    format!("{}/{TENANT}/oauth2/v2.0/token", w.entra.url())
}

/// The claims Microsoft documents, and a v4 UUID `jti`.
fn assert_claims(w: &World, claims: &Value) {
    assert_eq!(claims["aud"], the_token_endpoint(w).as_str());
    assert_eq!(claims["iss"], APP);
    assert_eq!(claims["sub"], APP);
    let now = now_secs() as i64;
    let iat = claims["iat"].as_i64().expect("iat");
    assert!((now - 60..=now).contains(&iat), "iat {iat} vs now {now}");
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 600));
    let jti = claims["jti"].as_str().expect("jti");
    let groups: Vec<&str> = jti.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{jti}"
    );
    assert!(groups[2].starts_with('4'), "version 4: {jti}");
    assert!(
        matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
        "{jti}"
    );
}

#[test]
fn pem_certificates_sign_ps256_that_openssl_verifies() {
    let Some((w, cert)) = cert_world() else {
        return;
    };
    let pubkey = cert.public_key_pem();
    let one_pkcs8 = cert.combine("one8.pem", &[&cert.cert, &cert.key_pkcs8]);
    let one_pkcs1 = cert.combine("one1.pem", &[&cert.key_pkcs1, &cert.cert]);
    let forms: [(&str, &Path, Option<&Path>); 4] = [
        ("PKCS#8, one file", &one_pkcs8, None),
        ("PKCS#1, one file (key first)", &one_pkcs1, None),
        ("PKCS#8, two files", &cert.cert, Some(&cert.key_pkcs8)),
        ("PKCS#1, two files", &cert.cert, Some(&cert.key_pkcs1)),
    ];
    let mut jtis = Vec::new();
    for (what, certificate, key) in forms {
        let key_field = key
            .map(|k| format!(r#", "private_key": "{}""#, k.display()))
            .unwrap_or_default();
        configure(
            &w,
            &format!(r#""certificate": "{}"{key_field}"#, certificate.display()),
        );
        let out = get(&w);
        assert!(out.status.success(), "{what}: {}", out.stderr);
        assert!(out.stdout.contains("password="), "{what}");
        let jwt = last_assertion(&w);
        let (header, claims) = jwt_parts(&jwt);
        assert_eq!(header["alg"], "PS256", "{what}");
        assert_eq!(header["typ"], "JWT", "{what}");
        let sha256 = openssl(
            &cert.dir,
            &[
                "x509",
                "-in",
                path_str(&cert.cert),
                "-noout",
                "-fingerprint",
                "-sha256",
            ],
        );
        assert_eq!(
            header["x5t#S256"],
            fingerprint_b64url(&sha256).as_str(),
            "{what}: x5t#S256 is openssl's SHA-256 fingerprint"
        );
        assert!(
            header.get("x5t").is_none() && header.get("x5c").is_none(),
            "{what}: {header}"
        );
        assert_claims(&w, &claims);
        assert!(
            openssl_verifies(&cert.dir, &jwt, &pubkey),
            "{what}: openssl rejects our PS256 signature"
        );
        jtis.push(claims["jti"].as_str().expect("jti").to_owned());
    }
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), 4, "a fresh assertion per token request");
    assert_eq!(w.token_requests(), 4);

    // The independent check can fail: a changed claim breaks the signature.
    let jwt = last_assertion(&w);
    let (input, sig) = jwt.rsplit_once('.').expect("jwt");
    let (h, _) = input.split_once('.').expect("jwt");
    let forged_claims = URL_SAFE_NO_PAD.encode(json!({"aud": "x", "iss": APP}).to_string());
    assert!(!openssl_verifies(
        &cert.dir,
        &format!("{h}.{forged_claims}.{sig}"),
        &pubkey
    ));
}

/// `SHA256 Fingerprint=AB:CD:…` as unpadded base64url.
fn fingerprint_b64url(openssl_out: &[u8]) -> String {
    let text = String::from_utf8_lossy(openssl_out);
    let hex = text.trim().rsplit('=').next().expect("fingerprint");
    let bytes: Vec<u8> = hex
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn rs256_sends_the_sha1_thumbprint_and_openssl_verifies_it() {
    let Some((w, cert)) = cert_world() else {
        return;
    };
    let pem = cert.combine("app.pem", &[&cert.cert, &cert.key_pkcs1]);
    configure(
        &w,
        &format!(
            r#""certificate": "{}", "assertion_algorithm": "RS256""#,
            pem.display()
        ),
    );
    let out = get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    let jwt = last_assertion(&w);
    let (header, claims) = jwt_parts(&jwt);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t"], cert.openssl_sha1_thumbprint().as_str());
    assert!(header.get("x5t#S256").is_none());
    assert_claims(&w, &claims);
    assert!(openssl_verifies(&cert.dir, &jwt, &cert.public_key_pem()));
}

#[test]
fn pfx_with_and_without_a_password() {
    let Some((mut w, cert)) = cert_world() else {
        return;
    };
    crate::support::register_sensitive(PFX_PASSWORD);
    let open = cert.pfx("open.pfx", "", None);
    configure(&w, &format!(r#""certificate": "{}""#, open.display()));
    let out = get(&w);
    assert!(out.status.success(), "no password: {}", out.stderr);
    assert!(openssl_verifies(
        &cert.dir,
        &last_assertion(&w),
        &cert.public_key_pem()
    ));

    let locked = cert.pfx("locked.p12", PFX_PASSWORD, None);
    w.env.set_env("PFX_PASS", PFX_PASSWORD);
    configure(
        &w,
        &format!(
            r#""certificate": "{}", "certificate_password_env": "PFX_PASS", "send_certificate_chain": true"#,
            locked.display()
        ),
    );
    let out = get(&w);
    assert!(out.status.success(), "password: {}", out.stderr);
    let (header, _) = jwt_parts(&last_assertion(&w));
    assert_eq!(header["x5c"], json!([STANDARD.encode(&cert.der)]));
    assert_no_leak("stderr", &out.stderr);

    // The wrong password, and none, each say what to do; nothing is sent.
    let before = w.token_requests();
    w.env.set_env("PFX_PASS", "not-the-password-at-all");
    let out = get(&w);
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("identity 'cert'") && out.stderr.contains("the PFX password is wrong"),
        "{}",
        out.stderr
    );
    configure(&w, &format!(r#""certificate": "{}""#, locked.display()));
    let out = get(&w);
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr
            .contains("protected by a password and none is configured")
            && out.stderr.contains("certificate_password_env"),
        "{}",
        out.stderr
    );
    assert_eq!(w.token_requests(), before);
}

#[test]
fn the_chain_goes_in_x5c_leaf_first_only_when_asked() {
    let Some((w, _)) = cert_world() else {
        return;
    };
    let dir = w.env.path().join("chain");
    let ca = TestCert::new(&dir, "ca", 30);
    // A leaf issued by the CA (subject-name/issuer setups use such chains).
    openssl(
        &dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
            "-subj", "/CN=leaf",
        ],
    );
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            path_str(&ca.cert),
            "-CAkey",
            path_str(&ca.key_pkcs8),
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            "leaf.crt",
        ],
    );
    let leaf_der = openssl(&dir, &["x509", "-in", "leaf.crt", "-outform", "DER"]);
    w.entra.add_cert_app(TENANT, APP, &leaf_der);
    // CA first in the file: the key decides which one is the leaf.
    let pem = ca.combine(
        "bundle.pem",
        &[&ca.cert, &dir.join("leaf.crt"), &dir.join("leaf.key")],
    );
    for chain in [true, false] {
        configure(
            &w,
            &format!(
                r#""certificate": "{}", "send_certificate_chain": {chain}"#,
                pem.display()
            ),
        );
        let out = get(&w);
        assert!(out.status.success(), "{}", out.stderr);
        let (header, _) = jwt_parts(&last_assertion(&w));
        if chain {
            assert_eq!(
                header["x5c"],
                json!([STANDARD.encode(&leaf_der), STANDARD.encode(&ca.der)])
            );
        } else {
            assert!(header.get("x5c").is_none(), "{header}");
        }
        let sha = ring::digest::digest(&ring::digest::SHA256, &leaf_der);
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(sha).as_str());
    }
}

/// Runs `get` with identity `cert` configured by `body`; it must fail
/// before any token request, naming the identity, `needles` and a fix.
fn refused(w: &World, body: &str, needles: &[&str]) {
    configure(w, body);
    let before = w.token_requests();
    let out = get(w);
    assert_eq!(out.stdout, "quit=1\n", "{body}: {}", out.stderr);
    assert!(
        out.stderr.contains("identity 'cert'") && out.stderr.contains("Fix:"),
        "{}",
        out.stderr
    );
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "{body}: wants {n:?} in: {}",
            out.stderr
        );
    }
    assert_eq!(
        out.stderr.trim_end().lines().count(),
        1,
        "one message: {}",
        out.stderr
    );
    assert_eq!(w.token_requests(), before, "{body}: nothing was sent");
}

#[test]
fn each_local_certificate_problem_is_explained_before_anything_is_sent() {
    let Some((w, cert)) = cert_world() else {
        return;
    };
    let dir = &cert.dir;
    let missing = dir.join("nope.pem");
    refused(
        &w,
        &format!(r#""certificate": "{}""#, missing.display()),
        &["cannot read", "nope.pem"],
    );
    refused(
        &w,
        &format!(r#""certificate": "{}""#, cert.cert.display()),
        &["holds no private key", "private_key"],
    );
    let other = TestCert::new(&dir.join("other"), "other", 30);
    refused(
        &w,
        &format!(
            r#""certificate": "{}", "private_key": "{}""#,
            cert.cert.display(),
            other.key_pkcs8.display()
        ),
        &["does not belong to the certificate"],
    );
    let encrypted = dir.join("enc.key.pem");
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            path_str(&cert.key_pkcs8),
            "-passout",
            "pass:encrypt-me-123",
            "-out",
            path_str(&encrypted),
        ],
    );
    cert.private(&encrypted);
    refused(
        &w,
        &format!(
            r#""certificate": "{}", "private_key": "{}""#,
            cert.cert.display(),
            encrypted.display()
        ),
        &["is encrypted", "openssl pkey -in"],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ec.key",
            "-out",
            "ec.crt",
            "-subj",
            "/CN=ec",
            "-days",
            "30",
        ],
    );
    let ec = cert.combine("ec.pem", &[&dir.join("ec.crt"), &dir.join("ec.key")]);
    refused(
        &w,
        &format!(r#""certificate": "{}""#, ec.display()),
        &["not an RSA key", "Entra accepts RSA"],
    );
    // Unix modes only: Windows relies on the profile's ACLs (see docs/platforms.md).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shared = cert.combine("shared.pem", &[&cert.cert, &cert.key_pkcs8]);
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        refused(
            &w,
            &format!(r#""certificate": "{}""#, shared.display()),
            &["readable or writable by others", "chmod 600"],
        );
    }
    let not_a_cert = dir.join("junk.pfx");
    std::fs::write(&not_a_cert, b"\x30\x03junk").expect("write");
    cert.private(&not_a_cert);
    refused(
        &w,
        &format!(r#""certificate": "{}""#, not_a_cert.display()),
        &["PKCS#12"],
    );
}

#[test]
fn entra_refusals_of_a_certificate_are_explained() {
    let Some((w, cert)) = cert_world() else {
        return;
    };
    // A good certificate that was never uploaded to the app.
    let stranger = TestCert::new(&cert.dir.join("s"), "stranger", 30);
    let pem = stranger.combine("s.pem", &[&stranger.cert, &stranger.key_pkcs8]);
    configure(&w, &format!(r#""certificate": "{}""#, pem.display()));
    let out = get(&w);
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("AADSTS700027") && out.stderr.contains("upload this certificate"),
        "{}",
        out.stderr
    );

    // An expired certificate: a warning, then Entra decides (it refuses).
    let old = TestCert::new(&cert.dir.join("old"), "old", -1);
    w.entra.add_cert_app(TENANT, APP, &old.der);
    let pem = old.combine("old.pem", &[&old.cert, &old.key_pkcs8]);
    configure(&w, &format!(r#""certificate": "{}""#, pem.display()));
    let before = w.token_requests();
    let out = get(&w);
    assert_eq!(w.token_requests(), before + 1, "still tried");
    assert!(
        out.stderr.contains("warning: identity 'cert': certificate")
            && out.stderr.contains("expired on"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("AADSTS7000274") && out.stderr.contains("upload a current certificate"),
        "{}",
        out.stderr
    );
}

/// Signs a JWT the way an attacker or a broken client might, with `key`
/// (PKCS#8 PEM) — for checking that the fake refuses what Entra refuses.
fn hand_signed(key: &Path, header: &Value, claims: &Value) -> String {
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    let der = PrivatePkcs8KeyDer::from_pem_file(key).expect("a PKCS#8 key");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("RSA");
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PSS_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[test]
fn the_fake_entra_checks_certificate_assertions_as_entra_does() {
    let Some((w, cert)) = cert_world() else {
        return;
    };
    let other = TestCert::new(&cert.dir.join("o"), "o", 30);
    let endpoint = the_token_endpoint(&w);
    let x5t = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &cert.der));
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": x5t});
    let now = now_secs() as i64;
    let claims = |aud: &str, iss: &str, exp: i64, jti: &str| json!({"aud": aud, "iss": iss, "sub": APP, "jti": jti, "nbf": now, "iat": now, "exp": exp});
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let post = |assertion: &str| -> (u16, String) {
        let resp = http
            .post(&endpoint)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", APP),
                (
                    "scope",
                    &format!("{}/.default", crate::support::ADO_RESOURCE),
                ),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
            ])
            .send()
            .expect("the fake answers");
        (resp.status().as_u16(), resp.text().expect("body"))
    };
    let code = |r: &(u16, String)| -> String {
        serde_json::from_str::<Value>(&r.1).expect("json")["error_codes"][0].to_string()
    };
    let jti = random_guid();
    let good = hand_signed(
        &cert.key_pkcs8,
        &header,
        &claims(&endpoint, APP, now + 600, &jti),
    );
    assert_eq!(post(&good).0, 200, "a correct assertion is accepted");
    assert_eq!(code(&post(&good)), "700027", "a replayed jti is refused");
    let cases = [
        (
            "signed by another key",
            hand_signed(
                &other.key_pkcs8,
                &header,
                &claims(&endpoint, APP, now + 600, &random_guid()),
            ),
            "700027",
        ),
        (
            "an unregistered thumbprint",
            hand_signed(
                &other.key_pkcs8,
                &json!({"alg": "PS256", "x5t#S256": URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &other.der))}),
                &claims(&endpoint, APP, now + 600, &random_guid()),
            ),
            "700027",
        ),
        (
            "aud another URL",
            hand_signed(
                &cert.key_pkcs8,
                &header,
                &claims(
                    &endpoint.replace("127.0.0.1", "localhost"),
                    APP,
                    now + 600,
                    &random_guid(),
                ),
            ),
            "700023",
        ),
        (
            "iss another app",
            hand_signed(
                &cert.key_pkcs8,
                &header,
                &claims(
                    &endpoint,
                    "00000000-0000-0000-0000-000000000001",
                    now + 600,
                    &random_guid(),
                ),
            ),
            "700021",
        ),
        (
            "expired",
            hand_signed(
                &cert.key_pkcs8,
                &header,
                &claims(&endpoint, APP, now - 1, &random_guid()),
            ),
            "700024",
        ),
    ];
    for (what, assertion, expected) in cases {
        let r = post(&assertion);
        assert_ne!(r.0, 200, "{what}");
        assert_eq!(code(&r), expected, "{what}: {}", r.1);
    }

    // And the helper's own assertions cannot be replayed either.
    let pem = cert.combine("app.pem", &[&cert.cert, &cert.key_pkcs8]);
    configure(&w, &format!(r#""certificate": "{}""#, pem.display()));
    assert!(get(&w).status.success());
    assert_eq!(code(&post(&last_assertion(&w))), "700027");
}

#[test]
fn environment_identity_with_a_certificate() {
    let Some((mut w, cert)) = cert_world() else {
        return;
    };
    crate::support::register_sensitive(PFX_PASSWORD);
    let pfx = cert.pfx("env.pfx", PFX_PASSWORD, None);
    w.write_config(r#", "env": { "type": "environment" }"#);
    w.env.set_env("AZURE_TENANT_ID", TENANT);
    w.env.set_env("AZURE_CLIENT_ID", APP);
    w.env
        .set_env("AZURE_CLIENT_CERTIFICATE_PATH", path_str(&pfx));
    w.env
        .set_env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PFX_PASSWORD);
    w.env.set_env("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "True");
    let out = w.helper(&["get", "--identity", "env", "-v"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    let jwt = last_assertion(&w);
    let (header, claims) = jwt_parts(&jwt);
    assert_eq!(header["x5c"], json!([STANDARD.encode(&cert.der)]));
    assert_claims(&w, &claims);
    assert!(openssl_verifies(&cert.dir, &jwt, &cert.public_key_pem()));
    crate::support::register_sensitive(&jwt);
    assert_no_leak("stderr with -v", &out.stderr);
    assert!(
        out.stderr.contains("signed a PS256 client assertion"),
        "{}",
        out.stderr
    );

    w.env.set_env("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "0");
    assert!(
        w.helper(&["get", "--identity", "env"], &w.request())
            .status
            .success()
    );
    assert!(jwt_parts(&last_assertion(&w)).0.get("x5c").is_none());

    w.env
        .set_env("AZURE_CLIENT_CERTIFICATE_PATH", "certs/env.pfx");
    let out = w.helper(&["get", "--identity", "env"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr
            .contains("AZURE_CLIENT_CERTIFICATE_PATH must be an absolute path"),
        "{}",
        out.stderr
    );
}

#[test]
fn clone_and_push_with_a_certificate_identity() {
    let Some((mut w, cert)) = cert_world() else {
        return;
    };
    let pem = cert.combine("app.pem", &[&cert.cert, &cert.key_pkcs8]);
    configure(&w, &format!(r#""certificate": "{}""#, pem.display()));
    w.env.set_env("GIT_CREDENTIAL_ENTRA_IDENTITY", "cert");
    w.env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "file");
    w.clone_and_push("work");
    assert_eq!(
        w.token_requests(),
        1,
        "one signed assertion served clone and push"
    );
    assert!(w.entra.token_requests()[0].assertion.is_some());
}

#[test]
fn the_pfx_password_can_live_in_the_keyring() {
    let Some((w, cert)) = cert_world() else {
        return;
    };
    crate::support::register_sensitive(PFX_PASSWORD);
    // A unique app: keyring items outlive the test's temporary HOME.
    let app = random_guid();
    w.entra.add_cert_app(TENANT, &app, &cert.der);
    let pfx: PathBuf = cert.pfx("kr.pfx", PFX_PASSWORD, None);
    w.write_config(&format!(
        r#", "kr": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{app}", "certificate": "{}", "certificate_password_keyring": true }}"#,
        pfx.display()
    ));
    let set = w.helper(
        &["secret", "set", "--identity", "kr"],
        &format!("{PFX_PASSWORD}\n"),
    );
    let no_keyring = !set.status.success() && set.stderr.contains("no OS keyring is available");
    let reason = format!("no OS keyring here: {}", set.stderr);
    if !skip_unless(!no_keyring, Ci::Provides, reason) {
        return;
    }
    assert!(set.status.success(), "{}", set.stderr);
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    let del = w.helper(&["secret", "delete", "--identity", "kr"], "");
    assert!(del.status.success(), "{}", del.stderr);
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("secret set --identity kr"),
        "{}",
        out.stderr
    );
}
