//! `managed-identity`: the Azure resource's own identity, with no secret
//! anywhere. Which endpoint answers is detected from the environment the
//! platform sets, in this order: App Service / Functions, Azure Arc (its
//! variables, or its agent installed), Cloud Shell, else the VM's IMDS.
//!
//! Detection reads variables and, for Arc, whether one file exists: no
//! network, so resolving (and a cache hit) stays cheap, and the detected
//! endpoint is part of the cache key (an App Service token and an IMDS token
//! never collide). The exchange itself, with its retries, is `exchange.rs`;
//! Arc's challenge is `arc.rs`.

mod arc;
mod error;
mod exchange;

use std::path::PathBuf;
use std::time::Duration;

use crate::cache::Fingerprint;
use crate::config::{Config, ManagedIdentityConfig, MiSelector};
use crate::identity::Error;
use crate::net::http::managed_identity_endpoint_ok;
use crate::sys::env::Env;
use crate::sys::secret::Secret;
use crate::token::{AccessToken, TokenResponse};

use super::{AcquireCx, Kind, TokenSource};

pub use error::{MiError, MiFailure};

/// IMDS's address on every Azure VM.
pub const IMDS_AUTHORITY: &str = "http://169.254.169.254";
/// The Arc agent's endpoint when only the agent (not its variables) is found.
pub const ARC_DEFAULT_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";
/// The longest retry budget accepted from a config (an hour).
const MAX_TIMEOUT_SECS: u64 = 3600;

/// Where this machine's managed identity answers.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// App Service / Functions: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`.
    AppService { url: String, header: Secret<String> },
    /// An Azure Arc-enabled server's agent; `key_dir` is where its
    /// challenge's key file must be.
    Arc { url: String, key_dir: PathBuf },
    /// Azure Cloud Shell: `MSI_ENDPOINT`.
    CloudShell { url: String },
    /// IMDS at `authority` (`AZURE_POD_IDENTITY_AUTHORITY_HOST` or 169.254.169.254).
    Imds { authority: String },
}

/// What the environment says, before it is checked.
#[derive(Debug, PartialEq, Eq)]
enum Detected<'a> {
    AppService {
        url: &'a str,
        header: &'a str,
    },
    Arc {
        url: &'a str,
    },
    CloudShell {
        url: &'a str,
    },
    Imds {
        authority: &'a str,
        var: Option<&'static str>,
    },
    Unsupported(&'static str, &'static str),
}

/// The detection order of the issue and of Azure's SDKs; `arc_agent` says
/// whether the Arc agent is installed. Pure, for tests.
fn detect(env: &Env, arc_agent: bool) -> Detected<'_> {
    let identity_endpoint = env.get("IDENTITY_ENDPOINT");
    if let (Some(url), Some(header)) = (identity_endpoint, env.get("IDENTITY_HEADER")) {
        if env.get("IDENTITY_SERVER_THUMBPRINT").is_some() {
            return Detected::Unsupported(
                "Service Fabric",
                "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT",
            );
        }
        return Detected::AppService { url, header };
    }
    if let (Some(url), Some(_)) = (identity_endpoint, env.get("IMDS_ENDPOINT")) {
        return Detected::Arc { url };
    }
    if arc_agent {
        return Detected::Arc {
            url: ARC_DEFAULT_ENDPOINT,
        };
    }
    if let Some(url) = env.get("MSI_ENDPOINT") {
        if env.get("MSI_SECRET").is_some() {
            return Detected::Unsupported("Azure Machine Learning", "MSI_ENDPOINT and MSI_SECRET");
        }
        return Detected::CloudShell { url };
    }
    match env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
        Some(host) => Detected::Imds {
            authority: host.trim_end_matches('/'),
            var: Some("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        },
        None => Detected::Imds {
            authority: IMDS_AUTHORITY,
            var: None,
        },
    }
}

impl Endpoint {
    /// The endpoint this environment offers; no network involved.
    pub fn detect(env: &Env) -> Result<Endpoint, MiError> {
        let checked = |var: &'static str, url: &str| {
            if managed_identity_endpoint_ok(url) {
                Ok(url.to_string())
            } else {
                Err(MiError {
                    endpoint: var.to_string(),
                    failure: MiFailure::NotAnEndpoint {
                        var,
                        value: crate::sys::text::sanitize(url),
                    },
                })
            }
        };
        Ok(match detect(env, arc::agent_present(env)) {
            Detected::AppService { url, header } => Endpoint::AppService {
                url: checked("IDENTITY_ENDPOINT", url)?,
                header: Secret::new(header.to_string()),
            },
            Detected::Arc { url } => Endpoint::Arc {
                url: checked("IDENTITY_ENDPOINT", url)?,
                key_dir: arc::token_dir(env),
            },
            Detected::CloudShell { url } => Endpoint::CloudShell {
                url: checked("MSI_ENDPOINT", url)?,
            },
            Detected::Imds { authority, var } => Endpoint::Imds {
                authority: match var {
                    Some(var) => checked(var, authority)?,
                    None => authority.to_string(),
                },
            },
            Detected::Unsupported(platform, vars) => {
                return Err(MiError {
                    endpoint: platform.to_string(),
                    failure: MiFailure::UnsupportedPlatform { platform, vars },
                });
            }
        })
    }

    /// The source's name.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::AppService { .. } => "App Service",
            Endpoint::Arc { .. } => "Azure Arc",
            Endpoint::CloudShell { .. } => "Cloud Shell",
            Endpoint::Imds { .. } => "IMDS",
        }
    }

    /// The address asked (without query).
    pub fn address(&self) -> &str {
        match self {
            Endpoint::AppService { url, .. }
            | Endpoint::Arc { url, .. }
            | Endpoint::CloudShell { url } => url,
            Endpoint::Imds { authority } => authority,
        }
    }

    /// `IMDS at http://169.254.169.254`, for messages.
    pub fn describe(&self) -> String {
        format!("{} at {}", self.name(), self.address())
    }

    /// Whether only the system-assigned identity exists there: Arc supports
    /// nothing else, and Cloud Shell's token is the signed-in user's.
    fn system_only(&self) -> bool {
        matches!(self, Endpoint::Arc { .. } | Endpoint::CloudShell { .. })
    }
}

