//! `service-principal`: an application with a client secret or a certificate.

use std::path::PathBuf;

use super::IdentityKind;
use crate::config::ConfigError;
use crate::config::fields::Obj;

/// A service principal's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipalConfig {
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Where its credential comes from: exactly one source.
    pub secret: SecretSource,
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

/// Where a service principal's credential lives. Never on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `client_secret_env`: an environment variable's name.
    Env(String),
    /// `client_secret_file`: a file only its owner can read.
    File(PathBuf),
    /// `client_secret_keyring: true`: stored with `secret set`.
    Keyring,
    /// `certificate`: PEM or PFX, signing a client assertion; the key may be
    /// in a second PEM file (`private_key`).
    Certificate {
        path: PathBuf,
        private_key: Option<PathBuf>,
        password_env: Option<String>,
        password_keyring: bool,
        send_chain: bool,
        algorithm: AssertionAlg,
    },
}

/// Client-assertion signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlg {
    /// RSASSA-PSS with `x5t#S256` (Entra's current recommendation).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with `x5t`.
    Rs256,
}

const CERT_ONLY: [&str; 5] = [
    "private_key",
    "certificate_password_env",
    "certificate_password_keyring",
    "send_certificate_chain",
    "assertion_algorithm",
];

pub(super) fn parse(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    o.allow(&[
        "type",
        "tenant",
        "client_id",
        "client_secret_env",
        "client_secret_file",
        "client_secret_keyring",
        "certificate",
        "private_key",
        "certificate_password_env",
        "certificate_password_keyring",
        "send_certificate_chain",
        "assertion_algorithm",
        "authority_host",
    ])?;
    let mut sources: Vec<(&str, SecretSource)> = Vec::new();
    if let Some(var) = o.string("client_secret_env")? {
        sources.push(("client_secret_env", SecretSource::Env(var)));
    }
    if let Some(file) = o.path_value("client_secret_file")? {
        sources.push(("client_secret_file", SecretSource::File(file)));
    }
    if o.boolean("client_secret_keyring")? == Some(true) {
        sources.push(("client_secret_keyring", SecretSource::Keyring));
    }
    if let Some(cert) = o.path_value("certificate")? {
        sources.push(("certificate", certificate(o, cert)?));
    } else if let Some(k) = CERT_ONLY.iter().find(|k| o.get(k).is_some()) {
        return Err(o.err(k, "only applies together with \"certificate\""));
    }
    let secret = match sources.len() {
        1 => sources.pop().map(|(_, s)| s).expect("one source"),
        0 => {
            return Err(o.err(
                "client_secret_env",
                &format!(
                    "a service principal needs exactly one of client_secret_env, client_secret_file, client_secret_keyring, certificate (in {})",
                    o.path
                ),
            ));
        }
        _ => {
            return Err(o.err(
                sources[1].0,
                &format!(
                    "conflicts with {}: a service principal takes exactly one secret source",
                    sources[0].0
                ),
            ));
        }
    };
    Ok(IdentityKind::ServicePrincipal(ServicePrincipalConfig {
        tenant: o.required_tenant("tenant")?,
        client_id: o.required_guid("client_id")?,
        secret,
        authority_host: o.authority_host("authority_host")?,
    }))
}

fn certificate(o: &Obj, path: PathBuf) -> Result<SecretSource, ConfigError> {
    let algorithm = match o.string("assertion_algorithm")?.as_deref() {
        None | Some("PS256") => AssertionAlg::Ps256,
        Some("RS256") => AssertionAlg::Rs256,
        Some(_) => {
            return Err(o.err(
                "assertion_algorithm",
                "must be \"PS256\" (default) or \"RS256\"",
            ));
        }
    };
    let password_env = o.string("certificate_password_env")?;
    let password_keyring = o.boolean("certificate_password_keyring")?.unwrap_or(false);
    if password_env.is_some() && password_keyring {
        return Err(o.err(
            "certificate_password_keyring",
            "conflicts with certificate_password_env: keep one",
        ));
    }
    Ok(SecretSource::Certificate {
        path,
        private_key: o.path_value("private_key")?,
        password_env,
        password_keyring,
        send_chain: o.boolean("send_certificate_chain")?.unwrap_or(false),
        algorithm,
    })
}
