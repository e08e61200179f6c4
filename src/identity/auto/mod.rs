//! `auto`: the identity used when no route names one, and with no config
//! file at all. It walks the chain of Azure's `DefaultAzureCredential` and
//! takes the first link that has credentials here: the `AZURE_*` secret or
//! certificate variables (`environment`), a federated token file (workload
//! identity, as AKS sets it), then a managed identity (an endpoint the
//! platform announces, or IMDS answering a probe; `AZURE_CLIENT_ID` selects
//! a user-assigned one, as in the SDKs), then the developer tools in the
//! SDKs' order — the Azure CLI when `az` is on PATH, Azure PowerShell when
//! `pwsh` is on PATH and an `Az.Accounts` module directory is in one of
//! PowerShell's module directories, the Azure Developer CLI when `azd` is
//! on PATH and has a sign-in recorded in its config directory — then an
//! interactive sign-in. A developer with PowerShell but without the Az
//! modules, or with azd never signed in, falls through to the sign-in.
//! `AZURE_TOKEN_CREDENTIALS` narrows the chain as it does for the SDKs
//! (`names.rs`).
//!
//! Each link reads only its own variables, and checks them only when it is
//! taken: a bad value that another link would read never fails the request.
//!
//! Deciding reads the environment, stats for the developer tools (and
//! azd's small config files), and, for IMDS, a remembered probe
//! (`probe.rs`: at most [`probe::PROBE_TIMEOUT`], a hit remembered for a day, a
//! miss for minutes), so a cached `get` on a laptop does not wait for a VM
//! endpoint that is not there. When the managed identity is named
//! (`AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential`) nothing is probed
//! and no remembered miss decides: it is used with its full retry budget.
//! Azure PowerShell and the Azure Developer CLI, named, are taken without
//! looking for Az.Accounts or a recorded sign-in: running them says what is
//! missing, with the fix.

mod names;
mod probe;

pub use probe::ImdsProbe;

use crate::config::{Config, MiSelector, UserConfig, check_client_id};
use crate::identity::{Error, Skipped};
use crate::sys::env::Env;

use super::environment::{self, Authority};
use super::managed_identity::Endpoint;
use super::{
    AzureCli, AzureDeveloperCli, AzurePowerShell, Interactivity, ManagedIdentity, TokenSource,
    User, azure_cli, azure_developer_cli, azure_powershell,
};

/// One link of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    AzureCli,
    AzurePowerShell,
    AzureDeveloperCli,
    User,
}

impl Link {
    fn name(self) -> &'static str {
        match self {
            Link::Environment => "environment",
            Link::WorkloadIdentity => "workload identity",
            Link::ManagedIdentity => "managed identity",
            Link::AzureCli => "Azure CLI",
            Link::AzurePowerShell => "Azure PowerShell",
            Link::AzureDeveloperCli => "Azure Developer CLI",
            Link::User => "interactive sign-in",
        }
    }
}

const CHAIN: [Link; 7] = [
    Link::Environment,
    Link::WorkloadIdentity,
    Link::ManagedIdentity,
    Link::AzureCli,
    Link::AzurePowerShell,
    Link::AzureDeveloperCli,
    Link::User,
];

