//! The one context of an invocation that needs tokens: built once, by the
//! verb or command (`app`), and passed down to the token flow and to the
//! identity that acquires. It carries what every layer below would
//! otherwise rebuild or decide again: the environment, the trace, the
//! directories, the token store chosen, the secret store, HTTP clients
//! (built on first use), the stream for the person, and whether that
//! person may be asked anything (decided here, once).
//!
//! Building it does no I/O beyond opening the token store, which every
//! token command needs first: the keyring for secrets and HTTP clients open
//! on first use, and git's own `credential.interactive` is read only when a
//! prompt is about to be shown, so a cache hit costs nothing more.

use std::cell::OnceCell;
use std::path::Path;
use std::time::Duration;

use crate::cache::TokenStore;
use crate::git::config::{Entry, GitConfig};
use crate::keyring::secrets::Secrets;
use crate::net::http::{GitSettings, Http};
use crate::sys::env::Env;
use crate::sys::interactivity::Interactivity;
use crate::sys::prompt::Prompt;
use crate::sys::trace::Trace;

/// What the token flow and the identities share for one invocation.
pub struct Context<'a> {
    /// Environment snapshot.
    pub env: &'a Env,
    /// Trace sink.
    pub trace: &'a Trace,
    /// Builds HTTP clients on demand, under git's network settings for
    /// the remote (read only then).
    pub http: Http<'a>,
    /// Secrets kept in the OS keyring, opened on first use.
    pub secrets: Secrets<'a>,
    /// Whether a person may be asked anything, from the environment
    /// (`GIT_CREDENTIAL_ENTRA_INTERACTIVE`, `GIT_TERMINAL_PROMPT`, CI
    /// variables, a terminal); see [`Context::may_prompt`] for git's word.
    pub interactivity: Interactivity,
    /// Where prompts and progress for a person go (stderr, never stdout).
    pub prompt: Prompt<'a>,
    /// The cache directory, for what is remembered between runs.
    pub cache_dir: Option<&'a Path>,
    /// Where the per-identity locks and outage records live.
    pub lock_dir: &'a Path,
    /// The token store chosen for this invocation.
    pub store: Box<dyn TokenStore>,
    /// The configured refresh margin, in seconds.
    pub margin: i64,
    /// Whether another process's recent failure is reported instead of
    /// asking (`doctor` always asks).
    pub replay_failures: bool,
    git_forbids: OnceCell<Option<&'static str>>,
}

/// How long `git config credential.interactive` may take.
const GIT_CONFIG_WAIT: Duration = Duration::from_secs(2);

impl<'a> Context<'a> {
    /// A context over the given parts; nothing is opened here.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: &'a Env,
        trace: &'a Trace,
        interactivity: Interactivity,
        prompt: Prompt<'a>,
        cache_dir: Option<&'a Path>,
        lock_dir: &'a Path,
        store: Box<dyn TokenStore>,
        margin: i64,
        remote: &str,
    ) -> Context<'a> {
        Context {
            env,
            trace,
            http: Http::new(env, trace, git_network_settings(env, trace, remote)),
            secrets: Secrets::new(env, interactivity),
            interactivity,
            prompt,
            cache_dir,
            lock_dir,
            store,
            margin,
            replay_failures: true,
            git_forbids: OnceCell::new(),
        }
    }

    /// Whether a prompt may be shown now: the environment's answer, then
    /// git's `credential.interactive` (git ≥ 2.47), read once, only when a
    /// prompt is about to be shown, with a bounded wait.
    pub fn may_prompt(&self) -> Interactivity {
        // `always` (and `login`) is the person's own word: git's is not asked.
        if self.interactivity != Interactivity::Allowed {
            return self.interactivity;
        }
        match self.git_forbids.get_or_init(|| self.read_git_interactive()) {
            Some(why) => Interactivity::Forbidden(why),
            None => self.interactivity,
        }
    }

    fn read_git_interactive(&self) -> Option<&'static str> {
        let git = crate::sys::program::find(self.env, "git")?;
        let value = crate::sys::program::run_bounded(
            &git,
            &["config", "--get", "credential.interactive"],
            GIT_CONFIG_WAIT,
        )?;
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "false" | "never" | "no" | "off" | "0"
        )
        .then(|| {
            self.trace.decision(format_args!(
                "git config credential.interactive forbids prompts"
            ));
            "git's credential.interactive is never"
        })
    }
}

/// git's `http.*` settings for `remote`, read by `git config` when the
/// first HTTP client is built; without git, or when it fails, the
/// environment's alone (said in the trace).
fn git_network_settings<'a>(env: &'a Env, trace: &'a Trace, remote: &str) -> GitSettings<'a> {
    let remote = remote.to_string();
    Box::new(
        move || match GitConfig::find(env).and_then(|git| git.url_settings("http", &remote)) {
            Ok(entries) => trusted_settings(entries, trace),
            Err(e) => {
                trace.decision(format_args!(
                    "network: git's http settings not read ({e}); the environment's only"
                ));
                Vec::new()
            }
        },
    )
}

/// The settings as `(key, value)`, without the CA files a repository's own
/// config names: git runs us inside repositories nobody vetted, and a CA
/// (with a proxy) decides who may read a token request that carries a
/// client secret or a refresh token. A repository's proxy is followed, as
/// git follows it: through TLS it sees only the host name.
fn trusted_settings(entries: Vec<Entry>, trace: &Trace) -> Vec<(String, String)> {
    entries
        .into_iter()
        .filter(|e| {
            let repository = matches!(e.scope.as_deref(), Some("local" | "worktree"));
            let ca = matches!(e.key.as_str(), "http.sslcainfo" | "http.sslcapath");
            if repository && ca {
                trace.decision(format_args!(
                    "network: {} from the repository's config is not trusted; set it in your global config",
                    e.key
                ));
            }
            !(repository && ca)
        })
        // A bare `key` (no `=`) is git's boolean true.
        .map(|e| (e.key, e.value.unwrap_or_else(|| "true".into())))
        .collect()
}

/// Parts tests build a context from: a temporary lock directory and no store.
#[cfg(test)]
pub mod test {
    use super::*;

    /// A context for unit tests: no prompts, no cache, a throwaway lock
    /// directory, nothing stored.
    pub fn context<'a>(
        env: &'a Env,
        trace: &'a Trace,
        prompt: Prompt<'a>,
        lock_dir: &'a Path,
    ) -> Context<'a> {
        Context::new(
            env,
            trace,
            Interactivity::Forbidden("test"),
            prompt,
            None,
            lock_dir,
            Box::new(crate::cache::NoStore),
            300,
            "https://dev.azure.com",
        )
    }
}
