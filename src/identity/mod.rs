//! From an identity name to something that can get a token.
//!
//! Every kind of identity is a [`TokenSource`]. Resolution is cheap and does
//! no I/O: it yields the source's description and cache fingerprint, so a
//! cache hit never touches the network, a keyring or a child process; only
//! [`TokenSource::acquire`] does. A type that cannot work yet (or an `auto`
//! that finds nothing) fails at resolution, clearly, before the cache.
//!
//! Adding a source: a [`Kind`] (with its cache tag), a file here
//! implementing [`TokenSource`], its config parse function
//! (`config/identity/`), and one line in [`resolve`]. An application that
//! proves itself in a new way is not a new source but a new proof of the
//! one confidential client (`confidential/`).

mod auto;
mod azure_cli;
mod azure_developer_cli;
mod azure_powershell;
mod confidential;
mod context;
mod devtool;
mod environment;
mod error;
mod federation;
mod managed_identity;
mod pipeline;
mod user;

use std::fmt;
use std::path::Path;

use crate::azure_devops::RESOURCE;
use crate::cache::Fingerprint;
use crate::config::{
    AUTO, AutoConfig, Config, EnvironmentConfig, IdentityKind, PipelineTokenConfig,
    ServicePrincipalConfig, check_authority_host,
};
use crate::sys::env::Env;
use crate::token::AccessToken;

pub use crate::config::Kind;
pub use crate::sys::interactivity::Interactivity;
pub use auto::ImdsProbe;
pub use azure_cli::AzureCli;
pub use azure_developer_cli::AzureDeveloperCli;
pub use azure_powershell::AzurePowerShell;
pub use confidential::{CertError, CertificateFacts, ConfidentialClient, KeyVaultError};
pub use context::AcquireCx;
pub use devtool::DevToolError;
pub use environment::EnvCredential;
pub use error::{Error, SecretError, Skipped};
pub use federation::FederationError;
pub use managed_identity::{ManagedIdentity, MiError};
pub use pipeline::{PipelineToken, system_accesstoken_hint};
pub use user::User;

/// Entra's public-cloud authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// A kind of identity that can produce access tokens.
pub trait TokenSource {
    /// Its type (`environment` for a credential the `AZURE_*` variables
    /// describe, whichever it is).
    fn kind(&self) -> Kind;
    /// Tenant, client and where the credential comes from — never a secret.
    fn describe(&self) -> String;
    /// The cache key of the principal (shared by every config name for it).
    fn fingerprint(&self) -> Fingerprint;
    /// The cache key of the token this request gets, when it depends on
    /// the request (a user's tenant, discovered per organization); `None`:
    /// [`TokenSource::fingerprint`].
    fn fingerprint_for(&self, _cx: &AcquireCx) -> Option<Fingerprint> {
        None
    }
    /// Every key this identity may have tokens under (`cache`, `logout`).
    fn fingerprints(&self, _cache_dir: Option<&Path>) -> Vec<Fingerprint> {
        vec![self.fingerprint()]
    }
    /// Whether its tokens may be cached (the pipeline job token may not).
    fn cacheable(&self) -> bool {
        true
    }
    /// A fresh token, no cache involved.
    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error>;
    /// The certificate it signs with, loaded now (`doctor`); `None`: it
    /// uses none.
    fn certificate(&self, _cx: &AcquireCx) -> Option<Result<CertificateFacts, Error>> {
        None
    }
}

/// An identity ready to produce tokens.
pub struct Resolved {
    /// The config name (`auto` for the built-in).
    pub name: String,
    source: Box<dyn TokenSource>,
    fingerprint: Fingerprint,
}

impl Resolved {
    /// Wraps a source under its config name, computing its fingerprint once.
    pub fn new(name: &str, source: Box<dyn TokenSource>) -> Resolved {
        Resolved {
            name: name.to_string(),
            fingerprint: source.fingerprint(),
            source,
        }
    }

    /// The cache key of the principal behind this identity.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint.clone()
    }

    /// The cache key of the token for this request (see
    /// [`TokenSource::fingerprint_for`]).
    pub fn fingerprint_for(&self, cx: &AcquireCx) -> Fingerprint {
        self.source
            .fingerprint_for(cx)
            .unwrap_or_else(|| self.fingerprint.clone())
    }

    /// Every key this identity may have tokens under.
    pub fn fingerprints(&self, cache_dir: Option<&Path>) -> Vec<Fingerprint> {
        self.source.fingerprints(cache_dir)
    }

    /// Its type.
    pub fn kind(&self) -> Kind {
        self.source.kind()
    }

    /// Whether its tokens may be cached.
    pub fn cacheable(&self) -> bool {
        self.source.cacheable()
    }

    /// The certificate the identity signs with, when it uses one, loaded
    /// (or fetched from Key Vault) now: for `doctor`.
    pub fn certificate(&self, cx: &AcquireCx) -> Option<Result<CertificateFacts, Error>> {
        self.source.certificate(cx)
    }

    /// Gets a new token from the source (no cache involved).
    pub fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        self.source.acquire(cx)
    }
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' ({})", self.name, self.source.describe())
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The cache key of the tokens of `principal` in `tenant` at `authority`,
/// an identity of type `kind`, for Azure DevOps. `environment` and `auto`
/// have no tag (see [`Kind::cache_tag`]): their sources pass the type whose
/// keys they share, and the cache-key test pins every source's key.
fn key(kind: Kind, authority: &str, tenant: &str, principal: &str) -> Fingerprint {
    let tag = kind.cache_tag().unwrap_or(kind.config_name());
    Fingerprint::of(tag, authority, tenant, principal, RESOURCE)
}

