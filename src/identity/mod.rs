//! From an identity name to something that can get a token.
//!
//! Resolution happens before the cache is consulted, so a type that cannot
//! work yet (or an `auto` that finds nothing) fails clearly instead of
//! silently serving or missing. Each resolved identity knows its cache
//! fingerprint and how to acquire a fresh token.

mod service_principal;

use std::fmt;

use crate::cache::Fingerprint;
use crate::config::{
    AUTO, AutoConfig, Config, EnvironmentConfig, IdentityKind, SecretSource,
    ServicePrincipalConfig, check_authority_host,
};
use crate::env::Env;
use crate::error::Error;
use crate::token::AccessToken;
use crate::trace::Trace;

pub use service_principal::ServicePrincipal;

/// Entra's public-cloud authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// An identity ready to produce tokens.
#[derive(Debug)]
pub struct Resolved {
    /// The config name (`auto` for the built-in).
    pub name: String,
    /// What produces its tokens.
    pub source: Source,
}

/// Token sources available in this version.
#[derive(Debug)]
pub enum Source {
    /// Client credentials for an application (configured or from `AZURE_*`).
    App(ServicePrincipal),
}

impl Resolved {
    /// The cache key of the principal behind this identity.
    pub fn fingerprint(&self) -> Fingerprint {
        match &self.source {
            Source::App(sp) => sp.fingerprint(),
        }
    }

    /// The type name shown to users.
    pub fn kind(&self) -> &'static str {
        match &self.source {
            Source::App(sp) => sp.origin,
        }
    }

    /// Gets a new token from the source (no cache involved).
    pub fn acquire(&self, env: &Env, trace: &Trace) -> Result<AccessToken, Error> {
        match &self.source {
            Source::App(sp) => sp.acquire(&self.name, env, trace),
        }
    }
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::App(sp) => write!(
                f,
                "'{}' ({}, tenant {}, client {}, {})",
                self.name,
                sp.origin,
                sp.tenant,
                sp.client_id,
                sp.secret.describe()
            ),
        }
    }
}

/// Resolves identity `name` (already validated to exist, or `auto`).
pub fn resolve(name: &str, config: &Config, env: &Env) -> Result<Resolved, Error> {
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
    let not_yet = |kind: &'static str| Error::NotAvailable {
        identity: name.to_string(),
        kind,
    };
    let source = match kind {
        IdentityKind::ServicePrincipal(sp) => {
            if matches!(sp.secret, SecretSource::Certificate { .. }) {
                return Err(not_yet("service-principal with a certificate"));
            }
            Source::App(ServicePrincipal::configured(
                sp,
                authority(sp.authority_host.as_deref(), config, env)?,
            ))
        }
        IdentityKind::Environment(EnvironmentConfig { authority_host })
        | IdentityKind::Auto(AutoConfig { authority_host }) => {
            let authority = authority(authority_host.as_deref(), config, env)?;
            match ServicePrincipal::from_environment(env, authority)? {
                EnvCredential::Secret(sp) => Source::App(sp),
                EnvCredential::Unsupported(what) => return Err(not_yet(what)),
                EnvCredential::Missing(_) if matches!(kind, IdentityKind::Auto(_)) => {
                    return Err(Error::NoAutoSource {
                        identity: name.to_string(),
                        file: config.describe_file(),
                    });
                }
                EnvCredential::Missing(missing) => {
                    return Err(Error::Secret {
                        identity: name.to_string(),
                        problem: format!(
                            "the environment identity needs {missing}. Fix: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET in the environment git runs in"
                        ),
                    });
                }
            }
        }
        IdentityKind::ManagedIdentity(_) => return Err(not_yet("managed-identity")),
        IdentityKind::WorkloadIdentity(_) => return Err(not_yet("workload-identity")),
        IdentityKind::AzureCli(_) => return Err(not_yet("azure-cli")),
        IdentityKind::User(_) => return Err(not_yet("user")),
        IdentityKind::PipelineToken(_) => return Err(not_yet("pipeline-token")),
    };
    Ok(Resolved {
        name: name.to_string(),
        source,
    })
}

/// What the `AZURE_*` variables describe.
pub enum EnvCredential {
    /// Tenant, client id and secret.
    Secret(ServicePrincipal),
    /// A credential kind this version cannot use yet.
    Unsupported(&'static str),
    /// Which variables are missing.
    Missing(String),
}

/// Authority host: identity, else file, else `AZURE_AUTHORITY_HOST`, else public cloud.
fn authority(identity: Option<&str>, config: &Config, env: &Env) -> Result<String, Error> {
    if let Some(a) = identity.or(config.authority_host.as_deref()) {
        return Ok(a.to_string());
    }
    match env.get("AZURE_AUTHORITY_HOST") {
        Some(raw) => check_authority_host(raw).map_err(|problem| Error::Environment {
            var: "AZURE_AUTHORITY_HOST",
            problem,
        }),
        None => Ok(DEFAULT_AUTHORITY.to_string()),
    }
}

/// Builds the service principal of a config entry (for `secret set`).
pub fn configured_app(
    sp: &ServicePrincipalConfig,
    config: &Config,
    env: &Env,
) -> Result<ServicePrincipal, Error> {
    Ok(ServicePrincipal::configured(
        sp,
        authority(sp.authority_host.as_deref(), config, env)?,
    ))
}
