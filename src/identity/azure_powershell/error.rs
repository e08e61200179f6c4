//! Why PowerShell gave no token, read from its exit status and stderr, where
//! the script writes a failure's message alone (`script.rs`); the texts of
//! PowerShell's own error records are recognized too.

use std::process::ExitStatus;

use super::devtool;
use super::script::NO_MODULE;
use crate::identity::devtool::Failure;

/// What Az.Accounts says when no account is signed in (`Get-AzAccessToken`
/// without a context: "Run Connect-AzAccount to login."), or when the
/// signed-in account has nothing cached for the tenant asked for (the
/// texts Azure Identity's .NET credential looks for).
const NOT_SIGNED_IN: [&str; 4] = [
    "Connect-AzAccount",
    "No accounts were found in the cache",
    "cannot retrieve access token",
    "Unable to acquire token for tenant",
];

/// PowerShell's refusal to load a module's scripts under a `Restricted` or
/// `AllSigned` execution policy.
const POLICY: [&str; 3] = [
    "running scripts is disabled",
    "AuthorizationManager check failed",
    "is not digitally signed",
];

pub(super) fn classify(tenant: Option<&str>, status: ExitStatus, stderr: &str) -> Failure {
    let shown = crate::sys::text::sanitize(&stderr.replace(NO_MODULE, ""));
    // 127: the shell's "not found"; cmd.exe's "is not recognized" (9009).
    if status.code() == Some(127) || stderr.contains("is not recognized as") {
        return Failure::NotInstalled;
    }
    if stderr.contains(NO_MODULE) {
        return if POLICY.iter().any(|p| stderr.contains(p)) {
            Failure::Unusable {
                problem: format!(
                    "PowerShell's execution policy keeps the Az.Accounts module from loading (PowerShell said: {shown})"
                ),
                fix: "run Set-ExecutionPolicy -Scope CurrentUser RemoteSigned in PowerShell, or configure another identity".into(),
            }
        } else {
            Failure::Unusable {
                problem: "the Az.Accounts module (2.2.0 or later) is not installed for PowerShell"
                    .into(),
                fix: "run Install-Module Az.Accounts -Scope CurrentUser in PowerShell, then Connect-AzAccount".into(),
            }
        };
    }
    if let Some(refused) = devtool::refusal(stderr, &shown, || connect(tenant)) {
        return refused;
    }
    if NOT_SIGNED_IN.iter().any(|t| stderr.contains(t)) {
        return Failure::NotSignedIn {
            tenant: tenant.map(str::to_string),
            login: connect(tenant),
            stderr: shown,
        };
    }
    Failure::Failed {
        status: status.to_string(),
        stderr: shown,
    }
}

/// The sign-in that helps: `Connect-AzAccount [-Tenant T]`, or its managed
/// identity form on an Azure machine.
fn connect(tenant: Option<&str>) -> String {
    let tenant = tenant.map(|t| format!(" -Tenant {t}")).unwrap_or_default();
    format!(
        "Connect-AzAccount{tenant} in PowerShell (Connect-AzAccount -Identity for this machine's managed identity)"
    )
}
