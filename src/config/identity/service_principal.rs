//! `service-principal`: an application with a client secret or a certificate.

use std::path::PathBuf;

use super::IdentityKind;
use super::key_vault::{self, KeyVaultSecret};
use crate::config::ConfigError;
use crate::config::fields::Obj;

/// A service principal's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipalConfig {
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// How it proves itself: exactly one credential.
    pub credential: Credential,
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

/// A service principal's credential. Never on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A client secret.
    Secret(SecretSource),
    /// A certificate signing a client assertion.
    Certificate(CertificateConfig),
}

impl Credential {
    /// Whether `secret set` keeps something of it in the OS keyring: the
    /// client secret, or the certificate's password.
    pub fn in_keyring(&self) -> bool {
        matches!(
            self,
            Credential::Secret(SecretSource::Keyring)
                | Credential::Certificate(CertificateConfig {
                    password_keyring: true,
                    ..
                })
        )
    }
}

/// Where a client secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `client_secret_env`: an environment variable's name.
    Env(String),
    /// `client_secret_file`: a file only its owner can read.
    File(PathBuf),
    /// `client_secret_keyring: true`: stored with `secret set`.
    Keyring,
}

/// `certificate`: PEM or PFX, signing a client assertion; the key may be in
/// a second PEM file (`private_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateConfig {
    /// Where the certificate (and its key) is read from.
    pub source: CertSource,
    pub private_key: Option<PathBuf>,
    /// The variable holding the key's password.
    pub password_env: Option<String>,
    /// The key's password is in the OS keyring (`secret set`).
    pub password_keyring: bool,
    /// Send the chain (`x5c`), for subject name/issuer authentication.
    pub send_chain: bool,
    pub algorithm: AssertionAlg,
}

/// Where a certificate is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// A PEM or PFX file.
    File(PathBuf),
    /// A Key Vault secret, read with a managed identity.
    KeyVault(Box<KeyVaultSecret>),
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
        "key_vault_identity",
        "authority_host",
    ])?;
    let mut sources: Vec<(&str, Credential)> = Vec::new();
    let secret = Credential::Secret;
    if let Some(var) = o.string("client_secret_env")? {
        sources.push(("client_secret_env", secret(SecretSource::Env(var))));
    }
    if let Some(file) = o.path_value("client_secret_file")? {
        sources.push(("client_secret_file", secret(SecretSource::File(file))));
    }
    if o.boolean("client_secret_keyring")? == Some(true) {
        sources.push(("client_secret_keyring", secret(SecretSource::Keyring)));
    }
    if let Some(raw) = o.string("certificate")? {
        let source = if key_vault::is_url(&raw) {
            if o.get("private_key").is_some() {
                return Err(o.err(
                    "private_key",
                    "applies to a certificate file only; a Key Vault secret holds the key with the certificate. Fix: remove private_key",
                ));
            }
            CertSource::KeyVault(Box::new(key_vault::parse(o, &raw)?))
        } else {
            if o.get("key_vault_identity").is_some() {
                return Err(o.err(
                    "key_vault_identity",
                    "only applies when \"certificate\" is a Key Vault secret URL (https://VAULT.vault.azure.net/secrets/NAME). Fix: remove key_vault_identity, or set certificate to the secret's URL",
                ));
            }
            CertSource::File(o.cx.file_path(&raw))
        };
        let cert = certificate(o, source)?;
        sources.push(("certificate", Credential::Certificate(cert)));
    } else if let Some(k) = CERT_ONLY
        .iter()
        .chain(&["key_vault_identity"])
        .find(|k| o.get(k).is_some())
    {
        return Err(o.err(k, "only applies together with \"certificate\""));
    }
    let credential = match sources.len() {
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
        credential,
        authority_host: o.authority_host("authority_host")?,
    }))
}

fn certificate(o: &Obj, source: CertSource) -> Result<CertificateConfig, ConfigError> {
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
    Ok(CertificateConfig {
        source,
        private_key: o.path_value("private_key")?,
        password_env,
        password_keyring,
        send_chain: o.boolean("send_certificate_chain")?.unwrap_or(false),
        algorithm,
    })
}
