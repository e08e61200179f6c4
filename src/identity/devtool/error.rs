//! Why a developer tool gave no token, worded with the tool's own names
//! ([`Tool`]) and one fix each.

use std::fmt;
use std::path::PathBuf;

use crate::entra::EntraError;

use super::Tool;

/// Why a developer tool gave no token.
#[derive(Debug)]
pub enum Failure {
    /// Its program is not in an absolute PATH directory (or exit status 127).
    NotInstalled,
    /// It has no signed-in account (for `tenant`, when configured); `login`
    /// is the command that signs in.
    NotSignedIn {
        tenant: Option<String>,
        login: String,
        stderr: String,
    },
    /// Entra refused its request (its AADSTS code, read from its stderr).
    Refused { refusal: EntraError },
    /// Entra refused its request until someone signs in again (MFA, an
    /// expired or revoked sign-in); `login` is the command that does.
    SignInAgain {
        code: u64,
        login: String,
        stderr: String,
    },
    /// It lacks a part it needs (Azure PowerShell's Az.Accounts module).
    Unusable { problem: String, fix: String },
    /// It failed some other way.
    Failed { status: String, stderr: String },
    /// It did not finish within its deadline.
    TimedOut,
    /// It could not be started.
    Spawn { program: PathBuf, cause: String },
    /// It printed something that is not a usable token.
    BadOutput { problem: String },
}

/// A [`Failure`] of one tool.
#[derive(Debug)]
pub struct DevToolError {
    pub tool: &'static Tool,
    pub problem: Failure,
}

impl fmt::Display for DevToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tool = self.tool;
        let said = |stderr: &str| {
            if stderr.is_empty() {
                String::new()
            } else {
                format!(" ({} said: {stderr})", tool.said)
            }
        };
        match &self.problem {
            Failure::NotInstalled => write!(
                f,
                "{} was not found in the absolute directories of PATH. Fix: {}, or configure another identity",
                tool.missing, tool.install
            ),
            Failure::NotSignedIn {
                tenant: None,
                login,
                stderr,
            } => write!(
                f,
                "{} is not signed in{}. Fix: run {login}",
                tool.title,
                said(stderr)
            ),
            Failure::NotSignedIn {
                tenant: Some(tenant),
                login,
                stderr,
            } => write!(
                f,
                "{} has no sign-in for tenant {tenant}{}. Fix: run {login}",
                tool.title,
                said(stderr)
            ),
            Failure::Refused { refusal } => write!(f, "{refusal}"),
            Failure::SignInAgain {
                code,
                login,
                stderr,
            } => write!(
                f,
                "Entra asks for a new {} sign-in: AADSTS{code} ({}){}. Fix: run {login}",
                tool.short,
                crate::entra::aadsts(*code).0,
                said(stderr)
            ),
            Failure::Unusable { problem, fix } => write!(f, "{problem}. Fix: {fix}"),
            Failure::Failed { status, stderr } => write!(
                f,
                "{} failed ({status}){}. Fix: run {} yourself to see the problem",
                tool.command,
                said(stderr),
                (tool.try_it)()
            ),
            Failure::TimedOut => write!(
                f,
                "{} did not finish within {} s and was stopped. Fix: run {} yourself to see where it waits (a proxy, a sign-in prompt)",
                tool.command,
                tool.deadline.as_secs(),
                (tool.try_it)()
            ),
            Failure::Spawn { program, cause } => write!(
                f,
                "could not run {}: {cause}. Fix: {} or configure another identity",
                program.display(),
                tool.reinstall
            ),
            Failure::BadOutput { problem } => write!(
                f,
                "{} answered something this helper cannot use: {problem}. Fix: {}",
                tool.command, tool.update
            ),
        }
    }
}

impl std::error::Error for DevToolError {}
