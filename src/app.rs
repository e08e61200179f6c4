//! Orchestration of git's verbs: read the request, decide whether it is ours,
//! route it to an identity, get a token through the cache, answer.
//!
//! Takes `Read`/`Write` handles so tests can drive it without a process.
//! Errors go to stderr once, as one message; stdout carries only the
//! protocol answer (or `quit=1` when a request we own cannot be served).

use std::io::{IsTerminal, Read, Write};

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

/// Runs one command; returns the process exit code.
pub fn run(
    cli: Cli,
    env: &Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let app = App {
        env,
        trace: Trace::new(cli.verbose, env),
        dirs: Dirs::new(env, cli.config.clone()),
        identity_flag: cli
            .identity
            .clone()
            .or_else(|| env.get("GIT_CREDENTIAL_ENTRA_IDENTITY").map(str::to_string)),
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
        Command::Other(args) => {
            if std::io::stdin().is_terminal() {
                let op = args.first().map_or("", String::as_str);
                let _ = writeln!(
                    stderr,
                    "git-credential-entra: '{op}' is not an operation of this helper; see --help"
                );
            }
            Ok(())
        }
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

impl App<'_> {
    /// Loads the config file.
    pub fn config(&self) -> Result<Config, Error> {
        Ok(Config::load(
            &self.dirs.config_file,
            self.dirs.config_explicit,
            self.env.home().as_deref(),
        )?)
    }

    /// Opens the token store chosen by env or config.
    pub fn store(&self, config: &Config) -> Box<dyn TokenStore> {
        cache::open(self.env, config.cache, &self.dirs.cache, &self.trace)
    }

    /// What the cache → lock → acquire sequence needs.
    fn token_ctx<'s>(&'s self, store: &'s dyn TokenStore, config: &Config) -> tokens::Ctx<'s> {
        tokens::Ctx {
            env: self.env,
            trace: &self.trace,
            store,
            lock_dir: &self.dirs.locks,
            margin: config.refresh_margin_seconds,
        }
    }

    /// The request and config, and the target when the request is ours.
    fn understand(
        &self,
        stdin: &mut dyn Read,
    ) -> Result<Option<(protocol::Request, Config, Target)>, Failure> {
        let request = protocol::read_request(stdin).map_err(Failure::plain)?;
        self.trace
            .detail(format_args!("request: {}", request.locator()));
        let config = match self.config() {
            Ok(c) => c,
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
            self.trace.detail(format_args!(
                "not an Azure DevOps request ({}://{}): ignored",
                request.protocol.as_deref().unwrap_or("?"),
                request.host.as_deref().unwrap_or("?")
            ));
            return Ok(None);
        };
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
        let Some((request, config, target)) = self.understand(stdin)? else {
            return Ok(());
        };
        let identity = self.identity_for(&target, &config).map_err(Failure::quit)?;
        self.trace.decision(format_args!("identity {identity}"));
        let store = self.store(&config);
        let cx = self.token_ctx(store.as_ref(), &config);
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
        let Some((request, config, target)) = self.understand(stdin)? else {
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
        let store = self.store(&config);
        let fp = identity.fingerprint();
        let mut notice = |_: &std::path::Path| {};
        // Under the lock, so a token another process stores meanwhile is not dropped.
        let _guard = crate::lock::acquire(&self.dirs.locks, &fp, &self.trace, &mut notice)
            .map_err(|timeout| Error::Lock {
                identity: identity.name.clone(),
                timeout,
            })?;
        let cx = self.token_ctx(store.as_ref(), &config);
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
