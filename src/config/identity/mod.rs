//! The `identities.*` entries: one struct and one parse function per type,
//! each in its own file; this module only dispatches on `type`.
//!
//! Adding a type means: a file here with its struct and `parse`, a variant
//! below, and one line in [`TYPES`].

use serde_json::Value;

use super::{ConfigError, Cx};
use crate::config::fields::Obj;

mod managed_identity;
mod others;
mod service_principal;
mod user;
mod workload;

pub use managed_identity::{ManagedIdentityConfig, MiSelector};
pub use others::{AutoConfig, AzureCliConfig, EnvironmentConfig, PipelineTokenConfig};
pub use service_principal::{AssertionAlg, SecretSource, ServicePrincipalConfig};
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
    /// `user`: interactive sign-in, then refresh tokens.
    User(UserConfig),
    /// `pipeline-token`: the Azure Pipelines job token.
    PipelineToken(PipelineTokenConfig),
    /// `auto`: detect the first usable source.
    Auto(AutoConfig),
}

/// Each type's name as written in the config, and its parser.
type Parser = fn(&mut Obj) -> Result<IdentityKind, ConfigError>;
const TYPES: &[(&str, Parser)] = &[
    ("service-principal", service_principal::parse),
    ("managed-identity", managed_identity::parse),
    ("workload-identity", workload::parse),
    ("environment", others::parse_environment),
    ("azure-cli", others::parse_azure_cli),
    ("user", user::parse),
    ("pipeline-token", others::parse_pipeline_token),
    ("auto", others::parse_auto),
];

impl IdentityKind {
    /// The `type` value as written in the config.
    pub fn type_name(&self) -> &'static str {
        match self {
            IdentityKind::ServicePrincipal(_) => "service-principal",
            IdentityKind::ManagedIdentity(_) => "managed-identity",
            IdentityKind::WorkloadIdentity(_) => "workload-identity",
            IdentityKind::Environment(_) => "environment",
            IdentityKind::AzureCli(_) => "azure-cli",
            IdentityKind::User(_) => "user",
            IdentityKind::PipelineToken(_) => "pipeline-token",
            IdentityKind::Auto(_) => "auto",
        }
    }
}

fn type_list() -> String {
    TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// Parses one identity object at `path`.
pub(super) fn parse(cx: &Cx, value: &Value, path: &str) -> Result<IdentityKind, ConfigError> {
    let mut o = cx.object(value, path)?;
    let ty = o.required_string("type").map_err(|e| ConfigError {
        problem: format!("{} (one of: {})", e.problem, type_list()),
        ..e
    })?;
    match TYPES.iter().find(|(name, _)| *name == ty) {
        Some((_, parse)) => parse(&mut o),
        None => Err(o.err(
            "type",
            &format!("unknown type \"{ty}\" (one of: {})", type_list()),
        )),
    }
}
