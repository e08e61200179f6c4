//! Certificates for the tests, made by the `openssl` command line (a signer
//! other than ours), and FakeEntra's check of certificate client assertions,
//! done as Entra does it: the thumbprint header names a certificate
//! registered on the app, the signature verifies with that certificate's
//! public key, `aud` is the URL that was called, `iss` = `sub` = client id,
//! `exp` is in the future and `jti` was not used before.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::entra::Scripted;
use super::env::{isolated, probe};
use super::{Ci, entra_timestamp, now_secs, skip_unless};

/// Whether the `openssl` command runs here. Without it the certificate tests
/// cannot make certificates: they fail under CI (which installs it) and are
/// skipped elsewhere.
pub fn openssl_available() -> bool {
    let ok = probe("openssl", &["version"]).is_some();
    skip_unless(
        ok,
        Ci::Provides,
        "no openssl command here to make test certificates",
    )
}

/// Runs `openssl args` in `dir`; panics with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = isolated("openssl", dir)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A certificate and its key in the forms the helper reads, made by openssl.
pub struct TestCert {
    /// Where its files are.
    pub dir: PathBuf,
    /// The certificate alone (PEM).
    pub cert: PathBuf,
    /// The key, PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub key_pkcs8: PathBuf,
    /// The key, PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`).
    pub key_pkcs1: PathBuf,
    /// The certificate's DER.
    pub der: Vec<u8>,
}

impl TestCert {
    /// A self-signed RSA certificate `name` in `dir`, valid for `days`
    /// (negative: expired that many days ago). Key files are mode 600.
    pub fn new(dir: &Path, name: &str, days: i32) -> TestCert {
        std::fs::create_dir_all(dir).expect("create the certificate directory");
        let cert = dir.join(format!("{name}.crt.pem"));
        let key_pkcs8 = dir.join(format!("{name}.key.pem"));
        let key_pkcs1 = dir.join(format!("{name}.rsa.pem"));
        let csr = format!("{name}.csr");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                path_str(&key_pkcs8),
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-key",
                path_str(&key_pkcs8),
                "-days",
                &days.to_string(),
                "-out",
                path_str(&cert),
            ],
        );
        openssl(
            dir,
            &[
                "rsa",
                "-in",
                path_str(&key_pkcs8),
                "-traditional",
                "-out",
                path_str(&key_pkcs1),
            ],
        );
        let der = openssl(dir, &["x509", "-in", path_str(&cert), "-outform", "DER"]);
        let made = TestCert {
            dir: dir.to_path_buf(),
            cert,
            key_pkcs8,
            key_pkcs1,
            der,
        };
        made.private(&made.key_pkcs8);
        made.private(&made.key_pkcs1);
        made
    }

    /// Sets mode 600 on `path` (a file holding a key).
    pub fn private(&self, path: &Path) {
        super::chmod(path, 0o600);
    }

    /// `parts` concatenated into `name` (mode 600).
    pub fn combine(&self, name: &str, parts: &[&Path]) -> PathBuf {
        let mut text = Vec::new();
        for p in parts {
            text.extend(std::fs::read(p).expect("read a PEM part"));
        }
        let out = self.dir.join(name);
        std::fs::write(&out, text).expect("write the combined PEM");
        self.private(&out);
        out
    }

    /// A PKCS#12 file with the certificate and key (and `extra` certificates),
    /// protected by `password` (empty: none), mode 600.
    pub fn pfx(&self, name: &str, password: &str, extra: Option<&Path>) -> PathBuf {
        let out = self.dir.join(name);
        let pass = format!("pass:{password}");
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            path_str(&self.cert),
            "-inkey",
            path_str(&self.key_pkcs8),
            "-out",
            path_str(&out),
            "-passout",
            &pass,
        ];
        if let Some(e) = extra {
            args.extend(["-certfile", path_str(e)]);
        }
        openssl(&self.dir, &args);
        self.private(&out);
        out
    }

    /// The certificate's public key as PEM, from openssl.
    pub fn public_key_pem(&self) -> PathBuf {
        let out = self.dir.join("pubkey.pem");
        let pem = openssl(
            &self.dir,
            &["x509", "-in", path_str(&self.cert), "-pubkey", "-noout"],
        );
        std::fs::write(&out, pem).expect("write the public key");
        out
    }

    /// The SHA-1 thumbprint as openssl prints it, as unpadded base64url.
    pub fn openssl_sha1_thumbprint(&self) -> String {
        let out = openssl(
            &self.dir,
            &[
                "x509",
                "-in",
                path_str(&self.cert),
                "-noout",
                "-fingerprint",
                "-sha1",
            ],
        );
        let text = String::from_utf8(out).expect("utf8");
        let hex = text.trim().rsplit('=').next().expect("a fingerprint");
        let bytes: Vec<u8> = hex
            .split(':')
            .map(|h| u8::from_str_radix(h, 16).expect("hex"))
            .collect();
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// `path` as UTF-8 (test paths are).
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Whether `openssl dgst` accepts `jwt`'s signature with the public key in
/// `pubkey` (PSS with a 32-byte salt for PS256, PKCS#1 v1.5 for RS256).
pub fn openssl_verifies(dir: &Path, jwt: &str, pubkey: &Path) -> bool {
    let (input, sig) = jwt.rsplit_once('.').expect("a JWT");
    let header = decode_part(input.split('.').next().expect("a header"));
    std::fs::write(dir.join("data.txt"), input).expect("write the signed data");
    std::fs::write(
        dir.join("sig.bin"),
        URL_SAFE_NO_PAD.decode(sig).expect("base64url signature"),
    )
    .expect("write the signature");
    let mut args = vec!["dgst", "-sha256"];
    if header["alg"] == "PS256" {
        args.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
        ]);
    }
    args.extend([
        "-verify",
        path_str(pubkey),
        "-signature",
        "sig.bin",
        "data.txt",
    ]);
    isolated("openssl", dir)
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("run openssl dgst")
        .status
        .success()
}

