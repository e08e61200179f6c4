//! `azure-developer-cli`: the token of whoever is signed in to the Azure
//! Developer CLI (`azd auth login`), from `azd auth token --output json
//! --scope 499b84ac-…/.default [--tenant-id T]`, as Azure Identity's
//! `AzureDeveloperCliCredential` gets it. azd prints
//! `{"token": "…", "expiresOn": "<RFC 3339>"}`.
//!
//! `azd` is found, run and bounded as every developer tool (`devtool/`),
//! and its token cached the same way: it runs once per token lifetime. The
//! cache key holds the configured tenant only (see `devtool/`).
//!
//! For `auto`, [`signed_in`] decides without starting azd: `azd` is found
//! and its config directory (`AZD_CONFIG_DIR`, else `~/.azd`) records a
//! sign-in — `auth.account.currentUser` in `auth.json` (or, from azd
//! versions before that file, in `config.json`), or `auth.useAzCliAuth`
//! set, which hands azd's sign-ins to the Azure CLI.

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

/// How long `azd` may take: a Go program that starts at once, then perhaps
/// refreshes its token over the network. Azure's SDKs give it 10 s; as for
/// `az`, 15 leaves room for a slow proxy.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The most read of azd's small config files when deciding for `auto`.
const MAX_CONFIG: u64 = 64 * 1024;

/// How the Azure Developer CLI is named in messages.
static TOOL: Tool = Tool {
    #[cfg(windows)]
    programs: &["azd.exe"],
    #[cfg(not(windows))]
    programs: &["azd"],
    kind: Kind::AzureDeveloperCli,
    whose: "the Azure Developer CLI's",
    #[cfg(windows)]
    missing: "the Azure Developer CLI (azd.exe)",
    #[cfg(not(windows))]
    missing: "the Azure Developer CLI (azd)",
    title: "the Azure Developer CLI",
    short: "Azure Developer CLI",
    said: "azd",
    command: "azd auth token",
    try_it: || format!("azd auth token --scope {RESOURCE}/.default"),
    install: "install the Azure Developer CLI (https://aka.ms/azd-install) and run azd auth login",
    reinstall: "reinstall the Azure Developer CLI (https://aka.ms/azd-install)",
    update: "update the Azure Developer CLI (https://aka.ms/azd-install)",
    deadline: TIMEOUT,
};

/// Tokens from the Azure Developer CLI's signed-in account.
#[derive(Debug, Clone)]
pub struct AzureDeveloperCli {
    /// `--tenant-id`, when configured.
    pub tenant: Option<String>,
}

impl AzureDeveloperCli {
    /// From a config entry.
    pub fn configured(c: &DevToolConfig) -> AzureDeveloperCli {
        AzureDeveloperCli {
            tenant: c.tenant.clone(),
        }
    }

    /// The sign-in that helps.
    fn login(&self) -> String {
        let tenant = self.tenant.as_deref().map(|t| format!(" --tenant-id {t}"));
        format!(
            "azd auth login{} (azd auth login --check-status shows who is signed in)",
            tenant.unwrap_or_default()
        )
    }
}

impl DevTool for AzureDeveloperCli {
    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    fn tool(&self) -> &'static Tool {
        &TOOL
    }

    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["auth", "token", "--output", "json", "--scope"]
            .map(String::from)
            .to_vec();
        args.push(format!("{RESOURCE}/.default"));
        if let Some(t) = &self.tenant {
            args.extend(["--tenant-id".to_string(), t.clone()]);
        }
        args
    }

    fn env(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("NO_COLOR", "1"),
            // No "a newer azd is available" banner, no telemetry upload.
            ("AZD_SKIP_UPDATE_CHECK", "true"),
            ("AZURE_DEV_COLLECT_TELEMETRY", "no"),
        ]
    }

    fn classify(&self, status: ExitStatus, stderr: &str) -> Failure {
        let shown = shown_stderr(stderr);
        // 127: the shell's "not found"; cmd.exe's "'azd' is not recognized".
        if status.code() == Some(127) || stderr.contains("is not recognized as") {
            return Failure::NotInstalled;
        }
        if let Some(refused) = devtool::refusal(stderr, &shown, || self.login()) {
            return refused;
        }
        // "not logged in, run `azd auth login` to login", and "reauthentication
        // required, run `azd auth login …`" when the sign-in has expired.
        if stderr.contains("azd auth login") {
            return Failure::NotSignedIn {
                tenant: self.tenant.clone(),
                login: self.login(),
                stderr: shown,
            };
        }
        Failure::Failed {
            status: status.to_string(),
            stderr: shown,
        }
    }

    fn parse(&self, stdout: &str, received: i64) -> Result<AccessToken, Failure> {
        parse(stdout, received).map_err(|problem| Failure::BadOutput { problem })
    }
}

