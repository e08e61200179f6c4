//! Command-line surface: git's verbs and the human subcommands.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

/// The example `-h` ends with (and `--help`, before the configuration,
/// environment and files).
pub const EXAMPLE: &str = "Example:\n  git-credential-entra configure      # route Azure DevOps remotes to this helper\n  git clone https://dev.azure.com/contoso/project/_git/repo";

/// A git credential helper that answers Azure DevOps with Microsoft Entra ID tokens.
#[derive(Debug, Parser)]
#[command(
    name = "git-credential-entra",
    version,
    about,
    after_help = EXAMPLE,
    after_long_help = format!("{EXAMPLE}{}", super::manual::long_help())
)]
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

impl Cli {
    /// The command line git itself uses, `<helper> get|store|erase` with
    /// nothing else, read without building clap's parser: git starts the
    /// helper for every request, and building the whole command tree was a
    /// fifth of a cached `get`'s instructions. Any other line (flags, other
    /// words, non-UTF-8) is `None` and goes through clap as before.
    pub fn git_verb(args: &[std::ffi::OsString]) -> Option<Cli> {
        let [verb] = args else {
            return None;
        };
        let command = match verb.to_str()? {
            "get" => Command::Get,
            "store" => Command::Store,
            "erase" => Command::Erase,
            _ => return None,
        };
        Some(Cli {
            config: None,
            identity: None,
            verbose: 0,
            command,
        })
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// git: return a token for the request on stdin.
    #[command(
        after_help = "Example:\n  printf 'protocol=https\\nhost=dev.azure.com\\npath=contoso/project/_git/repo\\n\\n' | git-credential-entra get"
    )]
    Get,
    /// git: a credential worked (nothing to do).
    #[command(after_help = "Example (git runs it):\n  git-credential-entra store < request")]
    Store,
    /// git: a credential was rejected; drop it from the cache.
    #[command(
        after_help = "Example (git runs it after a 401):\n  printf 'protocol=https\\nhost=dev.azure.com\\npassword=TOKEN\\n\\n' | git-credential-entra erase"
    )]
    Erase,
    /// git ≥ 2.46: which capabilities this helper has.
    #[command(after_help = "Example:\n  git-credential-entra capability")]
    Capability,
    /// Sign in now (user identities): for URL's route, or --identity NAME.
    #[command(
        after_help = "Examples:\n  git-credential-entra login https://dev.azure.com/contoso\n  git-credential-entra login --identity me --flow paste   # over SSH"
    )]
    Login {
        /// An Azure DevOps URL whose route names the identity (default https://dev.azure.com).
        url: Option<String>,
        /// auto, browser, paste or device-code (overrides the configured flow once).
        #[arg(long, value_name = "F")]
        flow: Option<String>,
    },
    /// Forget the access and refresh tokens of a user identity.
    #[command(
        after_help = "Examples:\n  git-credential-entra logout https://dev.azure.com/contoso\n  git-credential-entra logout --all"
    )]
    Logout {
        /// An Azure DevOps URL whose route names the identity (default https://dev.azure.com).
        url: Option<String>,
        /// Every user identity in the config.
        #[arg(long, conflicts_with = "url")]
        all: bool,
    },
    /// Show or drop cached tokens (never printing a token).
    #[command(
        subcommand,
        after_help = "Examples:\n  git-credential-entra cache list\n  git-credential-entra cache clear --identity ci"
    )]
    Cache(CacheCommand),
    /// Keep a service principal's secret in the OS keyring (value read from stdin).
    #[command(
        subcommand,
        after_help = "Example:\n  git-credential-entra secret set --identity ci < secret.txt"
    )]
    Secret(SecretCommand),
    /// Route Azure DevOps remotes to this helper in git's config (prints every change first).
    #[command(
        after_help = "Examples:\n  git-credential-entra configure --dry-run\n  git-credential-entra configure\n  git-credential-entra configure --host https://ado.example.com\n\nWhile no identity can answer without a person (no identity in the config file, and no AZURE_* variables, workload identity, announced managed-identity endpoint or az on PATH for 'auto'), configure writes nothing, so the helpers git already has keep answering; --force takes over anyway."
    )]
    Configure(ConfigureArgs),
    /// Remove what configure wrote and restore the helper lines it replaced.
    #[command(after_help = "Example:\n  git-credential-entra unconfigure --global")]
    Unconfigure(ScopeArgs),
    /// Print an access token for scripts and REST calls.
    #[command(
        after_help = "Example (the header goes through a pipe, never onto curl's command line, where `ps` shows it):\n  git-credential-entra token --format header https://dev.azure.com/contoso |\n    curl -H @- 'https://dev.azure.com/contoso/_apis/projects?api-version=7.1'"
    )]
    Token(TokenArgs),
    /// Check every step from git to Azure DevOps for URL, with a fix for each failure.
    #[command(
        after_help = "Examples:\n  git-credential-entra doctor https://dev.azure.com/contoso\n  git-credential-entra doctor https://dev.azure.com/contoso/project/_git/repo --json"
    )]
    Doctor(DoctorArgs),
    /// List configured identities and routes, and which identity each Azure DevOps remote of this repository uses.
    #[command(after_help = "Example:\n  git-credential-entra identities")]
    Identities,
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  git-credential-entra completions bash > ~/.local/share/bash-completion/completions/git-credential-entra\n  git-credential-entra completions zsh > \"${fpath[1]}/_git-credential-entra\"\n  git-credential-entra completions fish > ~/.config/fish/completions/git-credential-entra.fish\n  git-credential-entra completions powershell >> $PROFILE"
    )]
    Completions {
        /// bash, zsh, fish or powershell.
        shell: CompletionShell,
    },
    /// Print the man page (roff), as install.sh installs it.
    #[command(
        hide = true,
        after_help = "Example:\n  git-credential-entra manpage > ~/.local/share/man/man1/git-credential-entra.1"
    )]
    Manpage,
    /// Operations from newer gits are ignored, as git requires.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// `cache …`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// One row per configured identity: type, backend, expiry, state.
    #[command(after_help = "Example:\n  git-credential-entra cache list")]
    List,
    /// Drop cached tokens (all, or --identity NAME's).
    #[command(
        after_help = "Examples:\n  git-credential-entra cache clear\n  git-credential-entra cache clear --identity ci"
    )]
    Clear,
}

