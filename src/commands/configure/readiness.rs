//! Whether `configure` may take over: only once something can answer for
//! Azure DevOps remotes without a person.
//!
//! Taking over masks the helpers git had for these remotes (`manager`, a
//! `store` holding a PAT). If nothing can answer, every git without a
//! terminal (an IDE, a script, a scheduled job) that worked with those
//! helpers then fails. So while nothing can answer, `configure` writes
//! nothing (unless `--force`) and says what to do first.
//!
//! The other way out — take over anyway, keep the old helper after ours and
//! answer nothing until an identity exists — is not safe: git hands the
//! credential it used to every helper's `store` (`approve`), and git before
//! 2.46, and Git LFS, ignore `ephemeral`, so our Entra token would be written
//! into `~/.git-credentials` or Git Credential Manager's store by the helper
//! kept behind us.
//!
//! "Can answer" is decided without the network and without a person: the
//! config file defines an identity, or `auto`'s chain finds a link here that
//! needs neither — the `AZURE_*` variables, a workload identity's token
//! file, a managed-identity endpoint the platform announces, or a developer
//! tool set up here (`az` on PATH, `pwsh` with the Az.Accounts module, `azd`
//! with a recorded sign-in). IMDS is not probed (a laptop would wait on it): a managed identity
//! reached only through IMDS counts once the config file names it.

use std::io::Write;
use std::path::PathBuf;

use super::io;
use crate::app::error::Error;
use crate::app::session::Session;
use crate::config::{AUTO, Config};
use crate::identity::{self, ImdsProbe, Interactivity};

/// Who answers once `configure` has taken over.
pub(super) enum Ready {
    /// The config file defines an identity.
    Identities,
    /// No identity in the config file, but `auto` found this source here.
    Auto { file: PathBuf, found: String },
}

/// Why nothing can answer yet.
pub(super) enum NotReady {
    /// The helper's config file cannot be used.
    BadConfig(String),
    /// No identity in the config file (or no file), and `auto` found nothing
    /// that answers without a person.
    NoSource {
        file: PathBuf,
        exists: bool,
        /// What `auto` tried, one link each (or the one error that stopped it).
        tried: Vec<String>,
    },
}

/// Why no prompt counts when deciding (a sign-in needs a terminal).
const UNATTENDED: Interactivity =
    Interactivity::Forbidden("git in an IDE or a script has no terminal to sign in at");

/// Whether something can answer for Azure DevOps remotes without a person.
pub(super) fn check(session: &Session, config: &Result<Config, Error>) -> Result<Ready, NotReady> {
    let config = config
        .as_ref()
        .map_err(|e| NotReady::BadConfig(e.to_string()))?;
    if !config.identities.is_empty() {
        return Ok(Ready::Identities);
    }
    let probe = ImdsProbe::offline(&session.trace);
    match identity::resolve(AUTO, config, session.env, &probe, UNATTENDED) {
        Ok(found) => Ok(Ready::Auto {
            file: config.file.clone(),
            found: found.to_string(),
        }),
        Err(e) => Err(NotReady::NoSource {
            file: config.file.clone(),
            exists: config.exists,
            tried: match e {
                identity::Error::NoAutoSource { tried, .. } => tried
                    .into_iter()
                    .map(|s| format!("{} ({})", s.link, s.why))
                    .collect(),
                other => vec![other.to_string()],
            },
        }),
    }
}

/// What `configure` says after its plan about who answers, and, when
/// nothing can, what it did not do and the next step.
pub(super) struct Outcome<'a> {
    /// Whether the config of these remotes is (now, or already) ours.
    pub taken_over: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// How to run this binary from a shell.
    pub command: &'a str,
    /// The flags to repeat (`--local`, `--host URL`…), each with a leading space.
    pub flags: &'a str,
    /// The scope flag for `unconfigure`.
    pub scope_flag: &'a str,
}

impl Outcome<'_> {
    pub(super) fn explain(
        &self,
        ready: &Result<Ready, NotReady>,
        out: &mut dyn Write,
    ) -> Result<(), Error> {
        let not_ready = match ready {
            Ok(Ready::Identities) => return Ok(()),
            Ok(Ready::Auto { file, found }) => {
                return writeln!(
                    out,
                    "No identity in {}: every Azure DevOps remote uses 'auto', which found {found}.",
                    file.display()
                )
                .map_err(io);
            }
            Err(n) => n,
        };
        let (why, first) = match not_ready {
            NotReady::BadConfig(e) => (
                format!("the helper's config cannot be used: {e}"),
                "fix the config file".to_string(),
            ),
            NotReady::NoSource {
                file,
                exists,
                tried,
            } => (
                format!(
                    "{} {}, and 'auto' found nothing here that answers without a person:\n    {}",
                    if *exists {
                        "there is no identity in"
                    } else {
                        "there is no config file at"
                    },
                    file.display(),
                    tried.join("\n    ")
                ),
                format!(
                    "write an identity and a route to {} (see docs/guides.md; an example is below)",
                    file.display()
                ),
            ),
        };
        let (command, flags) = (self.command, self.flags);
        if self.taken_over {
            writeln!(
                out,
                "Warning: no identity can answer yet, so Azure DevOps remotes fail wherever git runs without a terminal (an IDE, a script): {why}\nFix: {first}; or give these remotes back to the helpers you had: {command} unconfigure {}",
                self.scope_flag
            )
            .map_err(io)?;
        } else {
            let lead = if self.dry_run {
                "Without --dry-run, configure would not take over either"
            } else {
                "Not taken over: nothing was written"
            };
            writeln!(
                out,
                "{lead}, because no identity can answer yet: {why}\nThe helpers git has keep answering for these remotes; taking them over now would make them fail wherever git runs without a terminal (an IDE, a script).\nNext: {first}, then run again:\n    {command} configure{flags}\nOr take over now anyway:\n    {command} configure{flags} --force"
            )
            .map_err(io)?;
        }
        if matches!(not_ready, NotReady::NoSource { .. }) {
            writeln!(out, "For example:\n{EXAMPLE}").map_err(io)?;
        }
        Ok(())
    }
}

const EXAMPLE: &str = r#"  {
    "identities": {
      "ci": { "type": "service-principal", "tenant": "contoso.onmicrosoft.com",
              "client_id": "00001111-aaaa-2222-bbbb-3333cccc4444",
              "client_secret_env": "CI_CLIENT_SECRET" }
    },
    "routes": [ { "url": "https://dev.azure.com/contoso", "identity": "ci" } ]
  }"#;
