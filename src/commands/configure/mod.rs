//! `configure` and `unconfigure`: the git config that routes Azure DevOps
//! remotes to this helper, written and removed through `git config`.
//!
//! For each section (`https://dev.azure.com`, `https://*.visualstudio.com`,
//! and every `hosts` entry) `configure` writes an empty `helper =` (so no
//! helper configured before it answers first with a stale PAT), our
//! `helper`, and `useHttpPath = true`. Whatever those keys held before in
//! that scope is copied, in order, to `credential.<URL>.entraSaved` in the
//! same scope (git ignores keys it does not know), so `unconfigure` puts the
//! previous lines back exactly and the copy travels with the file it belongs
//! to. Nothing is written when the section is already as wanted, so running
//! it twice leaves the file byte-identical. Every change, and every helper
//! line elsewhere that ours now masks, is printed before anything is written.

use std::io::Write;
use std::path::Path;

use crate::app::cli::ScopeArgs;
use crate::app::error::Error;
use crate::app::session::Session;
use crate::azure_devops::HostEntry;
use crate::git::config::{self as gitconfig, GitConfig, GitConfigError, Scope};

mod report;
use report::{explain_identity, report_masked};

/// The sections every configuration has.
const DEFAULT_SECTIONS: [&str; 2] = ["https://dev.azure.com", "https://*.visualstudio.com"];
/// Where replaced lines are kept (git lower-cases key names on output).
const SAVED: &str = "entraSaved";
const BIN: &str = "git-credential-entra";

/// A section's keys in the scope being changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Section {
    url: String,
    helpers: Vec<String>,
    use_http_path: Vec<String>,
    saved: Vec<String>,
}

impl Section {
    fn read(git: &GitConfig, scope: &Scope, url: &str) -> Result<Section, GitConfigError> {
        Ok(Section {
            url: url.to_string(),
            helpers: git.get_all(scope, &key(url, "helper"))?,
            use_http_path: git.get_all(scope, &key(url, "useHttpPath"))?,
            saved: git.get_all(scope, &key(url, SAVED))?,
        })
    }

    fn configured_by_us(&self) -> bool {
        self.helpers.iter().any(|h| is_ours(h))
    }
}

fn key(url: &str, name: &str) -> String {
    format!("credential.{url}.{name}")
}

/// Whether a `helper` value runs this helper: `entra`, `git-credential-entra`,
/// or a path ending in it (possibly as `!'path'`), with no arguments.
pub fn is_ours(value: &str) -> bool {
    let v = value.trim();
    let v = v.strip_prefix('!').unwrap_or(v).trim();
    let v = v
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(v);
    let v = v.replace("'\\''", "'");
    let name = v.rsplit(['/', '\\']).next().unwrap_or(&v);
    v == "entra" || name == BIN || name == format!("{BIN}.exe")
}

/// The `helper` value for this binary: `entra` when `git-credential-entra`
/// on PATH is this very binary, else its absolute path (shell-quoted with
/// `!'…'` when it holds a space or another character the shell would read:
/// git runs helper paths through the shell).
fn helper_value(path_var: Option<&str>) -> Result<String, Error> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| {
            Error::Command(format!(
                "configure: cannot find where this program is installed ({e}). Fix: run it by its absolute path"
            ))
        })?;
    let on_path = path_var
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(format!("{BIN}{}", std::env::consts::EXE_SUFFIX)))
        .find(|candidate| candidate.is_file());
    if on_path.and_then(|p| p.canonicalize().ok()).as_deref() == Some(exe.as_path()) {
        return Ok("entra".into());
    }
    Ok(quote_path(&exe))
}

fn quote_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:\\".contains(c));
    if plain {
        text.into_owned()
    } else {
        format!("!'{}'", text.replace('\'', "'\\''"))
    }
}

/// The scope the flags chose (`--global` when none).
pub fn scope_of(args: &ScopeArgs) -> Scope {
    match (&args.file, args.system, args.local) {
        (Some(f), _, _) => Scope::File(f.clone()),
        (None, true, _) => Scope::System,
        (None, _, true) => Scope::Local,
        _ => Scope::Global,
    }
}

/// A `--host` value as a `hosts` entry would be written.
fn host_section(raw: &str) -> Result<String, Error> {
    let entry: HostEntry = crate::config::parse_host_entry(raw)
        .map_err(|why| Error::Command(format!("configure: --host {raw}: {why}")))?;
    Ok(format!("{}://{}", entry.scheme, entry.host))
}

fn git_err(e: GitConfigError) -> Error {
    Error::Command(format!("configure: {e}"))
}