/// The JSON of one base64url JWT part.
pub fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url"))
        .expect("a JSON object")
}

/// A JWT's header and claims (no checks).
pub fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let header = decode_part(parts.next().expect("header"));
    let claims = decode_part(parts.next().expect("claims"));
    (header, claims)
}

/// Whether an assertion names a certificate (so it is not a federated token).
pub fn is_certificate_assertion(jwt: &str) -> bool {
    let Some(header) = jwt.split('.').next() else {
        return false;
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(header) else {
        return false;
    };
    serde_json::from_slice::<Value>(&bytes)
        .is_ok_and(|h| h.get("x5t").is_some() || h.get("x5t#S256").is_some())
}

fn thumbprints(der: &[u8]) -> (String, String) {
    use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
    (
        URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, der)),
        URL_SAFE_NO_PAD.encode(digest(&SHA256, der)),
    )
}

/// Judges a certificate client assertion sent to `url` for `client_id`
/// against the app's registered certificates (DER), recording its `jti`.
pub fn verify_assertion(
    registered: &[Vec<u8>],
    url: &str,
    client_id: &str,
    assertion: &str,
    used_jtis: &mut BTreeSet<String>,
) -> Result<(), Scripted> {
    let invalid = |code: u32, text: &str| Scripted::aadsts(401, "invalid_client", code, text);
    let Some((input, sig)) = assertion.rsplit_once('.') else {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation.",
        ));
    };
    let mut parts = input.split('.');
    let (Some(h), Some(c), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation.",
        ));
    };
    let parse = |p: &str| {
        URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    };
    let (Some(header), Some(claims)) = (parse(h), parse(c)) else {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation.",
        ));
    };
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (x5t, x5t256) = (s(&header, "x5t"), s(&header, "x5t#S256"));
    let cert = registered.iter().find(|der| {
        let (sha1, sha256) = thumbprints(der);
        (!x5t256.is_empty() && x5t256 == sha256) || (!x5t.is_empty() && x5t == sha1)
    });
    let Some(cert) = cert else {
        let text = format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']",
            if x5t256.is_empty() { &x5t } else { &x5t256 }
        );
        return Err(invalid(700027, &text));
    };
    let (_, parsed) = X509Certificate::from_der(cert).expect("registered certificates parse");
    let now = now_secs() as i64;
    let validity = parsed.validity();
    if now >= validity.not_after.timestamp() || now < validity.not_before.timestamp() {
        let text = format!(
            "The certificate with identifier used to sign the client assertion is expired on application. Expiry: {}",
            entra_timestamp(validity.not_after.timestamp().max(0) as u64)
        );
        return Err(invalid(7000274, &text));
    }
    let algorithm: &'static dyn ring::signature::VerificationAlgorithm =
        match s(&header, "alg").as_str() {
            "PS256" => &RSA_PSS_2048_8192_SHA256,
            "RS256" => &RSA_PKCS1_2048_8192_SHA256,
            _ => {
                return Err(invalid(
                    700027,
                    "Client assertion failed signature validation.",
                ));
            }
        };
    let public = parsed.public_key().subject_public_key.data.as_ref();
    let signature = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
    if UnparsedPublicKey::new(algorithm, public)
        .verify(input.as_bytes(), &signature)
        .is_err()
    {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation.",
        ));
    }
    if s(&claims, "aud") != url {
        return Err(invalid(
            700023,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    if s(&claims, "iss") != client_id || s(&claims, "sub") != client_id {
        return Err(invalid(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now || nbf > now + 300 {
        return Err(Scripted::aadsts(
            400,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    let jti = s(&claims, "jti");
    if jti.is_empty() || !used_jtis.insert(jti) {
        return Err(invalid(
            700027,
            "Client assertion contains a jti that was already used (a replayed assertion).",
        ));
    }
    Ok(())
}
