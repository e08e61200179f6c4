//! One invocation's shared state, used by git's verbs (`verbs.rs`) and by the
//! human commands (`commands/`): the environment, the trace, where files
//! live, the config, the token store, and which identity serves a target.

use std::io::Write;
use std::path::Path;

use crate::app::error::Error;
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
        ))
    }

    /// The one context of a command that needs tokens: the token store
    /// chosen by env or config (opened now), the secret store, prompts to
    /// `stderr`, and the interactivity decided when the session began.
    pub fn context<'s>(
        &'s self,
        config: &Config,
        stderr: &'s mut dyn Write,
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
        ))
    }

    /// Whether IMDS answers here, remembered in the cache directory.
    pub fn imds_probe(&self) -> ImdsProbe<'_> {
        ImdsProbe::remembered(self.cache_dir().ok(), &self.trace)
    }

    /// The identity serving `target`: `--identity`, else the longest route, else `auto`.
    pub fn identity_for(&self, target: &Target, config: &Config) -> Result<Resolved, Error> {
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
        Ok(identity::resolve(
            &name,
            config,
            self.env,
            &self.imds_probe(),
        )?)
    }
}
