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
    let target = match Target::from_url(url, &config.hosts) {
        Ok(Some(t)) => t,
        Ok(None) if url.contains("://") => {
            return "not Azure DevOps (nor a \"hosts\" entry): git does not ask this helper".into();
        }
        Ok(None) | Err(_) => {
            return "not an https URL (SSH remotes use SSH keys, not credential helpers)".into();
        }
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
