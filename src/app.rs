//! Orchestration of git's verbs: read the request, decide whether it is ours,
//! route it to an identity, get a token through the cache, answer.
//!
//! Takes `Read`/`Write` handles so tests can drive it without a process.
//! Errors go to stderr once, as one message; stdout carries only the
//! protocol answer (or `quit=1` when a request we own cannot be served).

use std::io::{Read, Write};
use std::path::Path;

use crate::azure_devops::{Target, recognise};
use crate::cache::{self, TokenStore};
use crate::cli::{Cli, Command};
use crate::config::{AUTO, Config};
use crate::env::{Dirs, Env};
use crate::error::Error;
use crate::identity::{self, Resolved};
use crate::jwt::Claims;
use crate::protocol::{self, Response};
use crate::timefmt::now;
use crate::tokens;
use crate::trace::Trace;

/// Shared state of one invocation.
pub struct App<'a> {
    /// Environment snapshot.
    pub env: &'a Env,
    /// Trace sink.
    pub trace: Trace,
    /// File locations.
    pub dirs: Dirs,
    /// `--identity` or `GIT_CREDENTIAL_ENTRA_IDENTITY`.
    pub identity_flag: Option<String>,
    /// Whether a person types on stdin (a terminal) rather than git writing to a pipe.
    pub stdin_is_terminal: bool,
}

/// An error, and whether git must be told to stop (`quit=1`).
pub struct Failure {
    error: Error,
    quit: bool,
}

impl Failure {
    fn quit(error: impl Into<Error>) -> Failure {
        Failure {
            error: error.into(),
            quit: true,
        }
    }
    fn plain(error: impl Into<Error>) -> Failure {
        Failure {
            error: error.into(),
            quit: false,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::plain(error)
    }
}

/// Runs one command; returns the process exit code. `stdin_is_terminal`
/// says whether a person types on `stdin` (main asks the real stdin).
pub fn run(
    cli: Cli,
    env: &Env,
    stdin: &mut dyn Read,
    stdin_is_terminal: bool,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    if let Command::Other(words) = &cli.command {
        if !typed_by_a_person(words, stdin_is_terminal) {
            // git's protocol: an operation this helper does not know is ignored.
            return 0;
        }
        let word = words.first().map_or("", String::as_str);
        let _ = writeln!(
            stderr,
            "git-credential-entra: '{}' is not a command of git-credential-entra; see --help",
            word.escape_debug()
        );
        return 2;
    }
    let app = App {
        env,
        trace: Trace::new(cli.verbose, env),
        dirs: Dirs::new(env, cli.config.clone()),
        identity_flag: cli
            .identity
            .clone()
            .or_else(|| env.get("GIT_CREDENTIAL_ENTRA_IDENTITY").map(str::to_string)),
        stdin_is_terminal,
    };
    let result = match cli.command {
        Command::Get => app.get(stdin, stdout, stderr),
        Command::Store => {
            // Nothing to keep: tokens are cached when acquired. Drain git's
            // request so it never writes into a closed pipe.
            let _ = std::io::copy(
                &mut stdin.take(protocol::MAX_INPUT as u64),
                &mut std::io::sink(),
            );
            Ok(())
        }
        Command::Erase => app.erase(stdin, stderr),
        Command::Capability => stdout
            .write_all(b"version 0\ncapability authtype\n")
            .map_err(|e| Failure::plain(Error::Io(e))),
        Command::Cache(c) => crate::admin::cache(&app, c, stdout).map_err(Failure::plain),
        Command::Secret(c) => crate::admin::secret(&app, c, stdin, stderr).map_err(Failure::plain),
        Command::Other(_) => Ok(()), // answered above
    };
    match result {
        Ok(()) => 0,
        Err(Failure { error, quit }) => {
            if quit {
                let _ = protocol::write_response(stdout, &Response::Quit);
            }
            let _ = writeln!(stderr, "git-credential-entra: {error}");
            1
        }
    }
}

/// Whether an unknown word came from a person rather than from a newer git:
/// git passes one operation word and writes the request into a pipe.
fn typed_by_a_person(words: &[String], stdin_is_terminal: bool) -> bool {
    words.len() > 1 || stdin_is_terminal
}

impl App<'_> {
    /// Loads the config file.
    pub fn config(&self) -> Result<Config, Error> {
        let file = self.dirs.config_file.as_ref().map_err(|e| e.clone())?;
        Ok(Config::load(
            file,
            self.dirs.config_explicit,
            self.env.home().as_deref(),
        )?)
    }

    /// The cache directory, which must have an absolute base.
    fn cache_dir(&self) -> Result<&Path, Error> {
        Ok(self.dirs.cache.as_deref().map_err(|e| e.clone())?)
    }

