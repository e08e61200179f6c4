//! The certificate proof: a client assertion signed, for each token request,
//! with a certificate loaded for that request only (`load.rs` reads it,
//! `assertion.rs` signs).

mod assertion;
mod load;

use std::time::Instant;

use crate::config::{AssertionAlg, CertificateConfig};
use crate::identity::{AcquireCx, Error, SecretError};
use crate::sys::secret::Secret;
use crate::sys::time::{now, rfc3339};

pub use load::CertError;

/// A client assertion for `client_id`, freshly signed with the certificate
/// for the token endpoint `audience`; a password in the keyring is under
/// `keyring_account`.
pub fn sign(
    cert: &CertificateConfig,
    client_id: &str,
    audience: &str,
    keyring_account: &str,
    cx: &AcquireCx,
) -> Result<Secret<String>, Error> {
    let name = cx.identity;
    let CertificateConfig {
        path,
        private_key,
        password_env,
        password_keyring,
        send_chain,
        algorithm,
    } = cert;
    let fail = |cause: CertError| Error::Secret {
        identity: name.to_string(),
        cause: SecretError::Certificate(cause),
    };
    let password = match (password_env, password_keyring) {
        (Some(var), _) => Some(
            cx.env
                .get(var)
                .map(|v| Secret::new(v.to_string()))
                .ok_or_else(|| fail(CertError::PasswordUnset { var: var.clone() }))?,
        ),
        (None, true) => Some(super::secret::from_keyring(keyring_account, cx)?),
        (None, false) => None,
    };
    let started = Instant::now();
    let loaded = load::load(path, private_key.as_deref(), password.as_ref()).map_err(fail)?;
    drop(password);
    let now = now();
    let leaf = loaded.chain.first().map(Vec::as_slice).unwrap_or_default();
    if now < loaded.not_before || now >= loaded.not_after {
        let (state, at) = if now < loaded.not_before {
            ("is not valid until", loaded.not_before)
        } else {
            ("expired on", loaded.not_after)
        };
        cx.prompt.say(format_args!(
            "warning: identity '{name}': certificate {} (thumbprint {}) {state} {}; trying it anyway (Entra decides). Fix: create a new certificate and upload it to the app registration",
            path.display(),
            assertion::thumbprint_hex(leaf),
            rfc3339(at)
        ));
    }
    let request = assertion::Request {
        client_id,
        audience,
        algorithm: *algorithm,
        send_chain: *send_chain,
    };
    let jwt = assertion::sign(&loaded, &request, now).map_err(fail)?;
    cx.trace.decision(format_args!(
        "{name}: signed a {} client assertion with certificate {} (thumbprint {}, {} certificate(s){}) in {} us",
        match algorithm {
            AssertionAlg::Ps256 => "PS256",
            AssertionAlg::Rs256 => "RS256",
        },
        path.display(),
        assertion::thumbprint_hex(leaf),
        loaded.chain.len(),
        if *send_chain { ", sent as x5c" } else { "" },
        started.elapsed().as_micros()
    ));
    Ok(jwt)
}
