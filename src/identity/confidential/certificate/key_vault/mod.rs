//! A certificate kept in Key Vault as a secret, read with a managed
//! identity's token: `GET {secret}?api-version=7.4` with `Authorization:
//! Bearer`, answered `{"value", "contentType", "id", "attributes"}`. The
//! value is a base64 PFX (`application/x-pkcs12`) or PEM text with the key
//! (`application/x-pem-file`).
//!
//! The token comes from the managed-identity code of `managed-identity`
//! identities (same endpoint detection, retries and budget), for the
//! vault's resource. The secret goes through the invocation's outbound
//! client (git's proxy and CAs), is held only in buffers wiped on drop, and
//! is read once per token request: never on a cached `get`.

mod error;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use url::Url;
use zeroize::Zeroizing;

use crate::config::KeyVaultSecret;
use crate::identity::{AcquireCx, Error, ManagedIdentity};
use crate::net::answer::{
    BodyError, NoAnswer, Verdict, error_chain, read_capped, retry_after, verdict,
};
use crate::net::retry::{KEY_VAULT as POLICY, Step};
use crate::sys::secret::Secret;

pub use error::{KeyVaultError, KeyVaultFailure};

/// The Key Vault REST version asked for.
pub const API_VERSION: &str = "7.4";
/// The largest answer read: a secret's value is at most 25 KiB.
const MAX_ANSWER_BYTES: u64 = 256 * 1024;
const PKCS12: &str = "application/x-pkcs12";
const PEM: &str = "application/x-pem-file";

/// A secret's value as certificate bytes: a PFX's DER, or PEM text.
pub struct Fetched {
    /// Wiped when dropped.
    pub bytes: Zeroizing<Vec<u8>>,
    /// How the form was decided, for the trace.
    pub form: String,
}

/// The secret of `kv`, read as its managed identity with the budget
/// `mi_timeout_secs` for the token.
pub fn fetch(kv: &KeyVaultSecret, mi_timeout_secs: u64, cx: &AcquireCx) -> Result<Fetched, Error> {
    let fail = |failure| Error::KeyVault {
        identity: cx.identity.to_string(),
        source: Box::new(KeyVaultError::new(kv, failure)),
    };
    let for_vault = |e: Error| match e {
        Error::ManagedIdentity { source, .. } => fail(KeyVaultFailure::Token(source)),
        Error::Http { cause, .. } => fail(KeyVaultFailure::Http(cause)),
        other => other,
    };
    let mi = ManagedIdentity::detect(cx.identity, kv.reader.clone(), mi_timeout_secs, cx.env)
        .map_err(for_vault)?;
    let token = mi
        .token_for(cx, kv.resource)
        .map_err(for_vault)?
        .access_token;
    let http = cx
        .http
        .key_vault(&kv.url)
        .map_err(|e| fail(KeyVaultFailure::Http(e)))?;
    let mut url = Url::parse(&kv.url).map_err(|e| {
        fail(KeyVaultFailure::BadResponse {
            detail: e.to_string(),
        })
    })?;
    url.query_pairs_mut()
        .append_pair("api-version", API_VERSION);
    let started = Instant::now();
    let body = POLICY
        .run(
            cx.trace,
            |attempt| {
                let sent = Instant::now();
                let result = http
                    .get(url.clone())
                    .bearer_auth(token.expose())
                    .header("Accept", "application/json")
                    .timeout(attempt.timeout)
                    .send();
                let logged = |status: &dyn std::fmt::Display| {
                    cx.trace.detail(format_args!(
                        "key vault: GET {} -> {status} in {} ms",
                        kv.url,
                        sent.elapsed().as_millis()
                    ));
                };
                match result {
                    Ok(resp) => {
                        logged(&resp.status().as_u16());
                        judge(resp, &token)
                    }
                    Err(e) => {
                        logged(&"no answer");
                        let no = NoAnswer::of(&e);
                        let detail = clean(&error_chain(&e), &token);
                        // The vault's host: what a proxy's allow-list and NO_PROXY take.
                        let local = no.local_failure(&crate::net::authority(&url), &detail);
                        let failure = KeyVaultFailure::Transport {
                            local: local.is_some(),
                            detail: local.unwrap_or(detail),
                        };
                        if no.connect {
                            Step::Done(Err(failure))
                        } else {
                            Step::Transport { failure }
                        }
                    }
                }
            },
            |failure, attempts, waited| match failure {
                KeyVaultFailure::Unavailable { status, .. } => KeyVaultFailure::Unavailable {
                    status,
                    attempts,
                    waited,
                },
                other => other,
            },
        )
        .map_err(fail)?;
    drop(token);
    let fetched = value(&body).map_err(fail)?;
    cx.trace.decision(format_args!(
        "{}: read the certificate from {} as {} in {} ms ({}, {} bytes)",
        cx.identity,
        kv.describe(),
        crate::identity::managed_identity::the_identity(&kv.reader),
        started.elapsed().as_millis(),
        fetched.form,
        fetched.bytes.len()
    ));
    Ok(fetched)
}

/// Server or library text made safe to show: never the vault token.
fn clean(text: &str, token: &Secret<String>) -> String {
    crate::sys::text::sanitize_hiding(text, &[("token", token.expose())])
}

