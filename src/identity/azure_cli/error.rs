//! Why `az` gave no token, read from its exit status and stderr: Entra's
//! refusal (az prints its AADSTS code, then advises `az login` after most
//! failures), a sign-in az itself says is missing, or something else.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;

use crate::azure_devops::RESOURCE;
use crate::entra::EntraError;

use super::{AzureCli, PROGRAM, TIMEOUT, shown_stderr};

/// Why `az` gave no token.
#[derive(Debug)]
pub enum AzCliError {
    /// No `az` in an absolute PATH directory (or exit status 127).
    NotInstalled,
    /// `az` has no signed-in account (its stderr says to run `az login`).
    NotLoggedIn { stderr: String },
    /// `az` has no sign-in for the configured tenant.
    NotInTenant { tenant: String, stderr: String },
    /// Entra refused az's request (its AADSTS code, read from az's stderr).
    Refused { refusal: EntraError },
    /// Entra refused az's request until someone signs in to az again
    /// (MFA, an expired or revoked sign-in); `login` is az's own advice.
    SignInAgain {
        code: u64,
        login: String,
        stderr: String,
    },
    /// `az` failed some other way.
    Failed { status: String, stderr: String },
    /// `az` did not finish within [`TIMEOUT`].
    TimedOut,
    /// `az` could not be started.
    Spawn { program: PathBuf, cause: String },
    /// `az` printed something that is not a usable token.
    BadOutput { problem: String },
}

impl fmt::Display for AzCliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = |stderr: &str| {
            if stderr.is_empty() {
                String::new()
            } else {
                format!(" (az said: {stderr})")
            }
        };
        match self {
            AzCliError::NotInstalled => write!(
                f,
                "the Azure CLI ({PROGRAM}) was not found in the absolute directories of PATH. Fix: install the Azure CLI (https://aka.ms/installazurecli) and run az login, or configure another identity"
            ),
            AzCliError::NotLoggedIn { stderr } => write!(
                f,
                "the Azure CLI is not signed in{}. Fix: run az login",
                said(stderr)
            ),
            AzCliError::NotInTenant { tenant, stderr } => write!(
                f,
                "the Azure CLI has no sign-in for tenant {tenant}{}. Fix: run az login --tenant {tenant}",
                said(stderr)
            ),
            AzCliError::Refused { refusal } => write!(f, "{refusal}"),
            AzCliError::SignInAgain {
                code,
                login,
                stderr,
            } => write!(
                f,
                "Entra asks for a new Azure CLI sign-in: AADSTS{code} ({}){}. Fix: run {login}",
                crate::entra::aadsts(*code).0,
                said(stderr)
            ),
            AzCliError::Failed { status, stderr } => write!(
                f,
                "az account get-access-token failed ({status}){}. Fix: run az account get-access-token --resource {RESOURCE} yourself to see the problem",
                said(stderr)
            ),
            AzCliError::TimedOut => write!(
                f,
                "az account get-access-token did not finish within {} s and was stopped. Fix: run az account get-access-token --resource {RESOURCE} yourself to see where it waits (a proxy, a sign-in prompt)",
                TIMEOUT.as_secs()
            ),
            AzCliError::Spawn { program, cause } => write!(
                f,
                "could not run {}: {cause}. Fix: reinstall the Azure CLI (https://aka.ms/installazurecli) or configure another identity",
                program.display()
            ),
            AzCliError::BadOutput { problem } => write!(
                f,
                "az account get-access-token answered something this helper cannot use: {problem}. Fix: update the Azure CLI to 2.54 or newer (az upgrade)"
            ),
        }
    }
}

impl std::error::Error for AzCliError {}

impl AzureCli {
    pub(super) fn classify(&self, status: ExitStatus, stderr: &str) -> AzCliError {
        let shown = shown_stderr(stderr);
        if status.code() == Some(127) {
            return AzCliError::NotInstalled;
        }
        // az advises `az login` after most failures, Entra's refusals too:
        // its AADSTS code says what really happened.
        if let Some(refusal) = crate::entra::refusal_in_text(stderr) {
            return match refusal.refusal() {
                Some((_, &[code, ..])) if refusal.needs_interaction() => AzCliError::SignInAgain {
                    code,
                    login: self.login_advice(stderr),
                    stderr: shown,
                },
                _ => AzCliError::Refused { refusal },
            };
        }
        if stderr.contains("az login") {
            return match &self.tenant {
                Some(tenant) => AzCliError::NotInTenant {
                    tenant: tenant.clone(),
                    stderr: shown,
                },
                None => AzCliError::NotLoggedIn { stderr: shown },
            };
        }
        AzCliError::Failed {
            status: status.to_string(),
            stderr: shown,
        }
    }

    /// The commands az advised (the `az …` lines after "Please run:"), each
    /// `az login` for the configured tenant; else `az login [--tenant T]`.
    fn login_advice(&self, stderr: &str) -> String {
        let tenant = self.tenant.as_deref().map(|t| format!(" --tenant {t}"));
        let advised: Vec<String> = stderr
            .lines()
            .skip_while(|l| !l.trim_end().ends_with("Please run:"))
            .skip(1)
            .map(str::trim)
            .take_while(|l| l.starts_with("az "))
            .map(|l| match &tenant {
                Some(t) if l.starts_with("az login") && !l.contains("--tenant") => {
                    format!("{l}{t}")
                }
                _ => l.to_string(),
            })
            .collect();
        if advised.is_empty() {
            format!("az login{}", tenant.unwrap_or_default())
        } else {
            crate::sys::text::sanitize(&advised.join(" then "))
        }
    }
}
