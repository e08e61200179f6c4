//! What `configure` says besides its own changes: the helper lines it now
//! masks for our remotes (and a PAT a masked `store` may still hold), and
//! whether any identity can answer yet.

use std::io::Write;
use std::path::PathBuf;

use super::{applies, io, is_ours, key_url};
use crate::app::error::Error;
use crate::app::session::Session;
use crate::config::{AUTO, Config};
use crate::git::config::{Entry, GitConfig, Scope};
use crate::identity;

/// Helper lines in any scope that the empty `helper =` now masks for our
/// remotes (they still serve other hosts), and what a masked store holds.
pub(super) fn report_masked(
    git: &GitConfig,
    scope: &Scope,
    urls: &[String],
    out: &mut dyn Write,
) -> Result<(), Error> {
    // Unreadable scopes (no repository, say) just mean nothing to report.
    let entries = git
        .get_regexp(None, r"^credential\..*helper$")
        .unwrap_or_default();
    let own_scope = match scope {
        Scope::Global => Some("global"),
        Scope::System => Some("system"),
        Scope::Local => Some("local"),
        Scope::File(_) => None,
    };
    let masked: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            e.value
                .as_deref()
                .is_some_and(|v| !v.is_empty() && !is_ours(v))
        })
        .filter(|e| {
            let Some(url) = key_url(&e.key) else {
                return false;
            };
            // Our own sections in the scope being written are "replaced", above.
            let own = own_scope == e.scope.as_deref() && urls.iter().any(|u| u == url);
            !own && urls.iter().any(|u| applies(url, u))
        })
        .collect();
    if masked.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  masks, for these remotes only (still used for other hosts; unconfigure unmasks them):"
    )
    .map_err(io)?;
    for e in &masked {
        writeln!(
            out,
            "    {} = {}   ({} config)",
            e.key,
            e.value.as_deref().unwrap_or(""),
            e.scope.as_deref().unwrap_or("?")
        )
        .map_err(io)?;
    }
    if masked.iter().any(|e| {
        e.value
            .as_deref()
            .is_some_and(|v| v.trim_start().starts_with("store"))
    }) {
        report_stored_pats(out)?;
    }
    Ok(())
}

/// A masked `store` helper may hold a PAT for Azure DevOps in plain text.
fn report_stored_pats(out: &mut dyn Write) -> Result<(), Error> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        files.push(home.join(".git-credentials"));
    }
    for file in files {
        let Ok(f) = std::fs::File::open(&file) else {
            continue;
        };
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::Read::take(f, 1024 * 1024), &mut text);
        let n = text
            .lines()
            .filter(|l| l.contains("@dev.azure.com") || l.contains(".visualstudio.com"))
            .count();
        if n > 0 {
            writeln!(
                out,
                "  note: {} holds {n} stored credential(s) for Azure DevOps (a PAT?), no longer used for these remotes. To delete them: printf 'protocol=https\\nhost=dev.azure.com\\n\\n' | git credential-store erase",
                file.display()
            )
            .map_err(io)?;
        }
    }
    Ok(())
}

/// Says when no identity can answer yet, and what to write.
pub(super) fn explain_identity(
    session: &Session,
    config: Result<Config, Error>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    match config {
        Err(e) => writeln!(
            out,
            "Warning: remotes will fail until the helper's config is fixed: {e}"
        )
        .map_err(io),
        Ok(c) if c.exists => Ok(()),
        Ok(c) => match identity::resolve(AUTO, &c, session.env, &session.imds_probe()) {
            Ok(id) => writeln!(
                out,
                "No config file at {}: every Azure DevOps remote uses 'auto', which found {id}.",
                c.file.display()
            )
            .map_err(io),
            Err(e) => writeln!(
                out,
                "Warning: no identity can answer yet, so Azure DevOps remotes will fail: there is no config file at {file}, and {e}\nWrite {file}, for example:\n{example}",
                file = c.file.display(),
                example = EXAMPLE
            )
            .map_err(io),
        },
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
