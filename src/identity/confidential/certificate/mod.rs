//! The certificate proof: a client assertion signed, for each token request,
//! with a certificate loaded for that request only (`load.rs` reads it from
//! its file or from the bytes `key_vault/` read, `assertion.rs` signs).

mod assertion;
mod key_vault;
mod load;

use std::path::Path;
use std::time::Instant;

use crate::config::{AssertionAlg, CertSource, CertificateConfig};
use crate::identity::managed_identity::the_identity;
use crate::identity::{AcquireCx, Error, SecretError};
use crate::sys::secret::Secret;
use crate::sys::time::{now, rfc3339};

pub use key_vault::{KeyVaultError, KeyVaultFailure};
pub use load::CertError;

/// What `doctor` shows of a certificate (never its key).
#[derive(Debug, Clone)]
pub struct CertificateFacts {
    /// Where it was read from.
    pub source: String,
    /// SHA-1 thumbprint, upper-case hex, as the Azure portal shows it.
    pub thumbprint: String,
    /// The leaf's validity, seconds since the epoch.
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
}

/// Where `cert` comes from, for messages: its file(s), or its Key Vault
/// secret and the identity that reads it.
pub fn describe(cert: &CertificateConfig) -> String {
    match (&cert.source, &cert.private_key) {
        (CertSource::File(path), Some(key)) => {
            format!("certificate {} with key {}", path.display(), key.display())
        }
        (CertSource::File(path), None) => format!("certificate {}", path.display()),
        (CertSource::KeyVault(kv), _) => format!(
            "certificate from {} read by {}",
            kv.describe(),
            the_identity(&kv.reader)
        ),
    }
}

/// Loads `cert` for one use: its password from the environment or the
/// keyring (under `keyring_account`), then its file or its Key Vault secret
/// (read as the identity's managed identity within `mi_timeout_secs`).
fn obtain(
    cert: &CertificateConfig,
    mi_timeout_secs: u64,
    keyring_account: &str,
    cx: &AcquireCx,
) -> Result<load::Loaded, Error> {
    let name = cx.identity;
    let fail = |cause: CertError| Error::Secret {
        identity: name.to_string(),
        cause: SecretError::Certificate(cause),
    };
    let password = match (&cert.password_env, cert.password_keyring) {
        (Some(var), _) => Some(
            cx.env
                .get(var)
                .map(|v| Secret::new(v.to_string()))
                .ok_or_else(|| fail(CertError::PasswordUnset { var: var.clone() }))?,
        ),
        (None, true) => Some(super::secret::from_keyring(keyring_account, cx)?),
        (None, false) => None,
    };
    match &cert.source {
        CertSource::File(path) => {
            load::load(path, cert.private_key.as_deref(), password.as_ref()).map_err(fail)
        }
        CertSource::KeyVault(kv) => {
            let fetched = key_vault::fetch(kv, mi_timeout_secs, cx)?;
            load::from_bytes(Path::new(&kv.url), &fetched.bytes[..], password.as_ref()).map_err(
                |cause| Error::KeyVault {
                    identity: name.to_string(),
                    source: Box::new(KeyVaultError::new(kv, KeyVaultFailure::Certificate(cause))),
                },
            )
        }
    }
}

/// A client assertion for `client_id`, freshly signed with the certificate
/// for the token endpoint `audience`; a password in the keyring is under
/// `keyring_account`.
pub fn sign(
    cert: &CertificateConfig,
    mi_timeout_secs: u64,
    client_id: &str,
    audience: &str,
    keyring_account: &str,
    cx: &AcquireCx,
) -> Result<Secret<String>, Error> {
    let name = cx.identity;
    let started = Instant::now();
    let loaded = obtain(cert, mi_timeout_secs, keyring_account, cx)?;
    let now = now();
    let leaf = loaded.chain.first().map(Vec::as_slice).unwrap_or_default();
    if now < loaded.not_before || now >= loaded.not_after {
        let (state, at) = if now < loaded.not_before {
            ("is not valid until", loaded.not_before)
        } else {
            ("expired on", loaded.not_after)
        };
        cx.prompt.say(format_args!(
            "warning: identity '{name}': {} (thumbprint {}) {state} {}; trying it anyway (Entra decides). Fix: create a new certificate and upload it to the app registration",
            describe(cert),
            assertion::thumbprint_hex(leaf),
            rfc3339(at)
        ));
    }
    let request = assertion::Request {
        client_id,
        audience,
        algorithm: cert.algorithm,
        send_chain: cert.send_chain,
    };
    let jwt = assertion::sign(&loaded, &request, now).map_err(|cause| Error::Secret {
        identity: name.to_string(),
        cause: SecretError::Certificate(cause),
    })?;
    cx.trace.decision(format_args!(
        "{name}: signed a {} client assertion with {} (thumbprint {}, {} certificate(s){}) in {} us",
        match cert.algorithm {
            AssertionAlg::Ps256 => "PS256",
            AssertionAlg::Rs256 => "RS256",
        },
        describe(cert),
        assertion::thumbprint_hex(leaf),
        loaded.chain.len(),
        if cert.send_chain { ", sent as x5c" } else { "" },
        started.elapsed().as_micros()
    ));
    Ok(jwt)
}

/// The certificate's thumbprint and validity, loaded (or fetched) as for a
/// token request and dropped at once: `doctor`'s view of it.
pub fn inspect(
    cert: &CertificateConfig,
    mi_timeout_secs: u64,
    keyring_account: &str,
    cx: &AcquireCx,
) -> Result<CertificateFacts, Error> {
    let loaded = obtain(cert, mi_timeout_secs, keyring_account, cx)?;
    let leaf = loaded.chain.first().map(Vec::as_slice).unwrap_or_default();
    Ok(CertificateFacts {
        source: describe(cert),
        thumbprint: assertion::thumbprint_hex(leaf),
        not_before: loaded.not_before,
        not_after: loaded.not_after,
    })
}
