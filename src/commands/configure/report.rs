//! What `configure` says besides its own changes: the helper lines it now
//! masks for our remotes (and a PAT a masked `store` may still hold).

use std::io::Write;
use std::path::PathBuf;

use super::{io, is_ours};
use crate::app::error::Error;
use crate::git::config::{Entry, GitConfig, Scope, credential_url};

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
    let candidates: Vec<(&str, &Entry)> = entries
        .iter()
        .filter(|e| {
            e.value
                .as_deref()
                .is_some_and(|v| !v.is_empty() && !is_ours(v))
        })
        .filter_map(|e| Some((credential_url(&e.key, "helper")?, e)))
        // Our own sections in the scope being written are "replaced", above.
        .filter(|(url, e)| !(own_scope == e.scope.as_deref() && urls.iter().any(|u| u == url)))
        .collect();
    let patterns: Vec<&str> = candidates.iter().map(|(p, _)| *p).collect();
    let overlapping = overlaps(git, &patterns, urls);
    let masked: Vec<&Entry> = candidates
        .iter()
        .zip(overlapping)
        .filter(|(_, o)| *o)
        .map(|((_, e), _)| *e)
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

/// Which `patterns` (`credential.<URL>` sections) serve some remote that
/// one of `sections` serves too, as git matches URLs: a pattern applies to
/// a section's URL (`https://dev.azure.com/org` is not one of those, being
/// longer), or a section to the pattern's URL (it is). A `*` label stands
/// for one label in a URL made of a pattern. A question git cannot answer
/// (no git, a pattern that is no URL) leaves the pattern out of the report.
pub(super) fn overlaps(git: &GitConfig, patterns: &[&str], sections: &[String]) -> Vec<bool> {
    let sample = |pattern: &str| pattern.replace("://*.", "://x.");
    let mut found = vec![false; patterns.len()];
    for section in sections {
        let ours = git.credential_matches(patterns, &sample(section));
        for (f, m) in found.iter_mut().zip(ours.unwrap_or_default()) {
            *f |= m;
        }
    }
    let sections: Vec<&str> = sections.iter().map(String::as_str).collect();
    for (f, pattern) in found.iter_mut().zip(patterns) {
        if !*f && !pattern.is_empty() {
            let theirs = git.credential_matches(&sections, &sample(pattern));
            *f = theirs.is_ok_and(|m| m.contains(&true));
        }
    }
    found
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
