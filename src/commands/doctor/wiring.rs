//! The checks that need no network: is git wired to this helper for the
//! URL (first helper, `useHttpPath`, every `hosts` entry), and can tokens
//! and sign-ins be kept in a keyring here.

use crate::app::session::Session;
use crate::azure_devops::Target;
use crate::cache::CacheMode;
use crate::commands::configure::is_ours;
use crate::config::Config;
use crate::git::config::{Entry, GitConfig};
use crate::identity::Resolved;
use crate::keyring::KeyringStore;

use super::Check;

const DEV_AZURE: &str = "https://dev.azure.com";

/// The helper and `useHttpPath` checks for `target`, and the helper check
/// for every `hosts` entry.
pub fn git_config(session: &Session, config: &Config, target: &Target) -> Vec<Check> {
    // One read of every scope; unreadable (no git) is reported as no helper.
    let git = GitConfig::find(session.env);
    let helpers = git
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|git| git.get_regexp(None, r"^credential\..*helper$"));
    let entries = match helpers {
        Ok(e) => e,
        Err(e) => {
            return vec![Check::fail(
                "git-helper",
                format!("cannot read git's config: {e}"),
                "install git and make sure it is on PATH",
            )];
        }
    };
    let mut checks = vec![helper_check("git-helper", &entries, &target.url, target)];
    if target.base == DEV_AZURE {
        let flags = git
            .as_ref()
            .map_or(Ok(Vec::new()), |git| {
                git.get_regexp(None, r"^credential\..*usehttppath$")
            })
            .unwrap_or_default();
        checks.push(use_http_path(&flags, &target.url));
    }
    for h in &config.hosts {
        let base = format!("{}://{}", h.scheme, h.host);
        if base == target.base {
            continue;
        }
        let url = format!("{base}/");
        let c = helper_check("hosts", &entries, &url, target);
        if c.status == super::Status::Fail {
            checks.push(Check::fail(
                "hosts",
                format!("\"hosts\" lists {base}, but git's config sends its remotes to no helper of ours: git prompts for a password instead"),
                format!("git-credential-entra configure --host {base}"),
            ));
        }
    }
    checks
}

/// Which helpers git runs for `url`, in order: matching `helper` lines in
/// config order, an empty value clearing those before it (as git does).
fn helpers_for(entries: &[Entry], url: &str) -> Vec<String> {
    let mut list = Vec::new();
    for e in entries {
        let Some(pattern) = key_url(&e.key, "helper") else {
            continue;
        };
        if !applies(pattern, url) {
            continue;
        }
        match e.value.as_deref().map(str::trim) {
            None | Some("") => list.clear(),
            Some(v) => list.push(v.to_string()),
        }
    }
    list
}

fn helper_check(check: &'static str, entries: &[Entry], url: &str, target: &Target) -> Check {
    let list = helpers_for(entries, url);
    let host_flag = if target.base == DEV_AZURE || target.base.ends_with(".visualstudio.com") {
        String::new()
    } else {
        format!(" --host {}", target.base)
    };
    match list.first() {
        None => Check::fail(
            check,
            format!("no credential helper is configured for {url}: git prompts for a password"),
            format!("git-credential-entra configure{host_flag}"),
        ),
        Some(first) if is_ours(first) => Check::pass(
            check,
            format!("git asks this helper first for {url} (helper = {first})"),
        ),
        Some(first) => {
            let ours = list.iter().any(|h| is_ours(h));
            Check::fail(
                check,
                format!(
                    "git asks helper '{}' first for {url}{}: its answer (a PAT or a stale password) is used and this helper is {}",
                    crate::sys::text::sanitize(first),
                    if list.len() > 1 {
                        format!(" (helpers in order: {})", list.join(", "))
                    } else {
                        String::new()
                    },
                    if ours {
                        "only asked when it has none"
                    } else {
                        "never asked"
                    }
                ),
                format!(
                    "git-credential-entra configure{host_flag} (it puts an empty `helper =` before this helper, and unconfigure restores the line it masks)"
                ),
            )
        }
    }
}

/// git needs `useHttpPath` on dev.azure.com to pass the path, which names
/// the organization (routes, tenant discovery).
fn use_http_path(entries: &[Entry], url: &str) -> Check {
    let mut on = false;
    for e in entries {
        let Some(pattern) = key_url(&e.key, "usehttppath") else {
            continue;
        };
        if applies(pattern, url) {
            on = matches!(
                e.value
                    .as_deref()
                    .map(|v| v.trim().to_ascii_lowercase())
                    .as_deref(),
                None | Some("true" | "yes" | "on" | "1")
            );
        }
    }
    if on {
        Check::pass(
            "use-http-path",
            "credential.useHttpPath is on for https://dev.azure.com",
        )
    } else {
        Check::fail(
            "use-http-path",
            "credential.useHttpPath is off for https://dev.azure.com: git does not say which organization a remote is in, so no route and no tenant can be chosen by organization",
            "git config --global credential.https://dev.azure.com.useHttpPath true (or git-credential-entra configure)",
        )
    }
}

