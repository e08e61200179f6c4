//! `identities`: the configured identities and routes, and which identity
//! each Azure DevOps remote of the current repository would use, and why.
//! Resolution does no I/O beyond `auto`'s remembered IMDS probe: nothing is
//! acquired.

use std::io::Write;

use crate::app::error::Error;
use crate::app::session::Session;
use crate::azure_devops::Target;
use crate::config::{AUTO, Config};
use crate::git::config::GitConfig;

/// `identities`.
pub fn run(session: &Session, out: &mut dyn Write) -> Result<(), Error> {
    let config = session.config()?;
    let io = |e: std::io::Error| Error::Io(e);
    writeln!(out, "Config: {}", config.describe_file()).map_err(io)?;
    writeln!(out, "Identities:").map_err(io)?;
    let builtin_auto = !config.identities.contains_key(AUTO);
    let names = config
        .identities
        .keys()
        .cloned()
        .chain(builtin_auto.then(|| AUTO.to_string()));
    for name in names {
        let kind = config
            .identities
            .get(&name)
            .map_or("auto (built in)", |k| k.kind().config_name());
        let line = match session.resolve(&name, &config) {
            Ok(id) => format!("{id}"),
            Err(e) => format!("cannot be used here: {e}"),
        };
        writeln!(out, "  {name}  [{kind}]  {line}").map_err(io)?;
    }
    writeln!(out, "Routes (the longest matching URL wins; else 'auto'):").map_err(io)?;
    if config.routes.is_empty() {
        writeln!(out, "  (none: every Azure DevOps remote uses 'auto')").map_err(io)?;
    }
    for r in &config.routes {
        writeln!(out, "  {} -> {}", r.url, r.identity).map_err(io)?;
    }
    if !config.hosts.is_empty() {
        let hosts: Vec<String> = config
            .hosts
            .iter()
            .map(|h| format!("{}://{}", h.scheme, h.host))
            .collect();
        writeln!(out, "Extra hosts: {}", hosts.join(", ")).map_err(io)?;
    }
    remotes(session, &config, out)
}

/// Each remote URL of the repository in the current directory, if any.
fn remotes(session: &Session, config: &Config, out: &mut dyn Write) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Io(e);
    // Outside a repository there are simply no remotes to show.
    let entries = GitConfig::find(session.env)
        .and_then(|git| git.get_regexp(None, r"^remote\..*\.(url|pushurl)$"))
        .unwrap_or_default();
    if entries.is_empty() {
        return writeln!(
            out,
            "Remotes: none here (not in a git repository, or no remotes)"
        )
        .map_err(io);
    }
    writeln!(out, "Remotes of this repository:").map_err(io)?;
    for e in entries {
        let Some(url) = e.value.as_deref() else {
            continue;
        };
        let name = e
            .key
            .strip_prefix("remote.")
            .and_then(|r| r.rsplit_once('.'))
            .map_or(e.key.as_str(), |(n, kind)| {
                if kind == "pushurl" { e.key.as_str() } else { n }
            });
        writeln!(out, "  {name}  {url}  -> {}", explain(session, config, url)).map_err(io)?;
    }
    Ok(())
}

/// Which identity `url` gets, and why, in words.
fn explain(session: &Session, config: &Config, url: &str) -> String {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    let http = matches!(scheme.as_deref(), Some("http" | "https"));
    let target = match Target::from_url(url, &config.hosts) {
        Ok(Some(t)) => t,
        Ok(None) if http => {
            return "not Azure DevOps (nor a \"hosts\" entry): git does not ask this helper".into();
        }
        Err(e) if http => return format!("cannot be read as a URL: {e}"),
        _ => return not_http(url, scheme.as_deref()).into(),
    };
    if let Some(flag) = &session.identity_flag {
        return format!("identity '{flag}' (--identity / GIT_CREDENTIAL_ENTRA_IDENTITY)");
    }
    if target.dot_segments && config.has_org_routes(&target.base) {
        return format!("{}", Error::DotSegments { base: target.base });
    }
    if target.org.is_none() && config.has_org_routes(&target.base) {
        return format!("{}", Error::NoOrganization { base: target.base });
    }
    match config.route(&target.url) {
        Some(r) => format!("identity '{}' (route {})", r.identity, r.url),
        None => format!("identity 'auto' (no route matches {})", target.url),
    }
}

/// What a remote that is no http(s) URL is, as git reads it; git asks no
/// credential helper for any of them.
fn not_http(url: &str, scheme: Option<&str>) -> &'static str {
    const LOCAL: &str = "a local path (git reads it directly; no credentials)";
    const SSH: &str = "an SSH remote (SSH keys, not credential helpers)";
    match scheme {
        Some("file") => LOCAL,
        Some("ssh" | "git+ssh" | "ssh+git") => SSH,
        Some(_) => "not an http(s) URL: git asks no credential helper for it",
        None if is_local_path(url) => LOCAL,
        // `transport::address`: a remote helper of git's, not SSH.
        None if url.contains("::") => "not an http(s) URL: git asks no credential helper for it",
        None => SSH,
    }
}

/// Whether git reads a URL without a scheme as a path rather than as
/// `host:path` (scp-like SSH): no ':' before the first '/', or a drive
/// letter (`C:\repo`), as git's `url_is_local_not_ssh`.
fn is_local_path(url: &str) -> bool {
    let b = url.as_bytes();
    if b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && matches!(b.get(2), None | Some(b'/' | b'\\'))
    {
        return true;
    }
    match (url.find(':'), url.find('/')) {
        (None, _) => true,
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_that_are_no_http_url_are_told_apart_as_git_reads_them() {
        for (url, kind) in [
            ("/srv/repo.git", "a local path"),
            ("../repo", "a local path"),
            ("repo", "a local path"),
            ("./a:b", "a local path"),
            ("C:\\repos\\x", "a local path"),
            ("file:///srv/repo.git", "a local path"),
            ("git@ssh.dev.azure.com:v3/contoso/p/r", "an SSH remote"),
            ("host:repo", "an SSH remote"),
            ("ssh://git@host/repo", "an SSH remote"),
            ("git://host/repo", "not an http(s) URL"),
            ("ext::ssh -i key host %S", "not an http(s) URL"),
        ] {
            let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            assert!(
                not_http(url, scheme.as_deref()).starts_with(kind),
                "{url}: {}",
                not_http(url, scheme.as_deref())
            );
        }
    }
}
