//! `azure-powershell`: the token of whoever is signed in to Azure
//! PowerShell (`Connect-AzAccount`), from Az.Accounts' `Get-AzAccessToken`,
//! as Azure Identity's `AzurePowerShellCredential` gets it.
//!
//! PowerShell 7 (`pwsh`) runs the script of `script.rs` with no profile and
//! no prompt; on Windows, Windows PowerShell (`powershell.exe`) where `pwsh`
//! is absent. It is found, run and bounded as every developer tool
//! (`devtool/`), and its token cached the same way: PowerShell and
//! Az.Accounts take seconds to start, so it runs once per token lifetime,
//! not once per git operation. The cache key holds the configured tenant
//! only (see `devtool/` for what that means after signing in as someone else).
//!
//! For `auto`, [`installed`] decides without starting PowerShell: `pwsh` is
//! found and an `Az.Accounts` directory is in one of PowerShell's module
//! directories ([`module_dirs`]).

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use serde_json::Value;

use crate::azure_devops::RESOURCE;
use crate::config::DevToolConfig;
use crate::sys::env::Env;
use crate::token::AccessToken;

use super::Kind;
use super::devtool::{self, DevTool, Failure, Tool};

mod error;
mod script;

/// How long PowerShell may take. It is the slowest of the developer tools
/// to start: the runtime, then Az.Accounts' assemblies, then perhaps a
/// token refresh over the network. Azure's SDKs give it 10 s, enough on a
/// warm machine; a first run after a login (cold disk cache, an antivirus
/// scanning every assembly Windows PowerShell loads) takes several seconds
/// more. Twenty still ends a hang long before a person gives up on git,
/// and it is waited on once per token lifetime.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How Azure PowerShell is named in messages.
static TOOL: Tool = Tool {
    #[cfg(windows)]
    programs: &["pwsh.exe", "powershell.exe"],
    #[cfg(not(windows))]
    programs: &["pwsh"],
    kind: Kind::AzurePowerShell,
    whose: "Azure PowerShell's",
    #[cfg(windows)]
    missing: "PowerShell (pwsh.exe or powershell.exe)",
    #[cfg(not(windows))]
    missing: "PowerShell (pwsh)",
    title: "Azure PowerShell",
    short: "Azure PowerShell",
    said: "PowerShell",
    command: "Get-AzAccessToken",
    try_it: || format!("Get-AzAccessToken -ResourceUrl {RESOURCE} in PowerShell"),
    install: "install PowerShell 7 (https://aka.ms/install-powershell), then run Install-Module Az.Accounts -Scope CurrentUser and Connect-AzAccount in it",
    reinstall: "reinstall PowerShell 7 (https://aka.ms/install-powershell)",
    update: "update Az.Accounts (Update-Module Az.Accounts in PowerShell)",
    deadline: TIMEOUT,
};

/// Tokens from Azure PowerShell's signed-in account.
#[derive(Debug, Clone)]
pub struct AzurePowerShell {
    /// `-TenantId`, when configured.
    pub tenant: Option<String>,
}

impl AzurePowerShell {
    /// From a config entry.
    pub fn configured(c: &DevToolConfig) -> AzurePowerShell {
        AzurePowerShell {
            tenant: c.tenant.clone(),
        }
    }
}

impl DevTool for AzurePowerShell {
    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    fn tool(&self) -> &'static Tool {
        &TOOL
    }

    fn args(&self) -> Vec<String> {
        let script = script::script(self.tenant.as_deref());
        [
            "-NoProfile",
            "-NonInteractive",
            "-NoLogo",
            "-EncodedCommand",
        ]
        .map(String::from)
        .into_iter()
        .chain([script::encode(&script)])
        .collect()
    }

    fn shown_args(&self, args: &[String]) -> String {
        match args.split_last() {
            Some((script, first)) => format!(
                "{} <the Get-AzAccessToken script, {} characters>",
                first.join(" "),
                script.len()
            ),
            None => String::new(),
        }
    }

    fn env(&self) -> &'static [(&'static str, &'static str)] {
        &[
            // No check for a newer PowerShell, no telemetry: nothing that
            // waits on the network but the token.
            ("POWERSHELL_UPDATECHECK", "Off"),
            ("POWERSHELL_TELEMETRY_OPTOUT", "1"),
        ]
    }

    fn classify(&self, status: ExitStatus, stderr: &str) -> Failure {
        error::classify(self.tenant.as_deref(), status, stderr)
    }

    fn parse(&self, stdout: &str, received: i64) -> Result<AccessToken, Failure> {
        parse(stdout, received).map_err(|problem| Failure::BadOutput { problem })
    }
}

