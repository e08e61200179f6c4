//! Why `az` gave no token, read from its exit status and stderr: Entra's
//! refusal (az prints its AADSTS code, then advises `az login` after most
//! failures), a sign-in az itself says is missing, or something else.

use std::process::ExitStatus;

use super::{AzureCli, devtool, shown_stderr};
use crate::identity::devtool::Failure;

pub(super) fn classify(cli: &AzureCli, status: ExitStatus, stderr: &str) -> Failure {
    let shown = shown_stderr(stderr);
    if status.code() == Some(127) {
        return Failure::NotInstalled;
    }
    // az advises `az login` after most failures, Entra's refusals too:
    // its AADSTS code says what really happened.
    if let Some(refused) = devtool::refusal(stderr, &shown, || login_advice(cli, stderr)) {
        return refused;
    }
    if stderr.contains("az login") {
        return Failure::NotSignedIn {
            login: match &cli.tenant {
                Some(t) => format!("az login --tenant {t}"),
                None => "az login".to_string(),
            },
            tenant: cli.tenant.clone(),
            stderr: shown,
        };
    }
    Failure::Failed {
        status: status.to_string(),
        stderr: shown,
    }
}

/// The commands az advised (the `az …` lines after "Please run:"), each
/// `az login` for the configured tenant; else `az login [--tenant T]`.
fn login_advice(cli: &AzureCli, stderr: &str) -> String {
    let tenant = cli.tenant.as_deref().map(|t| format!(" --tenant {t}"));
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
