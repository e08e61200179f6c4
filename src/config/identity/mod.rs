//! The `identities.*` entries: one struct and one parse function per type,
//! each in its own file; this module only dispatches on `type`.
//!
//! Adding a type means: a variant of [`Kind`] (`kind.rs`), a file here with
//! its struct and `parse`, and a variant below; the matches on [`Kind`] name
//! what is missing.

use serde_json::Value;

use super::{ConfigError, Cx};
use crate::config::fields::Obj;

mod key_vault;
mod kind;
mod managed_identity;
mod others;
mod service_principal;
mod user;
mod workload;

pub use key_vault::KeyVaultSecret;
pub use kind::Kind;
pub use managed_identity::{ManagedIdentityConfig, MiSelector};
pub use others::{
    AutoConfig, AzureCliConfig, DevToolConfig, EnvironmentConfig, PipelineTokenConfig,
};
pub use service_principal::{
    AssertionAlg, CertSource, CertificateConfig, Credential, SecretSource, ServicePrincipalConfig,
};
pub use user::{UserConfig, UserFlow};
pub use workload::{Assertion, WorkloadConfig};

/// A configured identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    /// `service-principal`: client credentials with a secret or certificate.
    ServicePrincipal(ServicePrincipalConfig),
    /// `managed-identity`.
    ManagedIdentity(ManagedIdentityConfig),
    /// `workload-identity`: client credentials with a federated assertion.
    WorkloadIdentity(WorkloadConfig),
    /// `environment`: the `AZURE_*` variables Azure's SDKs read.
    Environment(EnvironmentConfig),
    /// `azure-cli`: `az account get-access-token`.
    AzureCli(AzureCliConfig),
    /// `azure-powershell`: Azure PowerShell's `Get-AzAccessToken`.
    AzurePowerShell(DevToolConfig),
    /// `azure-developer-cli`: `azd auth token`.
    AzureDeveloperCli(DevToolConfig),
    /// `user`: interactive sign-in, then refresh tokens.
    User(UserConfig),
    /// `pipeline-token`: the Azure Pipelines job token.
    PipelineToken(PipelineTokenConfig),
    /// `auto`: detect the first usable source.
    Auto(AutoConfig),
}

impl IdentityKind {
    /// Its type.
    pub fn kind(&self) -> Kind {
        match self {
            IdentityKind::ServicePrincipal(_) => Kind::ServicePrincipal,
            IdentityKind::ManagedIdentity(_) => Kind::ManagedIdentity,
            IdentityKind::WorkloadIdentity(_) => Kind::WorkloadIdentity,
            IdentityKind::Environment(_) => Kind::Environment,
            IdentityKind::AzureCli(_) => Kind::AzureCli,
            IdentityKind::AzurePowerShell(_) => Kind::AzurePowerShell,
            IdentityKind::AzureDeveloperCli(_) => Kind::AzureDeveloperCli,
            IdentityKind::User(_) => Kind::User,
            IdentityKind::PipelineToken(_) => Kind::PipelineToken,
            IdentityKind::Auto(_) => Kind::Auto,
        }
    }
}

/// The parse function of each type.
fn parser(kind: Kind) -> fn(&mut Obj) -> Result<IdentityKind, ConfigError> {
    match kind {
        Kind::ServicePrincipal => service_principal::parse,
        Kind::ManagedIdentity => managed_identity::parse,
        Kind::WorkloadIdentity => workload::parse,
        Kind::Environment => others::parse_environment,
        Kind::AzureCli => others::parse_azure_cli,
        Kind::AzurePowerShell => others::parse_azure_powershell,
        Kind::AzureDeveloperCli => others::parse_azure_developer_cli,
        Kind::User => user::parse,
        Kind::PipelineToken => others::parse_pipeline_token,
        Kind::Auto => others::parse_auto,
    }
}

/// Parses one identity object at `path`.
pub(super) fn parse(cx: &Cx, value: &Value, path: &str) -> Result<IdentityKind, ConfigError> {
    let mut o = cx.object(value, path)?;
    let ty = o.required_string("type").map_err(|e| ConfigError {
        problem: format!("{} (one of: {})", e.problem, Kind::config_names()),
        ..e
    })?;
    match Kind::from_config_name(&ty) {
        Some(kind) => parser(kind)(&mut o),
        None => Err(o.err(
            "type",
            &format!("unknown type \"{ty}\" (one of: {})", Kind::config_names()),
        )),
    }
}
