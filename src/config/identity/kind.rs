//! The identity types, listed once: the `type` a config names, the name
//! people see, and the tag that starts the cache key of a type's tokens.
//!
//! They are three names on purpose. The display name may be reworded; the
//! cache tag never may: it is an input of every cache key, and a changed key
//! orphans every cached token on upgrade (the keys are pinned by
//! `identity::tests::cache_keys_of_applications_and_machines_do_not_change`).

use std::fmt;

/// A type of identity, as the config's `"type"` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An application proving itself with a client secret or a certificate.
    ServicePrincipal,
    /// The machine's (or a user-assigned) managed identity.
    ManagedIdentity,
    /// An application proving itself with a federated token.
    WorkloadIdentity,
    /// The `AZURE_*` variables Azure's SDKs read.
    Environment,
    /// `az account get-access-token`.
    AzureCli,
    /// Azure PowerShell's `Get-AzAccessToken`.
    AzurePowerShell,
    /// `azd auth token`.
    AzureDeveloperCli,
    /// A person signed in interactively.
    User,
    /// The Azure Pipelines job token.
    PipelineToken,
    /// The first usable source found here.
    Auto,
}

impl Kind {
    /// Every type, in the order messages list them.
    pub const ALL: [Kind; 10] = [
        Kind::ServicePrincipal,
        Kind::ManagedIdentity,
        Kind::WorkloadIdentity,
        Kind::Environment,
        Kind::AzureCli,
        Kind::AzurePowerShell,
        Kind::AzureDeveloperCli,
        Kind::User,
        Kind::PipelineToken,
        Kind::Auto,
    ];

    /// The `"type"` value in the config file.
    pub fn config_name(self) -> &'static str {
        match self {
            Kind::ServicePrincipal => "service-principal",
            Kind::ManagedIdentity => "managed-identity",
            Kind::WorkloadIdentity => "workload-identity",
            Kind::Environment => "environment",
            Kind::AzureCli => "azure-cli",
            Kind::AzurePowerShell => "azure-powershell",
            Kind::AzureDeveloperCli => "azure-developer-cli",
            Kind::User => "user",
            Kind::PipelineToken => "pipeline-token",
            Kind::Auto => "auto",
        }
    }

    /// The type named `name` in a config file.
    pub fn from_config_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.config_name() == name)
    }

    /// Every config name, for messages: `service-principal, managed-identity, …`.
    pub fn config_names() -> String {
        Kind::ALL.map(Kind::config_name).join(", ")
    }

    /// The name shown to people (in `describe`, `identities`, `cache`,
    /// `doctor`): the name they write in the config, so they can find it.
    pub fn display_name(self) -> &'static str {
        self.config_name()
    }

    /// The first input of the cache key of this type's tokens. Never change
    /// one: cached tokens would be orphaned. `None` for `environment` and
    /// `auto`: they resolve to a source that keys its tokens under that
    /// source's type (the environment's secret is a service principal's
    /// key, its federated token file a workload identity's).
    pub fn cache_tag(self) -> Option<&'static str> {
        match self {
            Kind::ServicePrincipal => Some("app"),
            Kind::ManagedIdentity => Some("managed-identity"),
            Kind::WorkloadIdentity => Some("workload"),
            Kind::AzureCli => Some("azure-cli"),
            Kind::AzurePowerShell => Some("azure-powershell"),
            Kind::AzureDeveloperCli => Some("azure-developer-cli"),
            Kind::User => Some("user"),
            Kind::PipelineToken => Some("pipeline-token"),
            Kind::Environment | Kind::Auto => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn every_kind_round_trips_its_config_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_config_name(kind.config_name()), Some(kind));
        }
        assert_eq!(Kind::from_config_name("service_principal"), None);
        assert_eq!(Kind::from_config_name(""), None);
        assert_eq!(
            Kind::config_names(),
            "service-principal, managed-identity, workload-identity, environment, azure-cli, azure-powershell, azure-developer-cli, user, pipeline-token, auto"
        );
    }

    /// The tags earlier versions wrote into every cache key, literally: a
    /// change here is a change of every key of that type.
    #[test]
    fn cache_tags_are_todays_and_distinct() {
        let want = [
            (Kind::ServicePrincipal, Some("app")),
            (Kind::ManagedIdentity, Some("managed-identity")),
            (Kind::WorkloadIdentity, Some("workload")),
            (Kind::Environment, None),
            (Kind::AzureCli, Some("azure-cli")),
            (Kind::AzurePowerShell, Some("azure-powershell")),
            (Kind::AzureDeveloperCli, Some("azure-developer-cli")),
            (Kind::User, Some("user")),
            (Kind::PipelineToken, Some("pipeline-token")),
            (Kind::Auto, None),
        ];
        assert_eq!(want.map(|(k, _)| k), Kind::ALL);
        for (kind, tag) in want {
            assert_eq!(kind.cache_tag(), tag, "{kind}");
        }
        let mut tags: Vec<&str> = Kind::ALL.iter().filter_map(|k| k.cache_tag()).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), 8, "{tags:?}");
    }
}
