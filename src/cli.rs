//! Command-line surface: git's verbs and the human subcommands.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

/// A git credential helper that answers Azure DevOps with Microsoft Entra ID tokens.
#[derive(Debug, Parser)]
#[command(name = "git-credential-entra", version, about)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/git-credential-entra/config.json).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Use this identity, bypassing routes.
    #[arg(long, global = true, value_name = "NAME")]
    pub identity: Option<String>,
    /// Print decisions to stderr (-vv: full trace, tokens redacted).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// git: return a token for the request on stdin.
    Get,
    /// git: a credential worked (nothing to do).
    Store,
    /// git: a credential was rejected; drop it from the cache.
    Erase,
    /// git ≥ 2.46: which capabilities this helper has.
    Capability,
    /// Sign in now (user identities): for URL's route, or --identity NAME.
    Login {
        /// An Azure DevOps URL whose route names the identity (default https://dev.azure.com).
        url: Option<String>,
        /// auto, browser, paste or device-code (overrides the configured flow once).
        #[arg(long, value_name = "F")]
        flow: Option<String>,
    },
    /// Forget the access and refresh tokens of a user identity.
    Logout {
        /// An Azure DevOps URL whose route names the identity (default https://dev.azure.com).
        url: Option<String>,
        /// Every user identity in the config.
        #[arg(long, conflicts_with = "url")]
        all: bool,
    },
    /// Show or drop cached tokens (never printing a token).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Keep a service principal's secret in the OS keyring (value read from stdin).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Operations from newer gits are ignored, as git requires.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// `cache …`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// One row per configured identity: type, backend, expiry, state.
    List,
    /// Drop cached tokens (all, or --identity NAME's).
    Clear,
}

/// `secret …`
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store the secret read from stdin for --identity NAME.
    Set,
    /// Remove the stored secret of --identity NAME.
    Delete,
}