/// The URL part of `credential.<URL>.<name>` (`""` for `credential.<name>`).
fn key_url<'a>(key: &'a str, name: &str) -> Option<&'a str> {
    let rest = key.strip_prefix("credential.")?;
    if rest.eq_ignore_ascii_case(name) {
        return Some("");
    }
    let (url, last) = rest.rsplit_once('.')?;
    last.eq_ignore_ascii_case(name).then_some(url)
}

/// Whether the `credential.<pattern>` section applies to `url`, as git's
/// URL matching decides: same scheme, same host (a `*` label matches one
/// label), same port, and the pattern's path a prefix of the URL's at a `/`.
fn applies(pattern: &str, url: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let split = |u: &str| -> Option<(String, String, String)> {
        let (scheme, rest) = u.split_once("://")?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.rsplit('@').next().unwrap_or(host);
        Some((
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase(),
            path.trim_end_matches('/').to_string(),
        ))
    };
    let (Some((ps, ph, pp)), Some((us, uh, up))) = (split(pattern), split(url)) else {
        return false;
    };
    let host_ok = {
        let p: Vec<&str> = ph.split('.').collect();
        let u: Vec<&str> = uh.split('.').collect();
        p.len() == u.len() && p.iter().zip(&u).all(|(a, b)| *a == "*" || a == b)
    };
    let path_ok =
        pp.is_empty() || up == pp || up.strip_prefix(&pp).is_some_and(|r| r.starts_with('/'));
    ps == us && host_ok && path_ok
}

/// Whether an OS keyring answers here, and what its absence costs this identity.
pub fn keyring(session: &Session, config: &Config, identity: &Resolved) -> Check {
    let mode = session
        .env
        .get("GIT_CREDENTIAL_ENTRA_CACHE")
        .and_then(CacheMode::parse)
        .or(config.cache)
        .unwrap_or(CacheMode::Auto);
    let user = identity.kind() == "user";
    match KeyringStore::os(session.env, false) {
        Ok(store) => Check::pass(
            "keyring",
            format!(
                "the OS keyring ({}) answers{}",
                store.name_str(),
                match mode {
                    CacheMode::Auto | CacheMode::Keyring => "",
                    _ => "; the cache setting keeps access tokens elsewhere",
                }
            ),
        ),
        Err(e) if user => Check::fail(
            "keyring",
            format!(
                "no OS keyring is usable ({e}): identity '{}' cannot keep its sign-in (refresh token), so you sign in again each time the access token expires (about hourly)",
                identity.name
            ),
            "run a Secret Service in your session (gnome-keyring or KeePassXC on Linux) and unlock it",
        ),
        Err(e) => Check::warn(
            "keyring",
            format!(
                "no OS keyring is usable ({e}); identity '{}' does not need one (access tokens are cached in private files), but a user identity here would sign in again about hourly",
                identity.name
            ),
            "",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: Option<&str>) -> Entry {
        Entry {
            scope: Some("global".into()),
            key: key.into(),
            value: value.map(String::from),
        }
    }

    #[test]
    fn sections_match_like_git() {
        let u = "https://dev.azure.com/contoso/p/_git/r";
        assert!(applies("", u));
        assert!(applies("https://dev.azure.com", u));
        assert!(applies("https://dev.azure.com/contoso", u));
        assert!(!applies("https://dev.azure.com/cont", u));
        assert!(!applies("http://dev.azure.com", u));
        assert!(applies(
            "https://*.visualstudio.com",
            "https://contoso.visualstudio.com/p"
        ));
        assert!(!applies("https://*.visualstudio.com", u));
        assert!(!applies("https://127.0.0.1:1", "https://127.0.0.1:2/o"));
    }

    #[test]
    fn an_empty_helper_clears_the_ones_before_it() {
        let u = "https://dev.azure.com/contoso";
        let entries = [
            entry("credential.helper", Some("store")),
            entry("credential.https://dev.azure.com.helper", Some("")),
            entry("credential.https://dev.azure.com.helper", Some("entra")),
            entry("credential.https://example.com.helper", Some("manager")),
        ];
        assert_eq!(helpers_for(&entries, u), ["entra"]);
        assert_eq!(helpers_for(&entries[..1], u), ["store"]);
        let shadowed = [
            entry("credential.helper", Some("manager")),
            entries[2].clone(),
        ];
        assert_eq!(helpers_for(&shadowed, u), ["manager", "entra"]);
    }

    #[test]
    fn use_http_path_follows_the_last_matching_value() {
        let u = "https://dev.azure.com/contoso";
        let on = [entry(
            "credential.https://dev.azure.com.usehttppath",
            Some("true"),
        )];
        assert_eq!(use_http_path(&on, u).status, super::super::Status::Pass);
        let off = [
            on[0].clone(),
            entry("credential.usehttppath", Some("false")),
        ];
        assert_eq!(use_http_path(&off, u).status, super::super::Status::Fail);
        assert_eq!(use_http_path(&[], u).status, super::super::Status::Fail);
    }
}