/// `system-assigned`, `client_id 1234…`: the selector as users wrote it.
pub fn describe_selector(selector: &MiSelector) -> String {
    match selector {
        MiSelector::System => "system-assigned".into(),
        MiSelector::ClientId(id) => format!("client_id {id}"),
        MiSelector::ObjectId(id) => format!("object_id {id}"),
        MiSelector::ResourceId(id) => format!("resource_id {id}"),
    }
}

/// "the system-assigned managed identity", "the managed identity with
/// client_id …": who reads something as which identity, for messages.
pub fn the_identity(selector: &MiSelector) -> String {
    match selector {
        MiSelector::System => "the system-assigned managed identity".into(),
        other => format!("the managed identity with {}", describe_selector(other)),
    }
}

/// A managed identity on the detected endpoint.
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    /// Which identity to ask for.
    pub selector: MiSelector,
    /// Where to ask.
    pub endpoint: Endpoint,
    /// The whole operation's budget, every retry included.
    pub timeout: Duration,
}

impl ManagedIdentity {
    /// The identity `name` of the config: its selector on the endpoint this
    /// environment offers, with its budget (the identity's, else the file's).
    pub fn configured(
        name: &str,
        c: &ManagedIdentityConfig,
        config: &Config,
        env: &Env,
    ) -> Result<ManagedIdentity, Error> {
        let secs = c
            .timeout_seconds
            .unwrap_or(config.managed_identity_timeout_seconds);
        ManagedIdentity::detect(name, c.selector.clone(), secs, env)
    }

    /// `selector` on the endpoint this environment offers, with a budget of
    /// `timeout_secs` (at least one second, at most an hour). Also for other
    /// sources that need a managed identity's token (a federated assertion).
    pub fn detect(
        name: &str,
        selector: MiSelector,
        timeout_secs: u64,
        env: &Env,
    ) -> Result<ManagedIdentity, Error> {
        let endpoint = Endpoint::detect(env).map_err(|source| Error::ManagedIdentity {
            identity: name.to_string(),
            source: Box::new(source),
        })?;
        if endpoint.system_only() && selector != MiSelector::System {
            return Err(Error::ManagedIdentity {
                identity: name.to_string(),
                source: Box::new(MiError {
                    endpoint: endpoint.describe(),
                    failure: MiFailure::UserAssignedUnsupported {
                        selector: describe_selector(&selector),
                    },
                }),
            });
        }
        Ok(ManagedIdentity {
            selector,
            endpoint,
            timeout: Duration::from_secs(timeout_secs.clamp(1, MAX_TIMEOUT_SECS)),
        })
    }

    /// A token for `resource` (a v1 resource: no `/.default`).
    pub fn token_for(&self, cx: &AcquireCx, resource: &str) -> Result<TokenResponse, Error> {
        let http = cx
            .http
            .managed_identity(self.endpoint.address())
            .map_err(|cause| Error::Http {
                identity: cx.identity.to_string(),
                cause,
            })?;
        exchange::token(&http, self, resource, cx.trace).map_err(|source| Error::ManagedIdentity {
            identity: cx.identity.to_string(),
            source: Box::new(source),
        })
    }
}

impl TokenSource for ManagedIdentity {
    fn kind(&self) -> Kind {
        Kind::ManagedIdentity
    }

    fn describe(&self) -> String {
        format!(
            "{}, {}, via {}",
            self.kind(),
            describe_selector(&self.selector),
            self.endpoint.describe()
        )
    }

    /// The endpoint (kind and address), the selector and the resource.
    fn fingerprint(&self) -> Fingerprint {
        let selector = match &self.selector {
            MiSelector::System => "system".to_string(),
            MiSelector::ClientId(id) => format!("client_id={id}"),
            MiSelector::ObjectId(id) => format!("object_id={id}"),
            MiSelector::ResourceId(id) => format!("resource_id={id}"),
        };
        let endpoint = format!("{} {}", self.endpoint.name(), self.endpoint.address());
        super::key(self.kind(), &endpoint, "", &selector)
    }

    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        self.token_for(cx, cx.resource)
            .map(TokenResponse::into_access_token)
    }
}

#[cfg(test)]
mod tests;