/// `secret …`
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store the secret read from stdin for --identity NAME.
    #[command(
        after_help = "Example:\n  git-credential-entra secret set --identity ci < secret.txt"
    )]
    Set,
    /// Remove the stored secret of --identity NAME.
    #[command(after_help = "Example:\n  git-credential-entra secret delete --identity ci")]
    Delete,
}

/// Where `configure` / `unconfigure` write: one of git's config scopes.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct ScopeArgs {
    /// The user's git config (~/.gitconfig or GIT_CONFIG_GLOBAL); the default.
    #[arg(long, conflicts_with_all = ["system", "local", "file"])]
    pub global: bool,
    /// The system git config (/etc/gitconfig).
    #[arg(long, conflicts_with_all = ["local", "file"])]
    pub system: bool,
    /// The current repository's config.
    #[arg(long, conflicts_with = "file")]
    pub local: bool,
    /// This git config file.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Also route this host (a `hosts` entry, scheme://host[:port]); repeatable.
    #[arg(long = "host", value_name = "URL")]
    pub hosts: Vec<String>,
    /// Print what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `configure …`: a scope, and whether to take over before an identity can answer.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigureArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Write the config even while no identity can answer (remotes then fail where git runs without a terminal until one can).
    #[arg(long)]
    pub force: bool,
}

/// `token …`
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// An Azure DevOps URL (organization, project or repository); default https://dev.azure.com.
    pub url: Option<String>,
    /// raw: the token; json: token, expiry, tenant, identity; header: an Authorization header.
    #[arg(long, value_enum, default_value = "raw")]
    pub format: TokenFormat,
}

/// `doctor …`
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// An Azure DevOps URL (organization, project or repository); default https://dev.azure.com.
    pub url: Option<String>,
    /// Print a JSON array of {check, status, detail, fix} instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// How `token` prints the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenFormat {
    /// The token alone.
    Raw,
    /// `{"accessToken","expiresOn","expires_on","tenant","identity","tokenType"}`.
    Json,
    /// `Authorization: Bearer …`.
    Header,
}

/// Shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn git_verbs_read_without_clap_are_what_clap_reads() {
        for verb in ["get", "store", "erase"] {
            let fast = Cli::git_verb(&os(&[verb])).expect("a bare verb takes the fast path");
            let clap = Cli::try_parse_from(["git-credential-entra", verb]).expect("clap parses it");
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"));
        }
    }

    #[test]
    fn anything_but_a_bare_git_verb_goes_through_clap() {
        for args in [
            &[][..],
            &["get", "-v"],
            &["-v", "get"],
            &["--identity", "ci", "get"],
            &["capability"],
            &["Get"],
            &["get", "extra"],
        ] {
            assert!(Cli::git_verb(&os(args)).is_none(), "{args:?}");
        }
    }
}
