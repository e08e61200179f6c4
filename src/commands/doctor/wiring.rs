//! The checks that need no network: is git wired to this helper for the
//! URL (first helper, `useHttpPath`, every `hosts` entry), and can tokens
//! and sign-ins be kept in a keyring here.

use crate::app::session::Session;
use crate::azure_devops::Target;
use crate::cache::CacheMode;
use crate::commands::configure::is_ours;
use crate::config::Config;
use crate::git::config::{Entry, GitConfig, GitConfigError, credential_url};
use crate::identity::Resolved;
use crate::keyring::KeyringStore;

use super::Check;

const DEV_AZURE: &str = "https://dev.azure.com";

/// The helper and `useHttpPath` checks for `target`, and the helper check
/// for every `hosts` entry.
pub fn git_config(session: &Session, config: &Config, target: &Target) -> Vec<Check> {
    // One read of every scope; unreadable (no git) is reported as no helper.
    let read = GitConfig::find(session.env).and_then(|git| {
        let entries = git.get_regexp(None, r"^credential\..*(helper|usehttppath)$")?;
        Ok((git, entries))
    });
    let (git, entries) = match read {
        Ok(read) => read,
        Err(e) => {
            return vec![Check::fail(
                "git-helper",
                format!("cannot read git's config: {e}"),
                "install git and make sure it is on PATH",
            )];
        }
    };
    let wiring = Wiring {
        git: &git,
        entries: &entries,
    };
    let mut checks = vec![wiring.helper_check("git-helper", &target.url, target)];
    if target.base == DEV_AZURE {
        checks.push(wiring.use_http_path(&target.url));
    }
    for h in &config.hosts {
        let base = format!("{}://{}", h.scheme, h.host);
        if base == target.base {
            continue;
        }
        let url = format!("{base}/");
        let c = wiring.helper_check("hosts", &url, target);
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

/// git's `credential.*` entries (every scope, in config order) and git to
/// ask which of them apply to a URL.
struct Wiring<'a> {
    git: &'a GitConfig,
    entries: &'a [Entry],
}

impl Wiring<'_> {
    /// The values of the `credential.<URL>.<name>` entries git applies to
    /// `url`, in config order (`None` for a bare key).
    fn applying(&self, name: &str, url: &str) -> Result<Vec<Option<&str>>, GitConfigError> {
        let named: Vec<(&str, &Entry)> = self
            .entries
            .iter()
            .filter_map(|e| Some((credential_url(&e.key, name)?, e)))
            .collect();
        let patterns: Vec<&str> = named.iter().map(|(p, _)| *p).collect();
        let matches = self.git.credential_matches(&patterns, url)?;
        Ok(named
            .iter()
            .zip(matches)
            .filter(|(_, m)| *m)
            .map(|((_, e), _)| e.value.as_deref())
            .collect())
    }

    fn helper_check(&self, check: &'static str, url: &str, target: &Target) -> Check {
        match self.applying("helper", url) {
            Ok(values) => helper_check(check, &helpers_in_order(&values), url, target),
            Err(e) => Check::fail(
                check,
                format!("cannot ask git which credential helpers it runs for {url}: {e}"),
                "install git and make sure it is on PATH",
            ),
        }
    }

    fn use_http_path(&self, url: &str) -> Check {
        use_http_path(&self.applying("usehttppath", url).unwrap_or_default())
    }
}

/// Which helpers git runs, in order, from the `helper` values that apply:
/// an empty value clears those before it (as git does).
fn helpers_in_order(values: &[Option<&str>]) -> Vec<String> {
    let mut list = Vec::new();
    for value in values {
        match value.map(str::trim) {
            None | Some("") => list.clear(),
            Some(v) => list.push(v.to_string()),
        }
    }
    list
}