/// Resolves identity `name` (already validated to exist, or `auto`).
pub fn resolve(
    name: &str,
    config: &Config,
    env: &Env,
    probe: &ImdsProbe,
    interactivity: Interactivity,
) -> Result<Resolved, Error> {
    let auto = IdentityKind::Auto(AutoConfig::default());
    let kind = match config.identities.get(name) {
        Some(kind) => kind,
        None if name == AUTO => &auto,
        None => {
            return Err(Error::UnknownIdentity {
                name: name.to_string(),
                file: config.describe_file(),
                known: config.identities.keys().cloned().collect(),
            });
        }
    };
    let source: Box<dyn TokenSource> = match kind {
        IdentityKind::ServicePrincipal(sp) => Box::new(configured_app(sp, config, env)?),
        IdentityKind::Auto(AutoConfig { authority_host }) => {
            // Read only by the link that uses it.
            let authority = || authority(authority_host.as_deref(), config, env);
            auto::resolve(name, &authority, config, env, probe, interactivity)?
        }
        IdentityKind::Environment(EnvironmentConfig { authority_host }) => {
            let authority = || authority(authority_host.as_deref(), config, env);
            match environment::credential(env, &authority)? {
                EnvCredential::Found(found) => Box::new(found),
                EnvCredential::Missing(missing) => {
                    return Err(Error::Secret {
                        identity: name.to_string(),
                        cause: SecretError::EnvironmentIncomplete { missing },
                    });
                }
            }
        }
        IdentityKind::ManagedIdentity(mi) => {
            Box::new(ManagedIdentity::configured(name, mi, config, env)?)
        }
        IdentityKind::WorkloadIdentity(c) => {
            let authority = authority(c.authority_host.as_deref(), config, env)?;
            Box::new(ConfidentialClient::workload(
                name, c, authority, config, env,
            )?)
        }
        IdentityKind::AzureCli(c) => Box::new(AzureCli::configured(c)),
        IdentityKind::AzurePowerShell(c) => Box::new(AzurePowerShell::configured(c)),
        IdentityKind::AzureDeveloperCli(c) => Box::new(AzureDeveloperCli::configured(c)),
        IdentityKind::User(c) => {
            let authority = authority(c.authority_host.as_deref(), config, env)?;
            Box::new(User::configured(
                name,
                c,
                authority,
                config.secret_variables(),
            ))
        }
        IdentityKind::PipelineToken(PipelineTokenConfig { variable }) => Box::new(PipelineToken {
            variable: variable.clone(),
        }),
    };
    Ok(Resolved::new(name, source))
}

/// Authority host: identity, else file, else `AZURE_AUTHORITY_HOST`, else public cloud.
fn authority(identity: Option<&str>, config: &Config, env: &Env) -> Result<String, Error> {
    if let Some(a) = identity.or(config.authority_host.as_deref()) {
        return Ok(a.to_string());
    }
    match env.get("AZURE_AUTHORITY_HOST") {
        Some(raw) => {
            check_authority_host(&with_scheme(raw)).map_err(|problem| Error::Environment {
                var: "AZURE_AUTHORITY_HOST",
                problem,
            })
        }
        None => Ok(DEFAULT_AUTHORITY.to_string()),
    }
}

/// Azure's SDKs read an `AZURE_AUTHORITY_HOST` without a scheme (the form
/// of their own `AzureAuthorityHosts` constants, `login.microsoftonline.us`)
/// as `https://…`; one with a scheme is taken as written.
fn with_scheme(raw: &str) -> String {
    if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    }
}

/// Builds the service principal of a config entry (also for `secret set`).
pub fn configured_app(
    sp: &ServicePrincipalConfig,
    config: &Config,
    env: &Env,
) -> Result<ConfidentialClient, Error> {
    Ok(ConfidentialClient::service_principal(
        sp,
        authority(sp.authority_host.as_deref(), config, env)?,
        config.managed_identity_timeout_seconds,
    ))
}

/// Builds the user identity `name` of a config entry (for `login` and `logout`).
pub fn configured_user(
    name: &str,
    c: &crate::config::UserConfig,
    config: &Config,
    env: &Env,
) -> Result<User, Error> {
    Ok(User::configured(
        name,
        c,
        authority(c.authority_host.as_deref(), config, env)?,
        config.secret_variables(),
    ))
}

#[cfg(test)]
mod tests;