/// `azd` in an absolute directory of PATH (see [`crate::sys::program`]).
pub fn find(env: &Env) -> Option<PathBuf> {
    devtool::find(&TOOL, env)
}

/// Whether azd is installed and has a sign-in recorded, for `auto`: a stat
/// and at most two small files read, no azd started. Why not: in a few
/// words, and in full.
pub fn signed_in(env: &Env) -> Result<(), (&'static str, &'static str)> {
    find(env).ok_or((
        "azd not on PATH",
        "azd is not in an absolute directory of PATH",
    ))?;
    let dir = env
        .dir("AZD_CONFIG_DIR")
        .or_else(|| env.home().map(|h| h.join(".azd")))
        .ok_or((
            "no azd sign-in",
            "azd's config directory is unknown (no HOME)",
        ))?;
    let current_user = |v: &Value| {
        v.pointer("/auth/account/currentUser")
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty())
    };
    if read_json(&dir.join("auth.json")).is_some_and(|v| current_user(&v)) {
        return Ok(());
    }
    let config = read_json(&dir.join("config.json"));
    let uses_az = |v: &Value| {
        v.pointer("/auth/useAzCliAuth")
            .and_then(Value::as_str)
            .is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "t"))
    };
    if config.is_some_and(|v| current_user(&v) || uses_az(&v)) {
        return Ok(());
    }
    Err((
        "no azd sign-in",
        "azd has no sign-in recorded (azd auth login)",
    ))
}

/// A small JSON file, or `None` when it is missing, too big or not JSON.
fn read_json(path: &Path) -> Option<Value> {
    let file = std::fs::File::open(path).ok()?;
    let bytes = crate::sys::files::read_at_most(file, MAX_CONFIG + 1).ok()?;
    if bytes.len() as u64 > MAX_CONFIG {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// azd's stderr worth showing: with `--output json` it writes its messages
/// as JSON lines (`{"type":"consoleMessage",…,"data":{"message":"…"}}`),
/// whose messages are shown; other lines as they are. Sanitized.
fn shown_stderr(stderr: &str) -> String {
    let lines: Vec<String> = stderr
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| Some(v.pointer("/data/message")?.as_str()?.to_string()))
                .unwrap_or_else(|| l.to_string())
        })
        .collect();
    crate::sys::text::sanitize(&lines.join(" "))
}

/// The token in azd's answer, received at `received`.
fn parse(stdout: &str, received: i64) -> Result<AccessToken, String> {
    let v: Value = serde_json::from_str(stdout).map_err(|_| "stdout is not JSON".to_string())?;
    let token = v
        .get("token")
        .and_then(Value::as_str)
        .ok_or("the JSON has no token")?;
    let expires = v
        .get("expiresOn")
        .and_then(Value::as_str)
        .ok_or("the JSON has no expiresOn")?;
    let expires_on = crate::sys::time::parse_rfc3339(expires.trim()).ok_or_else(|| {
        format!(
            "expiresOn {:?} is not an RFC 3339 date-time",
            crate::sys::text::sanitize(expires)
        )
    })?;
    devtool::token(token, expires_on, received)
}

#[cfg(test)]
mod tests;
