//! Reading and writing git's configuration through `git config` itself.
//!
//! git owns its file format (quoting, includes, section layout), so the
//! helper never edits a config file by hand: every read and write is one
//! `git config` child process, found and run as every program we start
//! ([`crate::sys::program`]): without a shell, with a deadline and a bound
//! on what it may print.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::sys::env::Env;
use crate::sys::program::{self, RunError};

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

/// `git config`, the git found in an absolute directory of PATH.
#[derive(Debug, Clone)]
pub struct GitConfig {
    git: PathBuf,
}

impl GitConfig {
    /// git, looked up as every program we start is ([`program::find`]).
    pub fn find(env: &Env) -> Result<GitConfig, GitConfigError> {
        program::find(env, "git")
            .map(|git| GitConfig { git })
            .ok_or_else(|| {
                GitConfigError(
                    "git is not in an absolute directory of PATH. Fix: install git and make sure it is on PATH".into(),
                )
            })
    }

    /// Runs `git config ARGS…` (with `input` on its stdin) and returns its
    /// stdout, or `Ok(None)` for git's exit code 1 (key or section not
    /// found) when `missing_ok`.
    fn run(
        &self,
        args: &[OsString],
        input: Option<&[u8]>,
        missing_ok: bool,
    ) -> Result<Option<Vec<u8>>, GitConfigError> {
        let shown = || {
            let words: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            format!("git config {}", words.join(" "))
        };
        let limits = program::Limits {
            deadline: DEADLINE,
            max_stdout: MAX_OUTPUT,
            max_stderr: MAX_OUTPUT,
        };
        let mut command = Command::new(&self.git);
        command.arg("config").args(args);
        let done = program::run(&mut command, input, limits).map_err(|e| match e {
            RunError::Spawn(e) => GitConfigError(format!(
                "cannot run {} ({e}). Fix: install git and make sure it is on PATH",
                self.git.display()
            )),
            RunError::TimedOut => GitConfigError(format!(
                "{} did not finish within {} s. Fix: check for a stale lock file (.gitconfig.lock) or a hung filesystem",
                shown(),
                DEADLINE.as_secs()
            )),
            RunError::TooMuchOutput(max) => {
                GitConfigError(format!("{} printed more than {max} bytes", shown()))
            }
        })?;
        match done.status.code() {
            Some(0) => Ok(Some(done.stdout)),
            Some(1) if missing_ok => Ok(None),
            code => Err(GitConfigError(format!(
                "{} failed ({}): {}",
                shown(),
                code.map_or_else(|| "killed".to_string(), |c| format!("exit {c}")),
                crate::sys::text::sanitize(&String::from_utf8_lossy(&done.stderr))
            ))),
        }
    }

    /// Whether git finds a repository from the current directory (which
    /// `--local` needs).
    pub fn in_repository(&self) -> bool {
        program::run_bounded(&self.git, &["rev-parse", "--git-dir"], DEADLINE).is_some()
    }

    /// Every value of `key` in `scope`, in file order.
    pub fn get_all(&self, scope: &Scope, key: &str) -> Result<Vec<String>, GitConfigError> {
        let args = with_scope(Some(scope), &["--null", "--get-all", key]);
        let out = self.run(&args, None, true)?;
        Ok(nul_terminated(&out.unwrap_or_default()))
    }

    /// Entries whose key matches `regex`, in `scope` (all scopes when `None`,
    /// then each entry names its scope).
    pub fn get_regexp(
        &self,
        scope: Option<&Scope>,
        regex: &str,
    ) -> Result<Vec<Entry>, GitConfigError> {
        let mut args = vec!["--null"];
        if scope.is_none() {
            args.push("--show-scope");
        }
        args.extend(["--get-regexp", regex]);
        let out = self
            .run(&with_scope(scope, &args), None, true)?
            .unwrap_or_default();
        Ok(entries(&out, scope.is_none()))
    }

    /// Appends `key = value` in `scope`.
    pub fn add(&self, scope: &Scope, key: &str, value: &str) -> Result<(), GitConfigError> {
        let args = with_scope(Some(scope), &["--add", key, value]);
        self.run(&args, None, false).map(|_| ())
    }

