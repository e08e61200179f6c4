//! `workload-identity`: client credentials with a federated assertion
//! (Kubernetes token file, GitHub Actions, Azure Pipelines, managed identity).

use std::path::PathBuf;

use super::IdentityKind;
use crate::config::ConfigError;
use crate::config::fields::Obj;

/// A workload identity's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Where the federated assertion comes from.
    pub assertion: Assertion,
    /// Token exchange audience.
    pub audience: String,
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

/// Federated assertion sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assertion {
    /// A projected token file (Kubernetes).
    File(PathBuf),
    /// GitHub Actions OIDC.
    GithubActions,
    /// Azure Pipelines OIDC for a service connection.
    AzurePipelines { service_connection_id: String },
    /// A user-assigned managed identity's token.
    ManagedIdentity { client_id: String },
}

/// Each assertion kind's own extra key.
const EXTRA_KEYS: [(&str, &str); 3] = [
    ("file", "token_file"),
    ("azure-pipelines", "service_connection_id"),
    ("managed-identity", "managed_identity_client_id"),
];

pub(super) fn parse(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    o.allow(&[
        "type",
        "tenant",
        "client_id",
        "assertion",
        "token_file",
        "service_connection_id",
        "managed_identity_client_id",
        "audience",
        "authority_host",
    ])?;
    let kind = o.required_string("assertion")?;
    for (owner, key) in EXTRA_KEYS {
        if o.get(key).is_some() && kind != owner {
            return Err(o.err(key, &format!("does not apply to assertion \"{kind}\"")));
        }
    }
    let required =
        |key: &str, why: &str| o.err(key, &format!("is required with assertion \"{kind}\"{why}"));
    let assertion = match kind.as_str() {
        "file" => Assertion::File(
            o.path_value("token_file")?
                .ok_or_else(|| required("token_file", ""))?,
        ),
        "github-actions" => Assertion::GithubActions,
        "azure-pipelines" => Assertion::AzurePipelines {
            service_connection_id: o
                .string("service_connection_id")?
                .ok_or_else(|| required("service_connection_id", ""))?,
        },
        "managed-identity" => Assertion::ManagedIdentity {
            client_id: o.guid("managed_identity_client_id")?.ok_or_else(|| {
                required(
                    "managed_identity_client_id",
                    " (only user-assigned identities can be federated)",
                )
            })?,
        },
        _ => {
            return Err(o.err(
                "assertion",
                "must be one of file, github-actions, azure-pipelines, managed-identity",
            ));
        }
    };
    Ok(IdentityKind::WorkloadIdentity(WorkloadConfig {
        tenant: o.required_tenant("tenant")?,
        client_id: o.required_guid("client_id")?,
        assertion,
        audience: o
            .string("audience")?
            .unwrap_or_else(|| "api://AzureADTokenExchange".into()),
        authority_host: o.authority_host("authority_host")?,
    }))
}
