//! `AZURE_TOKEN_CREDENTIALS`, as Azure's SDKs read it: `dev` (developer
//! tools), `prod` (deployed workloads), or the name of one credential of
//! `DefaultAzureCredential`, case-insensitive; unset or blank, the whole chain.

use crate::identity::Error;
use crate::sys::env::Env;

use super::{CHAIN, Link};

const VAR: &str = "AZURE_TOKEN_CREDENTIALS";

/// Every name the SDKs accept, with the links it allows here (`None`: a
/// credential this helper does not have).
const NAMES: [(&str, Option<&[Link]>); 13] = [
    (
        "dev",
        Some(&[
            Link::AzureCli,
            Link::AzurePowerShell,
            Link::AzureDeveloperCli,
            Link::User,
        ]),
    ),
    (
        "prod",
        Some(&[
            Link::Environment,
            Link::WorkloadIdentity,
            Link::ManagedIdentity,
        ]),
    ),
    ("EnvironmentCredential", Some(&[Link::Environment])),
    (
        "WorkloadIdentityCredential",
        Some(&[Link::WorkloadIdentity]),
    ),
    ("ManagedIdentityCredential", Some(&[Link::ManagedIdentity])),
    ("AzureCliCredential", Some(&[Link::AzureCli])),
    ("AzurePowerShellCredential", Some(&[Link::AzurePowerShell])),
    (
        "AzureDeveloperCliCredential",
        Some(&[Link::AzureDeveloperCli]),
    ),
    ("InteractiveBrowserCredential", Some(&[Link::User])),
    ("VisualStudioCredential", None),
    ("VisualStudioCodeCredential", None),
    ("BrokerCredential", None),
    ("SharedTokenCacheCredential", None),
];

/// The links `auto` may take.
pub(super) struct Allowed {
    /// In the chain's order.
    pub links: Vec<Link>,
    /// One credential was named: it is used without guessing whether it is
    /// there (no IMDS probe, no look for Az.Accounts or azd's sign-in).
    pub named: bool,
}

/// What `AZURE_TOKEN_CREDENTIALS` allows; an error for a name the SDKs
/// accept but this helper lacks, or one nobody knows.
pub(super) fn allowed(env: &Env) -> Result<Allowed, Error> {
    let value = env.get(VAR).map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Ok(Allowed {
            links: CHAIN.to_vec(),
            named: false,
        });
    }
    let supported = || {
        let names: Vec<&str> = NAMES
            .iter()
            .filter(|(_, links)| links.is_some())
            .map(|(name, _)| *name)
            .collect();
        format!(
            "{} or {}",
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        )
    };
    match NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(value)) {
        Some((name, Some(links))) => Ok(Allowed {
            links: links.to_vec(),
            named: !["dev", "prod"].contains(name),
        }),
        Some((name, None)) => Err(Error::Environment {
            var: VAR,
            problem: format!(
                "is {name}, a credential of Azure's SDKs that this helper does not support. Fix: set it to one this helper supports ({}), or unset it",
                supported()
            ),
        }),
        None => Err(Error::Environment {
            var: VAR,
            problem: format!(
                "is {:?}, which is not a value Azure's SDKs accept. Fix: set it to {}, or unset it",
                crate::sys::text::sanitize(value),
                supported()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: &str) -> Result<Allowed, String> {
        allowed(&Env::from_pairs([(VAR, value)])).map_err(|e| e.to_string())
    }

    #[test]
    fn every_name_of_the_sdks_is_read_case_insensitively() {
        for (value, links, named) in [
            (
                "DEV",
                &[
                    Link::AzureCli,
                    Link::AzurePowerShell,
                    Link::AzureDeveloperCli,
                    Link::User,
                ][..],
                false,
            ),
            (
                " prod ",
                &[
                    Link::Environment,
                    Link::WorkloadIdentity,
                    Link::ManagedIdentity,
                ],
                false,
            ),
            ("environmentcredential", &[Link::Environment], true),
            (
                "WorkloadIdentityCredential",
                &[Link::WorkloadIdentity],
                true,
            ),
            ("managedIdentityCredential", &[Link::ManagedIdentity], true),
            ("AZURECLICREDENTIAL", &[Link::AzureCli], true),
            ("azurepowershellcredential", &[Link::AzurePowerShell], true),
            (
                "AzureDeveloperCliCredential",
                &[Link::AzureDeveloperCli],
                true,
            ),
            ("InteractiveBrowserCredential", &[Link::User], true),
            ("", &CHAIN, false),
        ] {
            let a = read(value).expect(value);
            assert_eq!((a.links.as_slice(), a.named), (links, named), "{value}");
        }
    }

    #[test]
    fn a_credential_this_helper_lacks_is_named_as_unsupported() {
        for value in [
            "VisualStudioCredential",
            "VisualStudioCodeCredential",
            "BrokerCredential",
            "SharedTokenCacheCredential",
        ] {
            let text = read(value).err().expect(value);
            assert!(
                text.contains("this helper does not support")
                    && text.contains("AzureDeveloperCliCredential or InteractiveBrowserCredential")
                    && !text.contains("does not know")
                    && !text.contains('\n'),
                "{text}"
            );
        }
    }

    #[test]
    fn an_unknown_name_lists_the_valid_values() {
        let text = read("SomethingElse").err().expect("unknown");
        assert!(
            text.starts_with("AZURE_TOKEN_CREDENTIALS is \"SomethingElse\", which is not a value")
                && text.contains(
                    "dev, prod, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, AzureCliCredential, AzurePowerShellCredential, AzureDeveloperCliCredential or InteractiveBrowserCredential"
                ),
            "{text}"
        );
    }
}