/// One answer: the body of a 200, a retry, or the refusal.
fn judge(
    resp: reqwest::blocking::Response,
    token: &Secret<String>,
) -> Step<Zeroizing<Vec<u8>>, KeyVaultFailure> {
    let status = resp.status().as_u16();
    let verdict = verdict(status, &POLICY);
    if verdict == Verdict::Unavailable {
        let retry_after = retry_after(&resp);
        return Step::Status {
            status,
            failure: KeyVaultFailure::Unavailable {
                status,
                attempts: 1,
                waited: Duration::ZERO,
            },
            retry_after,
        };
    }
    let body = match read_capped(resp, MAX_ANSWER_BYTES) {
        Ok(body) => Zeroizing::new(body),
        Err(BodyError::TooLarge | BodyError::NotText) => {
            return Step::Done(Err(KeyVaultFailure::BadResponse {
                detail: format!("HTTP {status}, larger than {} KiB", MAX_ANSWER_BYTES / 1024),
            }));
        }
        Err(BodyError::Broken(e)) => {
            return Step::Transport {
                failure: KeyVaultFailure::Transport {
                    detail: clean(&format!("reading the answer failed: {e}"), token),
                    local: false,
                },
            };
        }
    };
    if verdict == Verdict::Ok {
        return Step::Done(Ok(body));
    }
    let (code, message) = error::error_body(&String::from_utf8_lossy(&body), token.expose());
    Step::Done(Err(match status {
        401 => KeyVaultFailure::Unauthorized { message },
        403 => KeyVaultFailure::Forbidden { code, message },
        404 => KeyVaultFailure::NotFound { code, message },
        _ => KeyVaultFailure::Refused {
            status,
            code,
            message,
        },
    }))
}

/// The fields of a secret bundle read here (`id` and `attributes` are not).
#[derive(Deserialize)]
struct Bundle {
    value: Option<String>,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
}

/// The certificate bytes in a 200 answer, by its content type, or by its
/// content when the type is missing or unknown.
fn value(body: &[u8]) -> Result<Fetched, KeyVaultFailure> {
    let bad = |detail: &str| KeyVaultFailure::BadResponse {
        detail: detail.into(),
    };
    let bundle: Bundle = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let text = Zeroizing::new(bundle.value.ok_or_else(|| bad("no \"value\""))?);
    let declared = bundle.content_type.as_deref().map(|t| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let pem_text = text.contains("-----BEGIN ");
    let (pfx, form) = match declared.as_deref() {
        Some(PKCS12) => (true, format!("PFX, content type {PKCS12}")),
        Some(PEM) => (false, format!("PEM, content type {PEM}")),
        other => {
            let said = other.map_or_else(
                || "no content type".to_string(),
                |t| format!("content type {}", crate::sys::text::sanitize(t)),
            );
            if pem_text {
                (false, format!("PEM, by its content ({said})"))
            } else {
                (true, format!("base64 PFX, by its content ({said})"))
            }
        }
    };
    let bytes =
        if pfx {
            let compact: Zeroizing<Vec<u8>> =
                Zeroizing::new(text.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
            Zeroizing::new(STANDARD.decode(&compact[..]).map_err(|_| {
                KeyVaultFailure::BadBase64 {
                    content_type: declared.unwrap_or_else(|| "missing".into()),
                }
            })?)
        } else {
            Zeroizing::new(text.as_bytes().to_vec())
        };
    Ok(Fetched { bytes, form })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(value: &str, content_type: Option<&str>) -> Vec<u8> {
        let mut v = serde_json::json!({
            "value": value,
            "id": "https://kv1.vault.azure.net/secrets/c/0123456789abcdef0123456789abcdef",
            "attributes": {"enabled": true, "created": 1_700_000_000, "updated": 1_700_000_000},
        });
        if let Some(t) = content_type {
            v["contentType"] = t.into();
        }
        v.to_string().into_bytes()
    }

    #[test]
    fn the_content_type_decides_and_else_the_content() {
        let pfx = STANDARD.encode(b"\x30\x82pfx-bytes");
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let read = |value: &str, t| value_of(&bundle(value, t));
        let (bytes, form) = read(&pfx, Some("application/x-pkcs12"));
        assert_eq!(&bytes[..], b"\x30\x82pfx-bytes");
        assert_eq!(form, "PFX, content type application/x-pkcs12");
        let (bytes, form) = read(pem, Some("application/x-pem-file"));
        assert_eq!(&bytes[..], pem.as_bytes());
        assert_eq!(form, "PEM, content type application/x-pem-file");
        let (_, form) = read(pem, None);
        assert_eq!(form, "PEM, by its content (no content type)");
        let (bytes, form) = read(&pfx, Some("text/plain"));
        assert_eq!(&bytes[..], b"\x30\x82pfx-bytes");
        assert_eq!(form, "base64 PFX, by its content (content type text/plain)");
        // Base64 broken over lines is still the same PFX.
        let wrapped = format!("{}\n{}", &pfx[..4], &pfx[4..]);
        assert_eq!(
            &read(&wrapped, Some("Application/X-PKCS12")).0[..],
            b"\x30\x82pfx-bytes"
        );
    }

    fn value_of(body: &[u8]) -> (Vec<u8>, String) {
        match value(body) {
            Ok(f) => (f.bytes.to_vec(), f.form),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn answers_that_hold_no_certificate_bytes_are_refused() {
        assert!(matches!(
            value(&bundle("not base64 at all!", Some("application/x-pkcs12"))),
            Err(KeyVaultFailure::BadBase64 { .. })
        ));
        assert!(matches!(
            value(b"<html>"),
            Err(KeyVaultFailure::BadResponse { .. })
        ));
        assert!(matches!(
            value(br#"{"id":"x"}"#),
            Err(KeyVaultFailure::BadResponse { .. })
        ));
    }
}
