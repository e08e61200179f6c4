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

use crate::app::cli::{ConfigureArgs, ScopeArgs};
use crate::app::error::Error;
use crate::app::session::Session;
use crate::azure_devops::HostEntry;
use crate::git::config::{self as gitconfig, GitConfig, GitConfigError, Scope};

mod binary;
mod readiness;
mod report;
pub use binary::is_ours;
use binary::{Binary, shell_word};
use report::report_masked;

/// The sections every configuration has.
const DEFAULT_SECTIONS: [&str; 2] = ["https://dev.azure.com", "https://*.visualstudio.com"];
/// Where replaced lines are kept (git lower-cases key names on output).
const SAVED: &str = "entraSaved";

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

/// git, and for `--local` a repository around the current directory:
/// outside one git would only say `fatal: --local can only be used inside a
/// git repository`.
fn open(session: &Session, scope: &Scope, verb: &str) -> Result<GitConfig, Error> {
    let git = GitConfig::find(session.env).map_err(git_err)?;
    if *scope == Scope::Local && !git.in_repository() {
        return Err(Error::Command(format!(
            "{verb} --local: the current directory is not inside a git repository, and --local writes that repository's .git/config. Fix: cd into the repository whose remotes should use this helper and run it again, or use --global (every repository of this user)"
        )));
    }
    Ok(git)
}

/// The flags a person repeats to run `configure` again the same way.
fn repeated_flags(args: &ScopeArgs, scope: &Scope) -> String {
    let mut flags = String::new();
    match scope {
        Scope::Global => {}
        Scope::File(f) => flags.push_str(&format!(" --file {}", shell_word(&f.to_string_lossy()))),
        other => flags.push_str(&format!(" {}", other.flag())),
    }
    for h in &args.hosts {
        flags.push_str(&format!(" --host {}", shell_word(h)));
    }
    flags
}

/// `configure`.
pub fn configure(
    session: &Session,
    args: &ConfigureArgs,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (args, force) = (&args.scope, args.force);
    let scope = scope_of(args);
    let git = open(session, &scope, "configure")?;
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
    let path_var = session.env.get("PATH");
    let binary = Binary::locate(path_var)?;
    let helper = binary.helper_value();
    let command = binary.command();
    let ready = readiness::check(session, &config);
    writeln!(
        out,
        "git-credential-entra configure {} ({}):",
        scope.flag(),
        gitconfig::describe(&scope)
    )
    .map_err(io)?;
    let mut writes = Vec::new();
    let mut already_ours = false;
    for url in &urls {
        let before = Section::read(&git, &scope, url).map_err(git_err)?;
        let wanted_helpers = vec![String::new(), helper.clone()];
        let wanted_use = vec!["true".to_string()];
        writeln!(out, "  [credential \"{url}\"]").map_err(io)?;
        already_ours |= before.configured_by_us();
        if before.helpers == wanted_helpers && before.use_http_path == wanted_use {
            writeln!(out, "    already configured; unchanged").map_err(io)?;
            continue;
        }
        // Lines that are not ours are kept; ours (another path, the mask)
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
                "    replaces helper = {h}   (kept as {SAVED}; `{command} unconfigure {}` puts it back)",
                scope.flag()
            )
            .map_err(io)?;
        }
        for h in before
            .helpers
            .iter()
            .filter(|h| is_ours(h) && **h != helper)
        {
            let which = if binary.runs(h, path_var) {
                "this same binary, named differently now that PATH changed"
            } else {
                "another installation of this helper"
            };
            writeln!(out, "    replaces helper = {h}   ({which})").map_err(io)?;
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
    // Nothing can answer yet: the helpers git has keep answering (readiness.rs).
    let hold = ready.is_err() && !force;
    let mut taken_over = already_ours;
    if writes.is_empty() {
        writeln!(out, "Nothing to change.").map_err(io)?;
    } else if args.dry_run {
        writeln!(out, "Nothing written (--dry-run).").map_err(io)?;
        taken_over |= force;
    } else if !hold {
        for (url, saved) in &writes {
            apply(&git, &scope, url, &helper, saved).map_err(git_err)?;
        }
        writeln!(
            out,
            "Done: git now asks git-credential-entra for these remotes. Undo with: {command} unconfigure {}",
            scope.flag()
        )
        .map_err(io)?;
        taken_over = true;
    } else if already_ours {
        // A partly wired scope (a new --host) stays as it was.
        writeln!(
            out,
            "Nothing written: the sections above that are not yet configured stay as they are until an identity can answer (or --force)."
        )
        .map_err(io)?;
    }
    readiness::Outcome {
        taken_over,
        dry_run: args.dry_run,
        command: &command,
        flags: &repeated_flags(args, &scope),
        scope_flag: &scope.flag(),
    }
    .explain(&ready, out)
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
    let git = open(session, &scope, "unconfigure")?;
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