/// The first link of the chain with credentials here.
pub fn resolve(
    name: &str,
    authority: Authority,
    config: &Config,
    env: &Env,
    probe: &ImdsProbe,
    interactivity: Interactivity,
) -> Result<Box<dyn TokenSource>, Error> {
    let allowed = names::allowed(env)?;
    let mut tried = Vec::new();
    for link in allowed.links {
        // Ok: taken; Err(miss): not here; `?`: taken, but its variables are bad.
        let found: Result<Box<dyn TokenSource>, Miss> = match link {
            Link::Environment => match environment::secret(env, authority)? {
                Some(sp) => Ok(Box::new(sp)),
                None => Err(miss(
                    "no AZURE_CLIENT_SECRET or certificate",
                    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) are not all set",
                )),
            },
            Link::WorkloadIdentity => match environment::federated(env, authority)? {
                Some(w) => Ok(Box::new(w)),
                None => Err(miss(
                    "no AZURE_FEDERATED_TOKEN_FILE",
                    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE are not all set",
                )),
            },
            Link::ManagedIdentity => managed_identity(name, config, env, probe, allowed.named)?
                .map(|mi| Box::new(mi) as Box<dyn TokenSource>),
            // Finding az is a few stats; running it waits for acquisition.
            Link::AzureCli => match azure_cli::find(env) {
                Some(_) => Ok(Box::new(AzureCli { tenant: None })),
                None => Err(miss(
                    "az not on PATH",
                    "az is not in an absolute directory of PATH",
                )),
            },
            Link::AzurePowerShell => {
                let found = if allowed.named {
                    Ok(())
                } else {
                    azure_powershell::installed(env)
                };
                match found {
                    Ok(()) => Ok(Box::new(AzurePowerShell { tenant: None })),
                    Err((brief, why)) => Err(miss(brief, why)),
                }
            }
            Link::AzureDeveloperCli => {
                let found = if allowed.named {
                    Ok(())
                } else {
                    azure_developer_cli::signed_in(env)
                };
                match found {
                    Ok(()) => Ok(Box::new(AzureDeveloperCli { tenant: None })),
                    Err((brief, why)) => Err(miss(brief, why)),
                }
            }
            // Only selected here; a prompt comes later, on a cache miss.
            Link::User => match interactivity {
                Interactivity::Forbidden(why) => Err(miss(
                    format!("no prompt: {why}"),
                    format!("no prompt may be shown: {why}"),
                )),
                _ => Ok(Box::new(User::configured(
                    name,
                    &UserConfig::default(),
                    authority()?,
                    config.secret_variables(),
                ))),
            },
        };
        match found {
            Ok(source) => {
                probe.trace.decision(format_args!(
                    "auto: using the {} link: {}",
                    link.name(),
                    source.describe()
                ));
                return Ok(source);
            }
            Err((brief, why)) => {
                probe
                    .trace
                    .detail(format_args!("auto: {} skipped: {why}", link.name()));
                tried.push(Skipped {
                    link: link.name(),
                    why,
                    brief,
                });
            }
        }
    }
    Err(Error::NoAutoSource {
        identity: name.to_string(),
        file: config.describe_file(),
        tried,
    })
}

/// Why a link found nothing here: in a few words, and in full.
type Miss = (String, String);

fn miss(brief: impl Into<String>, why: impl Into<String>) -> Miss {
    (brief.into(), why.into())
}

/// The managed identity, when an endpoint is announced by the platform,
/// IMDS answers the probe, or the user `named` it (then nothing is probed);
/// otherwise why not. As in `DefaultAzureCredential`, `AZURE_CLIENT_ID`
/// selects a user-assigned identity, else the system-assigned one.
fn managed_identity(
    name: &str,
    config: &Config,
    env: &Env,
    probe: &ImdsProbe,
    named: bool,
) -> Result<Result<ManagedIdentity, Miss>, Error> {
    let endpoint = match Endpoint::detect(env) {
        Ok(endpoint) => endpoint,
        Err(e) => return Ok(Err(miss("none announced here", e.to_string()))),
    };
    if let Endpoint::Imds { authority } = &endpoint
        && !named
        && !probe.answers(authority)
    {
        let short = if probe.is_live() {
            "no IMDS answered"
        } else {
            "IMDS not asked"
        };
        return Ok(Err(miss(short, probe.miss(authority))));
    }
    let selector = match env.get("AZURE_CLIENT_ID") {
        None => MiSelector::System,
        Some(id) => MiSelector::ClientId(check_client_id(id).map_err(|p| Error::Environment {
            var: "AZURE_CLIENT_ID",
            problem: format!("is not usable as the user-assigned managed identity's client id: {p}. Fix: set it to the identity's client id, or unset it to use the system-assigned identity"),
        })?),
    };
    Ok(
        ManagedIdentity::detect(name, selector, config.managed_identity_timeout_seconds, env)
            .map_err(|e| miss("not usable here", e.to_string())),
    )
}

#[cfg(test)]
mod tests;
