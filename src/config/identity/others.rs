//! The types with at most one or two fields: `environment`, the developer
//! tools (`azure-cli`, `azure-powershell`, `azure-developer-cli`),
//! `pipeline-token` and `auto`.

use super::IdentityKind;
use crate::config::ConfigError;
use crate::config::fields::Obj;

/// `environment`: the `AZURE_*` variables Azure's SDKs read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentConfig {
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

/// A developer tool's sign-in: `azure-cli`, `azure-powershell`,
/// `azure-developer-cli`, whose only field is the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevToolConfig {
    /// The tenant asked for (`az --tenant`, `Get-AzAccessToken -TenantId`,
    /// `azd --tenant-id`); none: the tool's default.
    pub tenant: Option<String>,
}

/// `azure-cli`: `az account get-access-token`.
pub type AzureCliConfig = DevToolConfig;

/// `pipeline-token`: the Azure Pipelines job token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineTokenConfig {
    /// The variable holding it (default `SYSTEM_ACCESSTOKEN`).
    pub variable: String,
}

/// `auto`: detect the first usable source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoConfig {
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

pub(super) fn parse_environment(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    o.allow(&["type", "authority_host"])?;
    Ok(IdentityKind::Environment(EnvironmentConfig {
        authority_host: o.authority_host("authority_host")?,
    }))
}

fn dev_tool(o: &mut Obj) -> Result<DevToolConfig, ConfigError> {
    o.allow(&["type", "tenant"])?;
    Ok(DevToolConfig {
        tenant: o.tenant("tenant")?,
    })
}

pub(super) fn parse_azure_cli(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    dev_tool(o).map(IdentityKind::AzureCli)
}

pub(super) fn parse_azure_powershell(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    dev_tool(o).map(IdentityKind::AzurePowerShell)
}

pub(super) fn parse_azure_developer_cli(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    dev_tool(o).map(IdentityKind::AzureDeveloperCli)
}

pub(super) fn parse_pipeline_token(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    o.allow(&["type", "variable"])?;
    Ok(IdentityKind::PipelineToken(PipelineTokenConfig {
        variable: o
            .string("variable")?
            .unwrap_or_else(|| "SYSTEM_ACCESSTOKEN".into()),
    }))
}

pub(super) fn parse_auto(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    o.allow(&["type", "authority_host"])?;
    Ok(IdentityKind::Auto(AutoConfig {
        authority_host: o.authority_host("authority_host")?,
    }))
}