fn io(e: std::io::Error) -> Error {
    Error::Io(e)
}

/// `configure`.
pub fn configure(session: &Session, args: &ScopeArgs, out: &mut dyn Write) -> Result<(), Error> {
    let scope = scope_of(args);
    let git = GitConfig::find(session.env).map_err(git_err)?;
    let config = session.config();
    let mut urls: Vec<String> = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
    for raw in &args.hosts {
        urls.push(host_section(raw)?);
    }
    // The config's own hosts need the same wiring, or git never asks us.
    if let Ok(c) = &config {
        urls.extend(c.hosts.iter().map(|h| format!("{}://{}", h.scheme, h.host)));
    }
    let mut seen = Vec::new();
    urls.retain(|u| {
        let new = !seen.contains(u);
        seen.push(u.clone());
        new
    });
    let helper = helper_value(session.env.get("PATH"))?;
    writeln!(
        out,
        "git-credential-entra configure {} ({}):",
        scope.flag(),
        gitconfig::describe(&scope)
    )
    .map_err(io)?;
    let mut writes = Vec::new();
    for url in &urls {
        let before = Section::read(&git, &scope, url).map_err(git_err)?;
        let wanted_helpers = vec![String::new(), helper.clone()];
        let wanted_use = vec!["true".to_string()];
        writeln!(out, "  [credential \"{url}\"]").map_err(io)?;
        if before.helpers == wanted_helpers && before.use_http_path == wanted_use {
            writeln!(out, "    already configured; unchanged").map_err(io)?;
            continue;
        }
        // Lines that are not ours are kept; ours (an older path, the mask)
        // are simply rewritten.
        let mut saved = before.saved.clone();
        let first_time = !before.configured_by_us();
        let foreign: Vec<&String> = before
            .helpers
            .iter()
            .filter(|h| !is_ours(h) && (first_time || !h.is_empty()))
            .collect();
        for h in &foreign {
            let line = format!("helper={h}");
            if first_time || !saved.contains(&line) {
                saved.push(line);
            }
        }
        if first_time {
            saved.extend(
                before
                    .use_http_path
                    .iter()
                    .map(|u| format!("useHttpPath={u}")),
            );
        }
        for h in &foreign {
            writeln!(
                out,
                "    replaces helper = {h}   (kept as {SAVED}; `git-credential-entra unconfigure {}` puts it back)",
                scope.flag()
            )
            .map_err(io)?;
        }
        for h in before
            .helpers
            .iter()
            .filter(|h| is_ours(h) && **h != helper)
        {
            writeln!(
                out,
                "    replaces helper = {h}   (an older installation of this helper)"
            )
            .map_err(io)?;
        }
        writeln!(
            out,
            "    writes   helper =   (helpers configured before this line do not answer for these remotes)"
        )
        .map_err(io)?;
        writeln!(out, "    writes   helper = {helper}").map_err(io)?;
        if before.use_http_path != wanted_use {
            writeln!(
                out,
                "    writes   useHttpPath = true   (git then sends the repository path, which names the organization){}",
                if before.use_http_path.is_empty() {
                    String::new()
                } else {
                    format!("; was {}", before.use_http_path.join(", "))
                }
            )
            .map_err(io)?;
        }
        writes.push((url.clone(), saved));
    }
    report_masked(&git, &scope, &urls, out)?;
    if writes.is_empty() {
        writeln!(out, "Nothing to change.").map_err(io)?;
    } else if args.dry_run {
        writeln!(out, "Nothing written (--dry-run).").map_err(io)?;
    } else {
        for (url, saved) in &writes {
            apply(&git, &scope, url, &helper, saved).map_err(git_err)?;
        }
        writeln!(
            out,
            "Done: git now asks git-credential-entra for these remotes. Undo with: git-credential-entra unconfigure {}",
            scope.flag()
        )
        .map_err(io)?;
    }
    explain_identity(session, config, out)
}

/// Writes one section: the copy first, so an interrupted run never loses a line.
fn apply(
    git: &GitConfig,
    scope: &Scope,
    url: &str,
    helper: &str,
    saved: &[String],
) -> Result<(), GitConfigError> {
    let saved_key = key(url, SAVED);
    if git.get_all(scope, &saved_key)? != saved {
        git.unset_all(scope, &saved_key)?;
        for line in saved {
            git.add(scope, &saved_key, line)?;
        }
    }
    let helper_key = key(url, "helper");
    git.unset_all(scope, &helper_key)?;
    git.add(scope, &helper_key, "")?;
    git.add(scope, &helper_key, helper)?;
    let use_key = key(url, "useHttpPath");
    git.unset_all(scope, &use_key)?;
    git.add(scope, &use_key, "true")
}

