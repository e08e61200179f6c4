//! `azure-cli`: the token of whoever is signed in to the Azure CLI, from
//! `az account get-access-token --resource 499b84ac-… --output json`.
//!
//! Git runs us inside a repository nobody vetted, so `az` is looked up only
//! in absolute PATH entries (never `.`, an empty entry or a relative one,
//! which would run a program the repository ships), started without a shell
//! from a working directory outside the repository, and given at most
//! [`TIMEOUT`] before it (and anything it started) is killed. Its stdout
//! holds the token and is never shown; its stderr is shown sanitized.
//!
//! The token is cached like any other, so `az` runs about once an hour. The
//! cache key holds the configured tenant only: `az logout` followed by
//! `az login` as someone else keeps serving the first account's token until
//! it expires, unless `git-credential-entra cache clear` is run (docs/guides.md).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::azure_devops::RESOURCE;
use crate::cache::Fingerprint;
use crate::config::AzureCliConfig;
use crate::identity::Error;
use crate::sys::env::Env;
use crate::sys::program::{self, RunError};
use crate::sys::secret::Secret;
use crate::sys::time::now;
use crate::token::AccessToken;

use super::{AcquireCx, Kind, TokenSource};

mod error;
pub use error::AzCliError;

/// How long `az` may take. A run that refreshes az's token over the
/// network takes a few seconds (Python starting is most of it); Azure's
/// SDKs give it 10–13 s. Fifteen leaves room for a slow proxy and still
/// ends a hang long before a person gives up on git.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// The most of `az`'s stdout read (its JSON is under 4 KiB).
const MAX_STDOUT: u64 = 1024 * 1024;
/// The most of `az`'s stderr kept for a message.
const MAX_STDERR: u64 = 64 * 1024;
/// The longest life believed from `az`'s expiry (as for Entra's answers).
const MAX_LIFETIME_SECS: i64 = 24 * 3600;

/// The program's file name.
#[cfg(windows)]
const PROGRAM: &str = "az.cmd";
#[cfg(not(windows))]
const PROGRAM: &str = "az";

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

    /// The arguments given to `az`.
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
}

impl TokenSource for AzureCli {
    fn kind(&self) -> Kind {
        Kind::AzureCli
    }

    fn describe(&self) -> String {
        match &self.tenant {
            Some(t) => format!("{}, the Azure CLI's sign-in in tenant {t}", self.kind()),
            None => format!("{}, the Azure CLI's signed-in account", self.kind()),
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let tenant = self.tenant.as_deref().unwrap_or("default");
        super::key(self.kind(), "", tenant, "")
    }

    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        let fail = |cause| Error::AzureCli {
            identity: cx.identity.to_string(),
            cause: Box::new(cause),
        };
        let program = find(cx.env).ok_or_else(|| fail(AzCliError::NotInstalled))?;
        let args = self.args();
        cx.trace.detail(format_args!(
            "{}: running {} {}",
            cx.identity,
            program.display(),
            args.join(" ")
        ));
        let started = Instant::now();
        let out = run(&program, &args).map_err(fail)?;
        cx.trace.detail(format_args!(
            "{}: az finished in {} ms ({})",
            cx.identity,
            started.elapsed().as_millis(),
            out.status
        ));
        if !out.status.success() {
            return Err(fail(self.classify(out.status, &out.stderr)));
        }
        let token = parse(out.stdout.expose(), now()).map_err(|problem| {
            fail(AzCliError::BadOutput {
                problem: problem.to_string(),
            })
        })?;
        cx.trace.decision(format_args!(
            "{}: token from the Azure CLI, valid until {}",
            cx.identity,
            crate::sys::time::rfc3339(token.expires_on)
        ));
        Ok(token)
    }
}

/// `az` in an absolute directory of PATH (see [`crate::sys::program`]).
pub fn find(env: &Env) -> Option<PathBuf> {
    program::find(env, PROGRAM)
}

/// A directory outside any repository, for `az` to run in.
fn neutral_dir() -> PathBuf {
    #[cfg(windows)]
    {
        std::env::var_os("SYSTEMROOT")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(std::env::temp_dir)
    }
    #[cfg(not(windows))]
    {
        PathBuf::from("/")
    }
}

/// What `az` did.
struct Output {
    status: ExitStatus,
    /// Holds the token.
    stdout: Secret<String>,
    stderr: String,
}

/// Runs `program args…` through [`program::run`], from a directory outside
/// the repository, bounded in time and in what is read.
fn run(program: &Path, args: &[String]) -> Result<Output, AzCliError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(neutral_dir())
        .env("AZURE_CORE_NO_COLOR", "true")
        // A survey or update prompt must not wait for input.
        .env("AZURE_CORE_SURVEY_MESSAGE", "false");
    let limits = program::Limits {
        deadline: TIMEOUT,
        max_stdout: MAX_STDOUT,
        max_stderr: MAX_STDERR,
    };
    let done = program::run(&mut cmd, None, limits).map_err(|e| match e {
        RunError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => AzCliError::NotInstalled,
        RunError::Spawn(e) => AzCliError::Spawn {
            program: program.to_path_buf(),
            cause: e.to_string(),
        },
        RunError::TimedOut => AzCliError::TimedOut,
        RunError::TooMuchOutput(max) => AzCliError::BadOutput {
            problem: format!("more than {max} bytes on stdout"),
        },
    })?;
    Ok(Output {
        status: done.status,
        stdout: Secret::new(String::from_utf8_lossy(&done.stdout).into_owned()),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
    })
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
    AccessToken::check_token(token).map_err(str::to_string)?;
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
    if expires_on <= received {
        return Err(format!(
            "the token expired at {}",
            crate::sys::time::rfc3339(expires_on)
        ));
    }
    Ok(AccessToken {
        token: Secret::new(token.to_string()),
        expires_on: expires_on.min(received.saturating_add(MAX_LIFETIME_SECS)),
        obtained: received,
        refresh_on: None,
    })
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