    /// Removes every value of `key` in `scope` (nothing to remove is fine).
    pub fn unset_all(&self, scope: &Scope, key: &str) -> Result<(), GitConfigError> {
        // Exit 5: the key was not there.
        match self.run(&with_scope(Some(scope), &["--unset-all", key]), None, true) {
            Err(GitConfigError(e)) if e.contains("(exit 5)") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// The `section.*` settings git applies to `url` (`git config
    /// --get-urlmatch`: each key's best match among its `section.<url>.`
    /// forms and the plain one, across every config git reads), as
    /// entries with the URL dropped from the key, as git prints them, each
    /// naming the scope it came from (`local` is the repository's).
    pub fn url_settings(&self, section: &str, url: &str) -> Result<Vec<Entry>, GitConfigError> {
        let args: Vec<OsString> = ["--null", "--show-scope", "--get-urlmatch", section, url]
            .iter()
            .map(OsString::from)
            .collect();
        let out = self.run(&args, None, true)?.unwrap_or_default();
        Ok(entries(&out, true))
    }

    /// Which of `patterns` (the `<URL>`s of `credential.<URL>.*` keys, `""`
    /// for plain `credential.*`) git applies to requests for `url`, decided
    /// by git itself: git normalises URLs (case, default ports, escapes) and
    /// matches users, `*` host labels and path prefixes in ways no copy of
    /// its rules should guess at. Each pattern gets a key of its own in a
    /// config read from stdin, and `git config --get-urlmatch credential
    /// URL` names the keys whose section matches. (`--get-urlmatch` alone
    /// names only the best match of each key, while `git credential` uses
    /// every matching section in config order, hence one key per pattern.)
    pub fn credential_matches(
        &self,
        patterns: &[&str],
        url: &str,
    ) -> Result<Vec<bool>, GitConfigError> {
        let mut config = String::new();
        for (i, pattern) in patterns.iter().enumerate() {
            // A line break cannot be in a section name: such a key is not git's.
            if pattern.contains(['\n', '\r', '\0']) {
                continue;
            }
            if pattern.is_empty() {
                config.push_str("[credential]\n");
            } else {
                let quoted = pattern.replace('\\', "\\\\").replace('"', "\\\"");
                config.push_str(&format!("[credential \"{quoted}\"]\n"));
            }
            config.push_str(&format!("\tp{i} = 1\n"));
        }
        let args: Vec<OsString> = ["--file", "-", "--null", "--get-urlmatch", "credential", url]
            .iter()
            .map(OsString::from)
            .collect();
        let out = self
            .run(&args, Some(config.as_bytes()), true)?
            .unwrap_or_default();
        let mut matched = vec![false; patterns.len()];
        for record in nul_terminated(&out) {
            let key = record.split('\n').next().unwrap_or("");
            let index = key
                .strip_prefix("credential.p")
                .and_then(|i| i.parse::<usize>().ok());
            if let Some(m) = index.and_then(|i| matched.get_mut(i)) {
                *m = true;
            }
        }
        Ok(matched)
    }
}

/// The `<URL>` of a `credential.<URL>.<name>` key, `""` for
/// `credential.<name>` (`name` compared as git does, ignoring case).
pub fn credential_url<'a>(key: &'a str, name: &str) -> Option<&'a str> {
    let rest = key.strip_prefix("credential.")?;
    if rest.eq_ignore_ascii_case(name) {
        return Some("");
    }
    let (url, last) = rest.rsplit_once('.')?;
    last.eq_ignore_ascii_case(name).then_some(url)
}

fn with_scope(scope: Option<&Scope>, rest: &[&str]) -> Vec<OsString> {
    let mut args = scope.map(Scope::args).unwrap_or_default();
    args.extend(rest.iter().map(OsString::from));
    args
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

/// The entries of `--null --get-regexp`'s output, each after its scope
/// when `with_scope` (`--show-scope`).
fn entries(out: &[u8], with_scope: bool) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut it = nul_terminated(out).into_iter();
    while let Some(first) = it.next() {
        let (scope_name, record) = if with_scope {
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
    entries
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn git_is_found_only_in_absolute_path_entries_and_read_through() {
        let relative = Env::from_pairs([("PATH", ".::bin")]);
        let e = GitConfig::find(&relative).expect_err("no absolute PATH entry");
        assert!(e.0.contains("absolute directory of PATH"), "{e}");
        let path = std::env::var("PATH").unwrap_or_default();
        let Ok(git) = GitConfig::find(&Env::from_pairs([("PATH", path.as_str())])) else {
            eprintln!("SKIPPED: no git on PATH");
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let scope = Scope::File(dir.path().join("config"));
        git.add(&scope, "credential.https://x.helper", "")
            .expect("add");
        git.add(&scope, "credential.https://x.helper", "a b")
            .expect("add");
        assert_eq!(
            git.get_all(&scope, "credential.https://x.helper")
                .expect("get"),
            vec![String::new(), "a b".to_string()]
        );
        git.unset_all(&scope, "credential.https://x.helper")
            .expect("unset");
        git.unset_all(&scope, "credential.https://x.helper")
            .expect("nothing left to unset is fine");
        assert!(
            git.get_regexp(Some(&scope), "^credential")
                .expect("read")
                .is_empty()
        );
    }

    #[test]
    fn credential_sections_apply_as_git_decides() {
        let path = std::env::var("PATH").unwrap_or_default();
        let Ok(git) = GitConfig::find(&Env::from_pairs([("PATH", path.as_str())])) else {
            eprintln!("SKIPPED: no git on PATH");
            return;
        };
        let patterns = [
            "",
            "https://dev.azure.com",
            "https://dev.azure.com/contoso",
            "https://dev.azure.com/cont",
            "http://dev.azure.com",
            "https://DEV.azure.com:443/",
            "https://someone@dev.azure.com",
            "https://*.visualstudio.com",
            "https://q\"uote\\d.com",
            "https://bad\nline",
        ];
        let u = "https://dev.azure.com/contoso/p/_git/r";
        let got = git.credential_matches(&patterns, u).expect("asked git");
        let want = [
            true, true, true, false, false, true, false, false, false, false,
        ];
        assert_eq!(got, want);
        let vs = git
            .credential_matches(&patterns, "https://contoso.visualstudio.com/p")
            .expect("asked git");
        assert_eq!(vs.iter().filter(|m| **m).count(), 2, "{vs:?}");
        assert!(vs[0] && vs[7]);
        assert_eq!(
            git.credential_matches(&patterns[3..5], u).expect("none"),
            [false, false]
        );
        assert!(
            git.credential_matches(&patterns, "https://*.x.com")
                .is_err()
        );
    }

    #[test]
    fn credential_keys_name_their_url() {
        assert_eq!(credential_url("credential.helper", "helper"), Some(""));
        assert_eq!(
            credential_url("credential.https://a.b/c.useHttpPath", "usehttppath"),
            Some("https://a.b/c")
        );
        assert_eq!(
            credential_url("credential.https://a.b.helper", "username"),
            None
        );
        assert_eq!(credential_url("remote.origin.helper", "helper"), None);
    }
}