/// `unconfigure`: every section of the scope that runs this helper, or that
/// holds a copy of replaced lines, goes back to what it held before.
pub fn unconfigure(session: &Session, args: &ScopeArgs, out: &mut dyn Write) -> Result<(), Error> {
    let scope = scope_of(args);
    let git = GitConfig::find(session.env).map_err(git_err)?;
    let pattern = format!(r"^credential\..*\.(helper|{})$", SAVED.to_ascii_lowercase());
    let entries = git.get_regexp(Some(&scope), &pattern).map_err(git_err)?;
    let mut urls: Vec<String> = Vec::new();
    for e in &entries {
        let Some(url) = e
            .key
            .strip_prefix("credential.")
            .and_then(|r| r.rsplit_once('.'))
            .map(|(u, _)| u.to_string())
        else {
            continue;
        };
        let ours = e.key.to_ascii_lowercase().ends_with(".entrasaved")
            || e.value.as_deref().is_some_and(is_ours);
        if ours && !urls.contains(&url) {
            urls.push(url);
        }
    }
    for raw in &args.hosts {
        let url = host_section(raw)?;
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    writeln!(
        out,
        "git-credential-entra unconfigure {} ({}):",
        scope.flag(),
        gitconfig::describe(&scope)
    )
    .map_err(io)?;
    let mut plans = Vec::new();
    for url in urls {
        let s = Section::read(&git, &scope, &url).map_err(git_err)?;
        if !s.configured_by_us() && s.saved.is_empty() {
            continue;
        }
        let (restore_helpers, restore_use) = restored(&s);
        writeln!(out, "  [credential \"{url}\"]").map_err(io)?;
        for h in s.helpers.iter().filter(|h| h.is_empty() || is_ours(h)) {
            writeln!(out, "    removes  helper = {h}").map_err(io)?;
        }
        if s.use_http_path != restore_use {
            for u in &s.use_http_path {
                writeln!(out, "    removes  useHttpPath = {u}").map_err(io)?;
            }
        }
        for h in s.saved.iter().filter_map(|l| l.strip_prefix("helper=")) {
            writeln!(out, "    restores helper = {h}").map_err(io)?;
        }
        if s.use_http_path != restore_use {
            for u in &restore_use {
                writeln!(out, "    restores useHttpPath = {u}").map_err(io)?;
            }
        }
        plans.push((url, restore_helpers, restore_use));
    }
    if plans.is_empty() {
        writeln!(
            out,
            "  git-credential-entra is not configured here; nothing to change."
        )
        .map_err(io)?;
        return Ok(());
    }
    if args.dry_run {
        return writeln!(out, "Nothing written (--dry-run).").map_err(io);
    }
    for (url, helpers, uses) in &plans {
        undo(&git, &scope, url, helpers, uses).map_err(git_err)?;
    }
    writeln!(out, "Done.").map_err(io)
}

/// The lines a section gets back: the saved ones in order, then any helper
/// someone added after `configure` (kept, not lost).
fn restored(s: &Section) -> (Vec<String>, Vec<String>) {
    let mut helpers = Vec::new();
    let mut uses = Vec::new();
    for line in &s.saved {
        if let Some(h) = line.strip_prefix("helper=") {
            helpers.push(h.to_string());
        } else if let Some(u) = line.strip_prefix("useHttpPath=") {
            uses.push(u.to_string());
        }
    }
    helpers.extend(
        s.helpers
            .iter()
            .filter(|h| !h.is_empty() && !is_ours(h))
            .cloned(),
    );
    if !s.configured_by_us() {
        // Only a copy is left (an interrupted run): the current useHttpPath is not ours.
        uses = s.use_http_path.clone();
    }
    (helpers, uses)
}

fn undo(
    git: &GitConfig,
    scope: &Scope,
    url: &str,
    helpers: &[String],
    uses: &[String],
) -> Result<(), GitConfigError> {
    let helper_key = key(url, "helper");
    git.unset_all(scope, &helper_key)?;
    for h in helpers {
        git.add(scope, &helper_key, h)?;
    }
    let use_key = key(url, "useHttpPath");
    git.unset_all(scope, &use_key)?;
    for u in uses {
        git.add(scope, &use_key, u)?;
    }
    // The copy goes last: until then an interrupted run can be redone.
    git.unset_all(scope, &key(url, SAVED))
}

#[cfg(test)]
mod tests;