fn helper_check(check: &'static str, list: &[String], url: &str, target: &Target) -> Check {
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
/// the organization (routes, tenant discovery). The last value that
/// applies wins, as for any boolean git reads.
fn use_http_path(values: &[Option<&str>]) -> Check {
    let on = values.last().is_some_and(|v| {
        matches!(
            v.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
            None | Some("true" | "yes" | "on" | "1")
        )
    });
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

/// Whether an OS keyring answers here, and what its absence costs this identity.
pub fn keyring(session: &Session, config: &Config, identity: &Resolved) -> Check {
    let mode = session
        .env
        .get("GIT_CREDENTIAL_ENTRA_CACHE")
        .and_then(CacheMode::parse)
        .or(config.cache)
        .unwrap_or(CacheMode::Auto);
    let user = identity.kind() == crate::identity::Kind::User;
    match KeyringStore::os(session.env, false, session.interactivity) {
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

    use crate::git::config::GitConfig;
    use crate::sys::env::Env;

    fn entry(key: &str, value: Option<&str>) -> Entry {
        Entry {
            scope: Some("global".into()),
            key: key.into(),
            value: value.map(String::from),
        }
    }

    fn git() -> Option<GitConfig> {
        let path = std::env::var("PATH").unwrap_or_default();
        let git = GitConfig::find(&Env::from_pairs([("PATH", path.as_str())])).ok();
        if git.is_none() {
            eprintln!("SKIPPED: no git on PATH");
        }
        git
    }

    fn helpers(git: &GitConfig, entries: &[Entry], url: &str) -> Vec<String> {
        let wiring = Wiring { git, entries };
        helpers_in_order(&wiring.applying("helper", url).expect("asked git"))
    }

    #[test]
    fn an_empty_helper_clears_the_ones_before_it() {
        let Some(git) = git() else { return };
        let u = "https://dev.azure.com/contoso";
        let entries = [
            entry("credential.helper", Some("store")),
            entry("credential.https://dev.azure.com.helper", Some("")),
            entry("credential.https://dev.azure.com.helper", Some("entra")),
            entry("credential.https://example.com.helper", Some("manager")),
        ];
        assert_eq!(helpers(&git, &entries, u), ["entra"]);
        assert_eq!(helpers(&git, &entries[..1], u), ["store"]);
        let shadowed = [
            entry("credential.helper", Some("manager")),
            entries[2].clone(),
        ];
        assert_eq!(helpers(&git, &shadowed, u), ["manager", "entra"]);
    }

    #[test]
    fn helpers_apply_as_git_matches_urls() {
        let Some(git) = git() else { return };
        let u = "https://dev.azure.com/contoso/p/_git/r";
        let entries = [
            entry("credential.https://dev.azure.com.helper", Some("entra")),
            // The default port, written out: git applies it.
            entry(
                "credential.https://dev.azure.com:443.helper",
                Some("manager"),
            ),
            // Another user's section: git does not apply it to this URL.
            entry(
                "credential.https://someone@dev.azure.com.helper",
                Some("store"),
            ),
            entry("credential.https://dev.azure.com/cont.helper", Some("cont")),
        ];
        assert_eq!(helpers(&git, &entries, u), ["entra", "manager"]);
    }

    #[test]
    fn use_http_path_follows_the_last_matching_value() {
        let Some(git) = git() else { return };
        let u = "https://dev.azure.com/contoso";
        let check = |entries: &[Entry]| Wiring { git: &git, entries }.use_http_path(u).status;
        let on = [entry(
            "credential.https://dev.azure.com.usehttppath",
            Some("true"),
        )];
        assert_eq!(check(&on), super::super::Status::Pass);
        let off = [
            on[0].clone(),
            entry("credential.usehttppath", Some("false")),
        ];
        assert_eq!(check(&off), super::super::Status::Fail);
        let elsewhere = [entry(
            "credential.https://example.com.usehttppath",
            Some("true"),
        )];
        assert_eq!(check(&elsewhere), super::super::Status::Fail);
        assert_eq!(check(&[]), super::super::Status::Fail);
    }
}