/// PowerShell in an absolute directory of PATH (see [`crate::sys::program`]).
pub fn find(env: &Env) -> Option<PathBuf> {
    devtool::find(&TOOL, env)
}

/// Whether Azure PowerShell looks installed here, for `auto`, decided with
/// a few stats: PowerShell is found and some module directory it searches
/// holds `Az.Accounts`. A developer with PowerShell but without the Az
/// modules is not taken for a PowerShell user. Why not: in a few words,
/// and in full.
pub fn installed(env: &Env) -> Result<(), (&'static str, &'static str)> {
    let pwsh = find(env).ok_or((
        "pwsh not on PATH",
        "PowerShell is not in an absolute directory of PATH",
    ))?;
    if module_dirs(env, &pwsh)
        .iter()
        .any(|dir| dir.join("Az.Accounts").is_dir())
    {
        Ok(())
    } else {
        Err((
            "no Az.Accounts module",
            "PowerShell has no Az.Accounts module in its module directories",
        ))
    }
}

/// The directories PowerShell loads modules from: the absolute entries of
/// `PSModulePath`, then the ones PowerShell adds itself (about_PSModulePath):
/// the user's and all users' module directories and `$PSHOME/Modules`
/// beside the program.
fn module_dirs(env: &Env, pwsh: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env
        .get("PSModulePath")
        .map(|v| {
            std::env::split_paths(&std::ffi::OsString::from(v))
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    #[cfg(not(windows))]
    {
        // `Install-Module -Scope CurrentUser` and `-Scope AllUsers`.
        let data = env
            .dir("XDG_DATA_HOME")
            .or_else(|| env.home().map(|h| h.join(".local/share")));
        dirs.extend(data.map(|d| d.join("powershell/Modules")));
        dirs.push(PathBuf::from("/usr/local/share/powershell/Modules"));
    }
    #[cfg(windows)]
    {
        // Documents, or Documents moved into OneDrive; PowerShell 7's and
        // Windows PowerShell's own names under it and under Program Files.
        let documents = [
            env.dir("USERPROFILE").map(|h| h.join("Documents")),
            env.dir("OneDrive").map(|h| h.join("Documents")),
        ];
        for docs in documents.into_iter().flatten() {
            dirs.push(docs.join("PowerShell\\Modules"));
            dirs.push(docs.join("WindowsPowerShell\\Modules"));
        }
        if let Some(pf) = env.dir("ProgramFiles") {
            dirs.push(pf.join("PowerShell\\Modules"));
            dirs.push(pf.join("WindowsPowerShell\\Modules"));
        }
    }
    // `$PSHOME`: where the program really is (`/usr/bin/pwsh` is a link).
    let real = std::fs::canonicalize(pwsh).unwrap_or_else(|_| pwsh.to_path_buf());
    dirs.extend(real.parent().map(|home| home.join("Modules")));
    dirs
}

/// The token in the script's answer, a line of JSON
/// `{"Token":"…","ExpiresOn":1900003600}` among whatever else a module
/// printed, received at `received`. `ExpiresOn` may also be a string of
/// seconds or an RFC 3339 date-time. Nothing of stdout is ever quoted.
fn parse(stdout: &str, received: i64) -> Result<AccessToken, String> {
    let answer = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("Token").is_some())
        .ok_or("no line of its output is the script's JSON with a Token")?;
    let token = answer
        .get("Token")
        .and_then(Value::as_str)
        .ok_or("the Token is not a string")?;
    let expires_on = match answer.get("ExpiresOn") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| crate::sys::time::parse_rfc3339(s.trim())),
        _ => return Err("the JSON has no ExpiresOn".into()),
    }
    .ok_or("ExpiresOn is neither Unix seconds nor an RFC 3339 date-time")?;
    devtool::token(token, expires_on, received)
}

#[cfg(test)]
mod tests;