    /// The lock directory, which must have an absolute base.
    fn lock_dir(&self) -> Result<&Path, Error> {
        Ok(self.dirs.locks.as_deref().map_err(|e| e.clone())?)
    }

    /// Opens the token store chosen by env or config.
    pub fn store(&self, config: &Config) -> Result<Box<dyn TokenStore>, Error> {
        Ok(cache::open(
            self.env,
            config.cache,
            self.cache_dir()?,
            self.lock_dir()?,
            &self.trace,
        ))
    }

    /// What the cache → lock → acquire sequence needs.
    fn token_ctx<'s>(
        &'s self,
        store: &'s dyn TokenStore,
        config: &Config,
    ) -> Result<tokens::Ctx<'s>, Error> {
        Ok(tokens::Ctx {
            env: self.env,
            trace: &self.trace,
            store,
            lock_dir: self.lock_dir()?,
            margin: config.refresh_margin_seconds,
        })
    }

    /// The request and config, and the target when the request is ours.
    fn understand(
        &self,
        stdin: &mut dyn Read,
        stderr: &mut dyn Write,
    ) -> Result<Option<(protocol::Request, Config, Target)>, Failure> {
        if self.stdin_is_terminal {
            // A person ran it by hand; without this it waits in silence.
            let _ = writeln!(
                stderr,
                "git-credential-entra: reading a git credential request: key=value lines such as protocol=https, host=dev.azure.com, path=ORG/PROJECT/_git/REPO; end with an empty line"
            );
        }
        let request = protocol::read_request(stdin).map_err(Failure::plain)?;
        self.trace
            .detail(format_args!("request: {}", request.locator()));
        let ignored = || {
            self.trace.detail(format_args!(
                "not an Azure DevOps request ({}://{}): ignored",
                request.protocol.as_deref().unwrap_or("?"),
                request.host.as_deref().unwrap_or("?")
            ));
        };
        let config = match self.config() {
            Ok(c) => c,
            // Without a home there is no config to list extra hosts, so only
            // Azure DevOps's own hosts are ours; anything else stays silent,
            // as for any request that is not ours.
            Err(Error::NoHome(e)) if recognise(&request, &[]).is_none() => {
                self.trace.detail(format_args!("{e}"));
                ignored();
                return Ok(None);
            }
            // Broken config: we cannot know the extra hosts, but Azure DevOps's
            // own hosts are certainly ours, and git must stop there.
            Err(e) => {
                return Err(Failure {
                    quit: recognise(&request, &[]).is_some(),
                    error: e,
                });
            }
        };
        let Some(target) = recognise(&request, &config.hosts) else {
            ignored();
            return Ok(None);
        };
        // Checked before any identity is resolved, so nothing is acquired
        // that could not be cached or locked outside the repository.
        self.cache_dir().map_err(Failure::quit)?;
        self.lock_dir().map_err(Failure::quit)?;
        Ok(Some((request, config, target)))
    }

    /// The identity serving `target`: `--identity`, else the longest route, else `auto`.
    fn identity_for(&self, target: &Target, config: &Config) -> Result<Resolved, Error> {
        let name = match &self.identity_flag {
            Some(name) => name.clone(),
            None => {
                if target.dot_segments && config.has_org_routes(&target.base) {
                    return Err(Error::DotSegments {
                        base: target.base.clone(),
                    });
                }
                if target.org.is_none() && config.has_org_routes(&target.base) {
                    return Err(Error::NoOrganization {
                        base: target.base.clone(),
                    });
                }
                let route = config.route(&target.url);
                self.trace.decision(format_args!(
                    "{} -> identity '{}' ({})",
                    target.url,
                    route.map_or(AUTO, |r| r.identity.as_str()),
                    route.map_or_else(
                        || "no route matched".to_string(),
                        |r| format!("route {}", r.url)
                    )
                ));
                route.map_or(AUTO, |r| r.identity.as_str()).to_string()
            }
        };
        identity::resolve(&name, config, self.env)
    }

    fn get(
        &self,
        stdin: &mut dyn Read,
        stdout: &mut dyn Write,
        stderr: &mut dyn Write,
    ) -> Result<(), Failure> {
        let Some((request, config, target)) = self.understand(stdin, stderr)? else {
            return Ok(());
        };
        let identity = self.identity_for(&target, &config).map_err(Failure::quit)?;
        self.trace.decision(format_args!("identity {identity}"));
        let store = self.store(&config).map_err(Failure::quit)?;
        let cx = self
            .token_ctx(store.as_ref(), &config)
            .map_err(Failure::quit)?;
        let mut notice = |path: &std::path::Path| {
            let _ = writeln!(
                stderr,
                "git-credential-entra: waiting for another git process that is getting a token for identity '{}' (lock {})",
                identity.name,
                path.display()
            );
        };
        let token = tokens::get(&identity, &cx, &mut notice).map_err(Failure::quit)?;
        let expiry = token.git_expiry(config.refresh_margin_seconds, now());
        let username;
        let response = if request.offers_authtype() {
            Response::Bearer {
                token: &token.token,
                expiry,
            }
        } else {
            username = Claims::of(token.token.expose())
                .unwrap_or_default()
                .username();
            Response::Basic {
                username: &username,
                password: &token.token,
                expiry,
            }
        };
        protocol::write_response(stdout, &response).map_err(|e| Failure::quit(Error::Io(e)))
    }

    fn erase(&self, stdin: &mut dyn Read, stderr: &mut dyn Write) -> Result<(), Failure> {
        let Some((request, config, target)) = self.understand(stdin, stderr)? else {
            return Ok(());
        };
        let Some(rejected) = request.rejected_secret() else {
            return Ok(());
        };
        let identity = match self.identity_for(&target, &config) {
            Ok(i) => i,
            Err(e) => {
                self.trace
                    .decision(format_args!("erase: nothing to drop ({e})"));
                return Ok(());
            }
        };
        let store = self.store(&config)?;
        let fp = identity.fingerprint();
        let mut notice = |_: &std::path::Path| {};
        // Under the lock, so a token another process stores meanwhile is not dropped.
        let _guard = crate::lock::acquire(self.lock_dir()?, &fp, &self.trace, &mut notice)
            .map_err(|timeout| Error::Lock {
                identity: identity.name.clone(),
                timeout,
            })?;
        let cx = self.token_ctx(store.as_ref(), &config)?;
        match tokens::lookup(&fp, &cx) {
            Some(cached) if cached.token == *rejected => match store.delete(&fp) {
                Ok(()) => self.trace.decision(format_args!(
                    "erase: dropped the rejected token of '{}'",
                    identity.name
                )),
                Err(e) => {
                    let _ = writeln!(
                        stderr,
                        "git-credential-entra: could not drop the rejected token of identity '{}' from the {} cache: {e}",
                        identity.name,
                        store.name()
                    );
                }
            },
            Some(_) => self.trace.decision(format_args!(
                "erase: the cached token of '{}' is not the rejected one; kept",
                identity.name
            )),
            None => self.trace.decision(format_args!(
                "erase: no cached token for '{}'",
                identity.name
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Runs argv in-process with `stdin`; returns (exit code, stdout, stderr).
    fn run_with(argv: &[&str], stdin: &str, terminal: bool) -> (u8, String, String) {
        let home = tempfile::tempdir().expect("temp home");
        let home = home.path().to_str().expect("UTF-8 temp path");
        let env = Env::from_pairs([
            ("HOME", home),
            ("XDG_CONFIG_HOME", home),
            ("XDG_CACHE_HOME", home),
        ]);
        let cli = Cli::try_parse_from(
            std::iter::once("git-credential-entra").chain(argv.iter().copied()),
        )
        .expect("parses");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(
            cli,
            &env,
            &mut stdin.as_bytes(),
            terminal,
            &mut out,
            &mut err,
        );
        (
            code,
            String::from_utf8(out).expect("utf8"),
            String::from_utf8(err).expect("utf8"),
        )
    }

    #[test]
    fn unknown_words_from_git_are_ignored_and_from_people_refused() {
        for (argv, terminal, expected) in [
            (&["frobnicate"][..], false, 0),
            (&["frobnicate"], true, 2),
            (&["secrets", "set"], false, 2),
            (&["configure", "--global"], false, 2),
            (&["bogus", "x"], true, 2),
        ] {
            let (code, out, err) = run_with(argv, "protocol=https\nhost=dev.azure.com\n", terminal);
            assert_eq!(code, expected, "{argv:?} terminal={terminal}: {err}");
            assert_eq!(out, "", "{argv:?}");
            if expected == 0 {
                assert_eq!(err, "", "{argv:?}");
            } else {
                assert_eq!(
                    err,
                    format!(
                        "git-credential-entra: '{}' is not a command of git-credential-entra; see --help\n",
                        argv[0]
                    )
                );
            }
        }
    }

    #[test]
    fn get_at_a_terminal_says_what_it_reads() {
        let request = "protocol=https\nhost=github.com\n\n";
        let (code, out, err) = run_with(&["get"], request, true);
        assert_eq!((code, out.as_str()), (0, ""), "{err}");
        assert!(
            err.contains("reading a git credential request: key=value lines")
                && err.contains("end with an empty line"),
            "{err}"
        );
        let (_, _, err) = run_with(&["get"], request, false);
        assert_eq!(err, "", "git's pipe gets no chatter");
    }
}
