//! Reading and writing git's configuration through `git config` itself.
//!
//! git owns its file format (quoting, includes, section layout), so the
//! helper never edits a config file by hand: every read and write is one
//! `git config` child process, started without a shell, with a deadline and
//! a bound on what it may print.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one `git config` may take before it is killed.
const DEADLINE: Duration = Duration::from_secs(10);
/// The most of its output that is read.
const MAX_OUTPUT: u64 = 1024 * 1024;

/// Which configuration file `git config` reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `--global` (`~/.gitconfig`, or `GIT_CONFIG_GLOBAL`).
    Global,
    /// `--system`.
    System,
    /// `--local`: the repository in the current directory.
    Local,
    /// `--file F`.
    File(PathBuf),
}

impl Scope {
    fn args(&self) -> Vec<OsString> {
        match self {
            Scope::Global => vec!["--global".into()],
            Scope::System => vec!["--system".into()],
            Scope::Local => vec!["--local".into()],
            Scope::File(f) => vec!["--file".into(), f.clone().into_os_string()],
        }
    }

    /// The flag as a person types it, for messages.
    pub fn flag(&self) -> String {
        match self {
            Scope::Global => "--global".into(),
            Scope::System => "--system".into(),
            Scope::Local => "--local".into(),
            Scope::File(f) => format!("--file {}", f.display()),
        }
    }
}

/// `git config` failed: it could not run, timed out, or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitConfigError(pub String);

impl std::fmt::Display for GitConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GitConfigError {}

/// One configuration entry: key (section and subsection as written, name
/// lower-cased by git) and value (`None` for a bare `key` without `=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The scope git names (`system`, `global`, `local`, `command`…), when asked.
    pub scope: Option<String>,
    /// `credential.https://dev.azure.com.helper`.
    pub key: String,
    /// The value.
    pub value: Option<String>,
}

/// Runs `git config ARGS…` and returns its stdout, or `Ok(None)` for git's
/// exit code 1 (key or section not found) when `missing_ok`.
fn git_config(args: &[OsString], missing_ok: bool) -> Result<Option<Vec<u8>>, GitConfigError> {
    let shown = || {
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("git config {}", words.join(" "))
    };
    let mut child = Command::new("git")
        .arg("config")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            GitConfigError(format!(
                "cannot run git ({e}). Fix: install git and make sure it is on PATH"
            ))
        })?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(GitConfigError(format!("{}: no pipes", shown())));
    };
    // Both pipes drained on their own threads: a full pipe must not stall git.
    let reader = |pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(out));
    let err = reader(Box::new(err));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitConfigError(format!(
                    "{} did not finish within {} s. Fix: check for a stale lock file (.gitconfig.lock) or a hung filesystem",
                    shown(),
                    DEADLINE.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(GitConfigError(format!("{}: {e}", shown()))),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    match status.code() {
        Some(0) => Ok(Some(out)),
        Some(1) if missing_ok => Ok(None),
        code => Err(GitConfigError(format!(
            "{} failed ({}): {}",
            shown(),
            code.map_or_else(|| "killed".to_string(), |c| format!("exit {c}")),
            crate::sys::text::sanitize(&String::from_utf8_lossy(&err))
        ))),
    }
}

fn with_scope(scope: Option<&Scope>, rest: &[&str]) -> Vec<OsString> {
    let mut args = scope.map(Scope::args).unwrap_or_default();
    args.extend(rest.iter().map(OsString::from));
    args
}

/// Every value of `key` in `scope`, in file order.
pub fn get_all(scope: &Scope, key: &str) -> Result<Vec<String>, GitConfigError> {
    let out = git_config(
        &with_scope(Some(scope), &["--null", "--get-all", key]),
        true,
    )?;
    Ok(nul_terminated(&out.unwrap_or_default()))
}

/// NUL-terminated records.
fn nul_terminated(out: &[u8]) -> Vec<String> {
    let mut records: Vec<String> = out
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    // The text after the last NUL is not a record.
    records.pop();
    records
}

/// Entries whose key matches `regex`, in `scope` (all scopes when `None`,
/// then each entry names its scope).
pub fn get_regexp(scope: Option<&Scope>, regex: &str) -> Result<Vec<Entry>, GitConfigError> {
    let mut args = vec!["--null"];
    if scope.is_none() {
        args.push("--show-scope");
    }
    args.extend(["--get-regexp", regex]);
    let out = git_config(&with_scope(scope, &args), true)?.unwrap_or_default();
    let records = nul_terminated(&out);
    let mut entries = Vec::new();
    let mut it = records.into_iter();
    while let Some(first) = it.next() {
        let (scope_name, record) = if scope.is_none() {
            match it.next() {
                Some(record) => (Some(first), record),
                None => break,
            }
        } else {
            (None, first)
        };
        let (key, value) = match record.split_once('\n') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (record, None),
        };
        entries.push(Entry {
            scope: scope_name,
            key,
            value,
        });
    }
    Ok(entries)
}

/// Appends `key = value` in `scope`.
pub fn add(scope: &Scope, key: &str, value: &str) -> Result<(), GitConfigError> {
    git_config(&with_scope(Some(scope), &["--add", key, value]), false).map(|_| ())
}

/// Removes every value of `key` in `scope` (nothing to remove is fine).
pub fn unset_all(scope: &Scope, key: &str) -> Result<(), GitConfigError> {
    // Exit 5: the key was not there.
    match git_config(&with_scope(Some(scope), &["--unset-all", key]), true) {
        Err(GitConfigError(e)) if e.contains("(exit 5)") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// The file `scope` reads, for messages (`git config --show-origin`'s view
/// is not needed: the scope's own file is enough to find it).
pub fn describe(scope: &Scope) -> String {
    match scope {
        Scope::File(f) => f.display().to_string(),
        Scope::Global => "your global git config".into(),
        Scope::System => "the system git config".into(),
        Scope::Local => "this repository's git config".into(),
    }
}
