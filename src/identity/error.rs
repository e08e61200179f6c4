//! Why an identity could not be resolved or give a token, each worded as:
//! which identity, which step, what went wrong, and what to do. The token
//! flow and the app wrap this error; it knows nothing of them.

use std::fmt;

use super::{CertError, DevToolError, FederationError, KeyVaultError, MiError};
use crate::cache::StoreError;
use crate::config::{AUTO, ConfigError};
use crate::entra::EntraError;
use crate::net::http::HttpSetupError;

/// Everything that can keep an identity from giving a token.
#[derive(Debug)]
pub enum Error {
    /// The config file is wrong.
    Config(Box<ConfigError>),
    /// `--identity` names nothing.
    UnknownIdentity {
        name: String,
        file: String,
        known: Vec<String>,
    },
    /// `auto` found no usable source.
    NoAutoSource {
        identity: String,
        file: String,
        tried: Vec<Skipped>,
    },
    /// A secret could not be read.
    Secret {
        identity: String,
        cause: SecretError,
    },
    /// An environment variable of ours or Azure's is malformed.
    Environment { var: &'static str, problem: String },
    /// HTTP could not be set up.
    Http {
        identity: String,
        cause: HttpSetupError,
    },
    /// A workload identity's federated token could not be had.
    Assertion {
        identity: String,
        cause: Box<FederationError>,
    },
    /// Entra gave no token.
    Entra {
        identity: String,
        step: &'static str,
        source: Box<EntraError>,
    },
    /// A managed identity gave no token (or none can be used here).
    ManagedIdentity {
        identity: String,
        source: Box<MiError>,
    },
    /// A certificate kept in Key Vault could not be read.
    KeyVault {
        identity: String,
        source: Box<KeyVaultError>,
    },
    /// A developer tool (the Azure CLI, Azure PowerShell, the Azure
    /// Developer CLI) gave no token.
    DevTool {
        identity: String,
        cause: Box<DevToolError>,
    },
    /// A user identity must sign in, and no prompt may be shown here.
    SignInRequired {
        identity: String,
        /// Why a sign-in is needed (no refresh token, it expired…).
        reason: String,
        /// What forbids the prompt.
        forbidden_by: &'static str,
    },
    /// An interactive sign-in did not finish.
    SignIn {
        identity: String,
        /// `browser`, `paste` or `device-code`.
        flow: &'static str,
        /// What went wrong and what to do.
        problem: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::UnknownIdentity { name, file, known } => write!(
                f,
                "there is no identity named '{name}' in {file} (defined: {}). Fix: check --identity / GIT_CREDENTIAL_ENTRA_IDENTITY, or add it under \"identities\"",
                match (known.is_empty(), name == AUTO) {
                    (true, false) => "none; 'auto' is built in".to_string(),
                    (true, true) => "none".to_string(),
                    (false, false) => format!("{}, and the built-in 'auto'", known.join(", ")),
                    (false, true) => known.join(", "),
                }
            ),
            Error::NoAutoSource {
                identity,
                file,
                tried,
            } => write!(
                f,
                "identity '{identity}': found no credentials to use; tried {}. Fix: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE), run on Azure with a managed identity, sign in to the Azure CLI (az login), Azure PowerShell (Connect-AzAccount) or the Azure Developer CLI (azd auth login), or configure an identity and a route in {file}",
                tried
                    .iter()
                    .map(|s| format!("{} ({})", s.link, s.why))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Error::Secret { identity, cause } => write!(f, "identity '{identity}': {cause}"),
            Error::Environment { var, problem } => write!(f, "{var} {problem}"),
            Error::Http { identity, cause } => write!(f, "identity '{identity}': {cause}"),
            Error::Assertion { identity, cause } => {
                write!(f, "identity '{identity}': {}", federation_failure(cause))
            }
            Error::Entra {
                identity,
                step,
                source,
            } => write!(f, "identity '{identity}': {}", token_failure(step, source)),
            Error::ManagedIdentity { identity, source } => {
                write!(f, "identity '{identity}': managed identity: {source}")
            }
            Error::KeyVault { identity, source } => write!(f, "identity '{identity}': {source}"),
            Error::DevTool { identity, cause } => {
                write!(f, "identity '{identity}': {}: {cause}", cause.tool.short)
            }
            Error::SignInRequired {
                identity,
                reason,
                forbidden_by,
            } => write!(
                f,
                "identity '{identity}': {reason}, and no sign-in prompt may be shown here ({forbidden_by}). Fix: run `git-credential-entra login --identity {identity}` in a terminal, then retry"
            ),
            Error::SignIn {
                identity,
                flow,
                problem,
            } => write!(f, "identity '{identity}': {flow} sign-in failed: {problem}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e.as_ref()),
            Error::Secret { cause, .. } => Some(cause),
            Error::Http { cause, .. } => Some(cause),
            Error::Assertion { cause, .. } => Some(cause.as_ref()),
            Error::Entra { source, .. } => Some(source.as_ref()),
            Error::ManagedIdentity { source, .. } => Some(source.as_ref()),
            Error::KeyVault { source, .. } => Some(source.as_ref()),
            Error::DevTool { cause, .. } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

/// A link of `auto`'s chain that found no credentials here: why in full,
/// and in a few words for a message whose story lies elsewhere (no route
/// matched, and `auto` was only the fallback).
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The link's name: `environment`, `Azure CLI`…
    pub link: &'static str,
    /// Why it was skipped, with the variables, address or setting involved.
    pub why: String,
    /// The same in a few words.
    pub brief: String,
}

/// Why a service principal's secret could not be read: typed, so callers
/// (and `doctor`) can tell a missing variable from a broken keyring.
#[derive(Debug)]
pub enum SecretError {
    /// `client_secret_env` names a variable that is not set.
    EnvUnset { var: String },
    /// `client_secret_file` is missing, unsafe or empty (the problem names it).
    File { problem: String },
    /// No OS keyring could be opened for `client_secret_keyring`.
    NoKeyring(StoreError),
    /// The keyring failed while reading the secret.
    Keyring(StoreError),
    /// The keyring holds no secret for the identity.
    NotStored { identity: String },
    /// The `environment` identity lacks some `AZURE_*` variables.
    EnvironmentIncomplete { missing: String },
    /// A certificate credential cannot be loaded or used.
    Certificate(CertError),
    /// `pipeline-token`: the variable holding the job token is empty or unset.
    PipelineTokenUnset { var: String },
    /// `pipeline-token`: the variable holds no usable token.
    PipelineTokenUnusable { var: String, problem: String },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::EnvUnset { var } => write!(
                f,
                "the environment variable {var} (client_secret_env) is not set. Fix: export {var} with the client secret's value in the environment git runs in"
            ),
            SecretError::File { problem, .. } => f.write_str(problem),
            SecretError::NoKeyring(e) => write!(
                f,
                "no OS keyring is available ({e}) for client_secret_keyring. Fix: use client_secret_file or client_secret_env"
            ),
            SecretError::Keyring(e) => {
                write!(f, "reading the secret from the OS keyring failed: {e}")
            }
            SecretError::NotStored { identity } => write!(
                f,
                "no secret is stored in the OS keyring for this identity. Fix: git-credential-entra secret set --identity {identity} < file-with-the-secret"
            ),
            SecretError::EnvironmentIncomplete { missing } => write!(
                f,
                "the environment identity needs {missing}. Fix: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_FEDERATED_TOKEN_FILE as AKS workload identity does) in the environment git runs in"
            ),
            SecretError::Certificate(e) => write!(f, "{e}"),
            SecretError::PipelineTokenUnset { var } => write!(
                f,
                "${var} is empty or not set, so there is no Azure Pipelines job token (pipelines give it to scripts only when asked). Fix: {}",
                super::system_accesstoken_hint(var)
            ),
            SecretError::PipelineTokenUnusable { var, problem } => write!(
                f,
                "${var} does not hold a usable Azure Pipelines job token: {problem}. Fix: {}",
                super::system_accesstoken_hint(var)
            ),
        }
    }
}

impl std::error::Error for SecretError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SecretError::NoKeyring(e) | SecretError::Keyring(e) => Some(e),
            SecretError::Certificate(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// Whether the token service failed, rather than this request's
    /// settings or this machine (a secret, the config, TLS trust, a
    /// refusal): decided by each cause's own type. Only such failures are
    /// recorded for the processes waiting for the same principal.
    pub fn is_service_outage(&self) -> bool {
        match self {
            Error::Entra { source, .. } => source.is_service_outage(),
            Error::ManagedIdentity { source, .. } => source.kind().is_some(),
            Error::Assertion { cause, .. } => cause.is_service_outage(),
            Error::KeyVault { source, .. } => source.outage().is_some(),
            _ => false,
        }
    }

    /// For a failure of the token service itself ([`Error::is_service_outage`]):
    /// its kind and its message without the identity's name, which other
    /// processes waiting for the same principal may report as theirs.
    pub fn shareable(&self) -> Option<(&'static str, String)> {
        if !self.is_service_outage() {
            return None;
        }
        match self {
            Error::Entra { step, source, .. } => {
                let kind = match **source {
                    EntraError::Unavailable { .. } => "unavailable",
                    EntraError::BadResponse { .. } | EntraError::TooLarge { .. } => "bad-response",
                    _ => "transport",
                };
                Some((kind, token_failure(step, source)))
            }
            Error::ManagedIdentity { source, .. } => {
                Some((source.kind()?, format!("managed identity: {source}")))
            }
            Error::Assertion { cause, .. } => {
                Some(("assertion-unavailable", federation_failure(cause)))
            }
            Error::KeyVault { source, .. } => Some((source.outage()?, source.to_string())),
            _ => None,
        }
    }
}

pub(crate) fn federation_failure(cause: &FederationError) -> String {
    format!("could not get the federated token: {cause}")
}

pub(crate) fn token_failure(step: &str, source: &EntraError) -> String {
    format!("{step} token request failed: {source}")
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_reachable_through_source() {
        use std::error::Error as _;
        let e = Error::Secret {
            identity: "ci".into(),
            cause: SecretError::Keyring(StoreError("the daemon did not answer".into())),
        };
        let cause = e.source().expect("the secret error");
        assert!(cause.to_string().contains("OS keyring failed"), "{cause}");
        let root = cause.source().expect("the store error");
        assert_eq!(root.to_string(), "the daemon did not answer");
        assert!(matches!(
            e,
            Error::Secret {
                cause: SecretError::Keyring(_),
                ..
            }
        ));
    }

    #[test]
    fn only_failures_of_the_service_are_outages() {
        let assertion = |cause| Error::Assertion {
            identity: "ci".into(),
            cause: Box::new(cause),
        };
        let transport = |local| FederationError::Transport {
            endpoint: "the OIDC endpoint",
            detail: "d".into(),
            local,
        };
        assert!(assertion(transport(false)).is_service_outage());
        assert!(assertion(transport(false)).shareable().is_some());
        // No HTTPS client, or a certificate not trusted here: this machine's.
        assert!(!assertion(transport(true)).is_service_outage());
        assert!(assertion(transport(true)).shareable().is_none());
        let secret = Error::Secret {
            identity: "ci".into(),
            cause: SecretError::EnvUnset { var: "S".into() },
        };
        assert!(!secret.is_service_outage() && secret.shareable().is_none());
    }

    #[test]
    fn unknown_identity_never_contradicts_itself() {
        for known in [vec![], vec!["ci".to_string()]] {
            let text = Error::UnknownIdentity {
                name: AUTO.into(),
                file: "f".into(),
                known: known.clone(),
            }
            .to_string();
            assert!(!text.contains("built"), "{text}");
            let text = Error::UnknownIdentity {
                name: "ghost".into(),
                file: "f".into(),
                known,
            }
            .to_string();
            assert!(text.contains("'ghost'") && text.contains("built"), "{text}");
        }
    }
}
