//! `azure-cli`: the token of whoever is signed in to the Azure CLI, from
//! `az account get-access-token --resource 499b84ac-… --output json`.
//!
//! `az` is found, run and bounded as every developer tool is, and its token
//! cached the same way (`devtool/`): it runs about once an hour. The cache
//! key holds the configured tenant only: `az logout` followed by `az login`
//! as someone else keeps serving the first account's token until it
//! expires, unless `git-credential-entra cache clear` is run (docs/guides.md).

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use serde_json::Value;

use crate::azure_devops::RESOURCE;
use crate::config::AzureCliConfig;
use crate::sys::env::Env;
use crate::token::AccessToken;

use super::Kind;
use super::devtool::{self, DevTool, Failure, Tool};

mod error;

/// How long `az` may take. A run that refreshes az's token over the
/// network takes a few seconds (Python starting is most of it); Azure's
/// SDKs give it 10–13 s. Fifteen leaves room for a slow proxy and still
/// ends a hang long before a person gives up on git.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// How the Azure CLI is named in messages.
static TOOL: Tool = Tool {
    #[cfg(windows)]
    programs: &["az.cmd"],
    #[cfg(not(windows))]
    programs: &["az"],
    kind: Kind::AzureCli,
    whose: "the Azure CLI's",
    #[cfg(windows)]
    missing: "the Azure CLI (az.cmd)",
    #[cfg(not(windows))]
    missing: "the Azure CLI (az)",
    title: "the Azure CLI",
    short: "Azure CLI",
    said: "az",
    command: "az account get-access-token",
    try_it: || format!("az account get-access-token --resource {RESOURCE}"),
    install: "install the Azure CLI (https://aka.ms/installazurecli) and run az login",
    reinstall: "reinstall the Azure CLI (https://aka.ms/installazurecli)",
    update: "update the Azure CLI to 2.54 or newer (az upgrade)",
    deadline: TIMEOUT,
};

/// Tokens from the Azure CLI's signed-in account.
#[derive(Debug, Clone)]
pub struct AzureCli {
    /// `--tenant`, when configured.
    pub tenant: Option<String>,
}

impl AzureCli {
    /// From a config entry.
    pub fn configured(c: &AzureCliConfig) -> AzureCli {
        AzureCli {
            tenant: c.tenant.clone(),
        }
    }
}

impl DevTool for AzureCli {
    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    fn tool(&self) -> &'static Tool {
        &TOOL
    }

    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "account",
            "get-access-token",
            "--resource",
            RESOURCE,
            "--output",
            "json",
        ]
        .map(String::from)
        .to_vec();
        if let Some(t) = &self.tenant {
            args.extend(["--tenant".to_string(), t.clone()]);
        }
        args
    }

    fn env(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("AZURE_CORE_NO_COLOR", "true"),
            // A survey or update prompt must not wait for input.
            ("AZURE_CORE_SURVEY_MESSAGE", "false"),
        ]
    }

    fn classify(&self, status: ExitStatus, stderr: &str) -> Failure {
        error::classify(self, status, stderr)
    }

    fn parse(&self, stdout: &str, received: i64) -> Result<AccessToken, Failure> {
        parse(stdout, received).map_err(|problem| Failure::BadOutput { problem })
    }
}

/// `az` in an absolute directory of PATH (see [`crate::sys::program`]).
pub fn find(env: &Env) -> Option<PathBuf> {
    devtool::find(&TOOL, env)
}

/// The lines of az's stderr worth showing: its `ERROR:` lines when it has
/// some (warnings come first and would crowd them out), sanitized.
fn shown_stderr(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("ERROR"))
        .collect();
    if errors.is_empty() {
        crate::sys::text::sanitize(stderr)
    } else {
        crate::sys::text::sanitize(&errors.join(" "))
    }
}

/// The token in az's JSON answer, received at `received`.
fn parse(stdout: &str, received: i64) -> Result<AccessToken, String> {
    let v: Value = serde_json::from_str(stdout).map_err(|_| "stdout is not JSON".to_string())?;
    let token = v
        .get("accessToken")
        .and_then(Value::as_str)
        .ok_or("the JSON has no accessToken")?;
    let expires_on = match v.get("expires_on") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let expires_on = match expires_on {
        Some(e) => e,
        // Azure CLI before 2.54 wrote only `expiresOn`, in local time.
        None => match v.get("expiresOn").and_then(Value::as_str) {
            Some(local) => local_time(local)?,
            None => return Err("the JSON has neither expires_on nor expiresOn".into()),
        },
    };
    devtool::token(token, expires_on, received)
}

/// `2023-10-31 21:59:10.000000` in this machine's local time zone, as old
/// Azure CLIs wrote `expiresOn`, to seconds since the epoch. The C library's
/// `mktime` knows the local zone and its daylight-saving rules exactly as
/// `az` (run with our environment, so the same `TZ`) did, without a time
/// zone database of our own.
fn local_time(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "expiresOn {:?} is not a date and time",
            crate::sys::text::sanitize(text)
        )
    };
    let (date, time) = text.trim().split_once([' ', 'T']).ok_or_else(bad)?;
    let num = |s: &str| s.parse::<i32>().map_err(|_| bad());
    let mut d = date.split('-');
    let mut t = time.split('.').next().unwrap_or("").split(':');
    let next = |it: &mut std::str::Split<'_, char>| it.next().ok_or_else(bad).and_then(num);
    let (year, month, day) = (next(&mut d)?, next(&mut d)?, next(&mut d)?);
    let (hour, min, sec) = (next(&mut t)?, next(&mut t)?, next(&mut t)?);
    let in_range = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&min)
        && (0..=60).contains(&sec);
    if !in_range {
        return Err(bad());
    }
    mktime(year, month, day, hour, min, sec)
        .ok_or_else(|| "only a local-time expiresOn, which cannot be converted here".to_string())
}

#[cfg(unix)]
fn mktime(year: i32, month: i32, day: i32, hour: i32, min: i32, sec: i32) -> Option<i64> {
    // SAFETY: a zeroed `tm` is a valid value; mktime only reads and
    // normalises the struct we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    // Let the C library decide whether daylight-saving time applies.
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, initialised struct owned by this frame.
    let t = unsafe { libc::mktime(&mut tm) };
    // time_t is 32 bits on some targets.
    #[allow(clippy::useless_conversion)]
    (t != -1).then_some(i64::from(t))
}

/// Without the C library's local-time conversion, an old CLI's `expiresOn`
/// cannot be read; the error asks for an Azure CLI with `expires_on`.
#[cfg(not(unix))]
fn mktime(_: i32, _: i32, _: i32, _: i32, _: i32, _: i32) -> Option<i64> {
    None
}

#[cfg(test)]
mod tests;
