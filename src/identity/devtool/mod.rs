//! Developer tools that hand out a token for whoever is signed in to them:
//! the Azure CLI (`az`), Azure PowerShell (`pwsh`) and the Azure Developer
//! CLI (`azd`). What they share lives here — how such a program is found and
//! run, how its answer becomes a token, and how its failures are worded — so
//! each tool (`azure_cli/`, `azure_powershell/`, `azure_developer_cli/`)
//! says only which program, which arguments, how to read its answer and how
//! to read its failures ([`DevTool`]).
//!
//! Git runs us inside a repository nobody vetted, so a tool is looked up
//! only in absolute PATH entries (never `.`, an empty entry or a relative
//! one, which would run a program the repository ships), started without a
//! shell from a working directory outside the repository, and given at most
//! its [`Tool::deadline`] before it (and anything it started) is killed. Its
//! stdout holds the token: it is kept as a [`Secret`] and never shown. Its
//! stderr is shown sanitized.
//!
//! The tokens are cached like any other, so a tool runs about once per token
//! lifetime. The cache key holds the type and the configured tenant only:
//! signing out of the tool and in as someone else keeps serving the first
//! account's token until it expires, unless `git-credential-entra cache
//! clear` is run (docs/guides.md).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::identity::Error;
use crate::sys::env::Env;
use crate::sys::program::{self, RunError};
use crate::sys::secret::Secret;
use crate::sys::time::now;
use crate::token::AccessToken;

use super::{AcquireCx, Kind, TokenSource};
use crate::cache::Fingerprint;

mod error;
pub use error::{DevToolError, Failure};

/// The most of a tool's stdout read (its answer is a few KiB).
const MAX_STDOUT: u64 = 1024 * 1024;
/// The most of a tool's stderr kept for a message.
const MAX_STDERR: u64 = 64 * 1024;
/// The longest life believed from a tool's expiry (as for Entra's answers).
const MAX_LIFETIME_SECS: i64 = 24 * 3600;

/// How a tool is named in messages, and how long it may take.
#[derive(Debug)]
pub struct Tool {
    /// Its program's file names, in the order tried.
    pub programs: &'static [&'static str],
    /// The identity type that runs it.
    pub kind: Kind,
    /// Whose sign-in it hands out, in `describe`: "the Azure CLI's".
    pub whose: &'static str,
    /// The program and who makes it: "the Azure CLI (az)".
    pub missing: &'static str,
    /// The tool: "the Azure CLI".
    pub title: &'static str,
    /// Before its errors and in "a new … sign-in": "Azure CLI".
    pub short: &'static str,
    /// Who said its stderr: "az".
    pub said: &'static str,
    /// The command run: "az account get-access-token".
    pub command: &'static str,
    /// The command a person runs to see the problem.
    pub try_it: fn() -> String,
    /// How to get it: "install the Azure CLI (https://…) and run az login".
    pub install: &'static str,
    /// How to repair it when it cannot start: "reinstall the Azure CLI (https://…)".
    pub reinstall: &'static str,
    /// What to do about an answer that cannot be used.
    pub update: &'static str,
    /// How long one run may take.
    pub deadline: Duration,
}

/// What one tool does differently from the others.
pub trait DevTool {
    /// Its names and deadline.
    fn tool(&self) -> &'static Tool;
    /// The configured tenant (`None`: the tool's default).
    fn tenant(&self) -> Option<&str>;
    /// The arguments it is run with.
    fn args(&self) -> Vec<String>;
    /// The arguments as the trace shows them.
    fn shown_args(&self, args: &[String]) -> String {
        args.join(" ")
    }
    /// Variables set for it (a prompt or an update check must not wait).
    fn env(&self) -> &'static [(&'static str, &'static str)];
    /// Why a run that exited with `status` gave no token.
    fn classify(&self, status: ExitStatus, stderr: &str) -> Failure;
    /// The token in a successful run's stdout, received at `received`.
    fn parse(&self, stdout: &str, received: i64) -> Result<AccessToken, Failure>;
}

/// Every tool is a token source the same way: its type and the configured
/// tenant key its tokens (see the module doc for the trade-off).
impl<T: DevTool> TokenSource for T {
    fn kind(&self) -> Kind {
        self.tool().kind
    }

