//! One invocation's shared state, used by git's verbs (`verbs.rs`) and by the
//! human commands (`commands/`): the environment, the trace, where files
//! live, the config, the token store, and which identity serves a target.

use std::io::Write;
use std::path::Path;

use crate::app::error::Error;
use crate::app::unrouted::NoRoute;
use crate::azure_devops::Target;
use crate::cache::{self, TokenStore};
use crate::config::{AUTO, Config};
use crate::context::Context;
use crate::identity::{self, ImdsProbe, Resolved};
use crate::sys::env::{Dirs, Env};
use crate::sys::interactivity::Interactivity;
use crate::sys::prompt::Prompt;
use crate::sys::trace::Trace;

/// What every command of one invocation shares: environment, trace, file
/// locations and the identity chosen on the command line.
pub struct Session<'a> {
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
    /// Whether a person may be asked anything, decided once from the
    /// environment and whether stderr is a terminal.
    pub interactivity: Interactivity,
}

impl Session<'_> {
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
    pub fn cache_dir(&self) -> Result<&Path, Error> {
        Ok(self.dirs.cache.as_deref().map_err(|e| e.clone())?)
    }

    /// The lock directory, which must have an absolute base.
    pub fn lock_dir(&self) -> Result<&Path, Error> {
        Ok(self.dirs.locks.as_deref().map_err(|e| e.clone())?)
    }

    /// Opens the token store chosen by env or config.
    pub fn store(&self, config: &Config) -> Result<Box<dyn TokenStore>, Error> {
        Ok(cache::open(
            self.env,
            config.cache,
            self.cache_dir()?,
            &self.trace,
            self.interactivity,
        ))
    }

    /// The one context of a command that needs tokens: the token store
    /// chosen by env or config (opened now), the secret store, prompts to
    /// `stderr`, and the interactivity decided when the session began.
    pub fn context<'s>(
        &'s self,
        config: &Config,
        stderr: &'s mut dyn Write,
        remote: &str,
    ) -> Result<Context<'s>, Error> {
        Ok(Context::new(
            self.env,
            &self.trace,
            self.interactivity,
            Prompt::new(stderr),
            Some(self.cache_dir()?),
            self.lock_dir()?,
            self.store(config)?,
            config.refresh_margin_seconds,
            remote,
        ))
    }

    /// Whether IMDS answers here, remembered in the cache directory.
    pub fn imds_probe(&self) -> ImdsProbe<'_> {
        ImdsProbe::remembered(self.cache_dir().ok(), &self.trace)
    }

    /// Which identity serves `target` and why: `--identity`, else the
    /// longest route, else `auto`. Decided here only, for `get`, `erase`,
    /// `token` and `doctor` alike.
    pub fn route(&self, target: &Target, config: &Config) -> Result<Choice, Error> {
        if let Some(name) = &self.identity_flag {
            return Ok(Choice {
                name: name.clone(),
                why: Why::Flag,
            });
        }
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
        let choice = match config.route(&target.url) {
            Some(r) => Choice {
                name: r.identity.clone(),
                why: Why::Route(r.url.clone()),
            },
            None => Choice {
                name: AUTO.to_string(),
                why: match NoRoute::new(target, config) {
                    Some(no_route) => Why::NoRoute(Box::new(no_route)),
                    None => Why::Auto(target.url.clone()),
                },
            },
        };
        self.trace.decision(format_args!(
            "{} -> identity '{}' ({})",
            target.url, choice.name, choice.why
        ));
        Ok(choice)
    }

    /// The identity serving `target` ([`Session::route`]), resolved, and
    /// the choice, which explains its failures ([`Choice::explain`]).
    pub fn identity_for(
        &self,
        target: &Target,
        config: &Config,
    ) -> Result<(Resolved, Choice), Error> {
        let choice = self.route(target, config)?;
        let identity = self
            .resolve(&choice.name, config)
            .map_err(|e| choice.explain(e))?;
        Ok((identity, choice))
    }

    /// The identity named `name`, resolved (no I/O but a remembered IMDS probe).
    pub fn resolve(&self, name: &str, config: &Config) -> Result<Resolved, Error> {
        Ok(identity::resolve(
            name,
            config,
            self.env,
            &self.imds_probe(),
            self.interactivity,
        )?)
    }
}

/// The identity chosen for a target, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The identity's config name (`auto` when no route matched).
    pub name: String,
    /// Why it was chosen.
    pub why: Why,
}

impl Choice {
    /// A failure of the chosen identity (resolving it or getting its
    /// token), told as the story it belongs to: when `auto` was only the
    /// fallback because no route matched, that fact comes first.
    pub fn explain(&self, e: Error) -> Error {
        match &self.why {
            Why::NoRoute(route) => Error::Unrouted {
                route: route.clone(),
                fallback: Box::new(e),
            },
            Why::Flag | Why::Route(_) | Why::Auto(_) => e,
        }
    }
}

/// Why an identity was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `--identity` or `GIT_CREDENTIAL_ENTRA_IDENTITY` named it.
    Flag,
    /// The longest route matching the target, by its URL.
    Route(String),
    /// No route matched the target's URL, though the config routes or
    /// defines others: the built-in `auto`, as a fallback.
    NoRoute(Box<NoRoute>),
    /// No route matched the target's URL, and the config has no routes or
    /// identities (or there is no config): the built-in `auto`, by design.
    Auto(String),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Flag => f.write_str("--identity"),
            Why::Route(url) => write!(f, "route {url}"),
            Why::NoRoute(route) => {
                write!(f, "no route matching {}, so the built-in 'auto'", route.url)
            }
            Why::Auto(url) => write!(f, "no route matching {url}, so the built-in 'auto'"),
        }
    }
}