    fn describe(&self) -> String {
        let whose = self.tool().whose;
        match self.tenant() {
            Some(t) => format!("{}, {whose} sign-in in tenant {t}", self.kind()),
            None => format!("{}, {whose} signed-in account", self.kind()),
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        super::key(self.kind(), "", self.tenant().unwrap_or("default"), "")
    }

    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        acquire(self, cx)
    }
}

/// The first of `tool`'s programs in an absolute directory of PATH (see
/// [`crate::sys::program`]).
pub fn find(tool: &Tool, env: &Env) -> Option<PathBuf> {
    tool.programs.iter().find_map(|p| program::find(env, p))
}

/// The status of a run that exited with `code`, for the tools' tests.
#[cfg(test)]
pub fn exited(code: i32) -> ExitStatus {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::ExitStatusExt;
        ExitStatus::from_raw(code as u32)
    }
}

/// Runs the tool once and reads its token.
pub fn acquire(tool: &dyn DevTool, cx: &AcquireCx) -> Result<AccessToken, Error> {
    let names = tool.tool();
    let fail = |problem| Error::DevTool {
        identity: cx.identity.to_string(),
        cause: Box::new(DevToolError {
            tool: names,
            problem,
        }),
    };
    let program = find(names, cx.env).ok_or_else(|| fail(Failure::NotInstalled))?;
    let args = tool.args();
    cx.trace.detail(format_args!(
        "{}: running {} {}",
        cx.identity,
        program.display(),
        tool.shown_args(&args)
    ));
    let started = Instant::now();
    let out = run(names, &program, &args, tool.env()).map_err(fail)?;
    cx.trace.detail(format_args!(
        "{}: {} finished in {} ms ({})",
        cx.identity,
        names.said,
        started.elapsed().as_millis(),
        out.status
    ));
    if !out.status.success() {
        return Err(fail(tool.classify(out.status, &out.stderr)));
    }
    let token = tool.parse(out.stdout.expose(), now()).map_err(fail)?;
    cx.trace.decision(format_args!(
        "{}: token from {}, valid until {}",
        cx.identity,
        names.title,
        crate::sys::time::rfc3339(token.expires_on)
    ));
    Ok(token)
}

/// A directory outside any repository, for a tool to run in.
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

/// What a tool did.
pub struct Output {
    pub status: ExitStatus,
    /// Holds the token.
    pub stdout: Secret<String>,
    pub stderr: String,
}

/// Runs `program args…` through [`program::run`] with `env` added, from a
/// directory outside the repository, bounded in time and in what is read.
pub fn run(
    tool: &Tool,
    program: &Path,
    args: &[String],
    env: &[(&str, &str)],
) -> Result<Output, Failure> {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(neutral_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let limits = program::Limits {
        deadline: tool.deadline,
        max_stdout: MAX_STDOUT,
        max_stderr: MAX_STDERR,
    };
    let done = program::run(&mut cmd, None, limits).map_err(|e| match e {
        RunError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => Failure::NotInstalled,
        RunError::Spawn(e) => Failure::Spawn {
            program: program.to_path_buf(),
            cause: e.to_string(),
        },
        RunError::TimedOut => Failure::TimedOut,
        RunError::TooMuchOutput(max) => Failure::BadOutput {
            problem: format!("more than {max} bytes on stdout"),
        },
    })?;
    Ok(Output {
        status: done.status,
        stdout: Secret::new(String::from_utf8_lossy(&done.stdout).into_owned()),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
    })
}

/// A token a tool printed, expiring at `expires_on`, received at
/// `received`: checked like any token, refused when already expired, its
/// life clamped to a day. The problem never quotes the token.
pub fn token(token: &str, expires_on: i64, received: i64) -> Result<AccessToken, String> {
    AccessToken::check_token(token).map_err(str::to_string)?;
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

/// Entra's refusal in a tool's stderr, when there is one (tools print its
/// AADSTS code, and most then advise signing in again whatever happened):
/// a refusal only a new sign-in (`login`) cures, or the refusal as Entra
/// worded it.
pub fn refusal(stderr: &str, shown: &str, login: impl FnOnce() -> String) -> Option<Failure> {
    let refusal = crate::entra::refusal_in_text(stderr)?;
    Some(match refusal.refusal() {
        Some((_, &[code, ..])) if refusal.needs_interaction() => Failure::SignInAgain {
            code,
            login: login(),
            stderr: shown.to_string(),
        },
        _ => Failure::Refused { refusal },
    })
}

#[cfg(test)]
mod tests;
