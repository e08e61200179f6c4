//! Which Entra tenant an Azure DevOps organization belongs to, for an
//! identity that has no configured `tenant` (a person signing in).
//!
//! In order: git's `wwwauth[]` (Azure DevOps's 401 names the tenant in
//! `Bearer authorization_uri=…`); a per-organization answer remembered in
//! the cache directory for [`FRESH_SECS`]; an unauthenticated `HEAD` of
//! `https://vssps.dev.azure.com/{org}` (or the organization URL on a
//! configured host) with `X-TFS-FedAuthRedirect: Suppress`, reading
//! `WWW-Authenticate` or `X-VSS-ResourceTenant`; else `organizations`.
//! A remembered answer older than that is still used when the probe fails.
//! The empty GUID means an organization backed by Microsoft accounts, which
//! signs in through `organizations` too.
//!
//! Only the tenant is taken from a server's answer, never a host: where
//! credentials go is decided by the configured authority host alone.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::entra::check_tenant;
use crate::net::http::Http;
use crate::sys::files::{private_dir, read_private, write_private};
use crate::sys::time::now;

/// The tenant to use when none can be found, and for Microsoft-account orgs.
pub const ORGANIZATIONS: &str = "organizations";
/// How long a discovered tenant is used without asking again.
pub const FRESH_SECS: i64 = 7 * 24 * 3600;
/// How long the probe may take, all of it: it runs while git waits.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The header Azure DevOps answers with the organization's tenant.
const RESOURCE_TENANT: &str = "X-VSS-ResourceTenant";
const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";
const SUBDIR: &str = "tenants";
/// How many remembered organizations [`remembered`] reads, at most.
const MAX_REMEMBERED: usize = 1000;

/// The tenant found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// A tenant id or domain, or [`ORGANIZATIONS`].
    pub id: String,
    /// Where it came from.
    pub how: How,
}

/// Where a tenant came from (for traces and `doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// git's `wwwauth[]`.
    Challenge,
    /// Remembered, younger than [`FRESH_SECS`].
    Remembered,
    /// Azure DevOps answered the probe.
    Probe,
    /// Remembered but old, used because the probe failed.
    Stale {
        /// Why the probe failed.
        probe: String,
    },
    /// Nothing found; [`ORGANIZATIONS`].
    Default {
        /// Why the probe failed.
        probe: String,
    },
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            How::Challenge => f.write_str("from git's wwwauth[] (Azure DevOps's 401)"),
            How::Remembered => f.write_str("remembered from an earlier discovery"),
            How::Probe => f.write_str("from Azure DevOps's answer to a HEAD request"),
            How::Stale { probe } => write!(
                f,
                "remembered (older than {} days) because the probe failed: {probe}",
                FRESH_SECS / 86_400
            ),
            How::Default { probe } => write!(f, "none found ({probe}); the default"),
        }
    }
}

/// The tenant of organization `org` on `base_url` (`https://dev.azure.com`
/// or a configured host), from `wwwauth` (git's `wwwauth[]` values), the
/// cache directory, or a probe. Never fails: the last resort is
/// [`ORGANIZATIONS`]. No network when `wwwauth` or a fresh memory answers.
pub fn discover(
    http: &Http,
    org: &str,
    base_url: &str,
    wwwauth: &[String],
    cache_dir: Option<&Path>,
) -> Tenant {
    let memory = cache_dir.map(|dir| Memory::new(dir, base_url, org));
    if let Some(id) = from_challenges(wwwauth.iter().map(String::as_str)) {
        if let Some(m) = &memory {
            m.remember(&id);
        }
        return Tenant {
            id,
            how: How::Challenge,
        };
    }
    let remembered = memory.as_ref().and_then(Memory::recall);
    if let Some((id, age)) = &remembered
        && *age < FRESH_SECS
    {
        return Tenant {
            id: id.clone(),
            how: How::Remembered,
        };
    }
    match probe(http, org, base_url) {
        Ok(id) => {
            if let Some(m) = &memory {
                m.remember(&id);
            }
            Tenant {
                id,
                how: How::Probe,
            }
        }
        Err(probe) => match remembered {
            Some((id, _)) => Tenant {
                id,
                how: How::Stale { probe },
            },
            None => Tenant {
                id: ORGANIZATIONS.into(),
                how: How::Default { probe },
            },
        },
    }
}

/// Drops the remembered tenant of `org` on `base_url` (git's `erase`: the
/// token was refused, perhaps by the wrong tenant). Whether there was one.
pub fn forget(org: &str, base_url: &str, cache_dir: &Path) -> io::Result<bool> {
    match std::fs::remove_file(Memory::new(cache_dir, base_url, org).file()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every tenant remembered for some organization (at most [`MAX_REMEMBERED`]
/// files are read): the tenants a discovering identity may have tokens for,
/// so `cache list` and `logout` find them.
pub fn remembered(cache_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(cache_dir.join(SUBDIR)) else {
        return Vec::new();
    };
    let mut tenants: Vec<String> = entries
        .flatten()
        .take(MAX_REMEMBERED)
        .filter_map(|e| {
            let text = read_private(&e.path(), 4096).ok()??;
            let r: Remembered = serde_json::from_str(&text).ok()?;
            tenant_from(&r.tenant)
        })
        .collect();
    tenants.sort();
    tenants.dedup();
    tenants
}

/// Where the probe goes: the organization on Azure DevOps's account service
/// for dev.azure.com, the organization URL on another host.
pub fn probe_url(org: &str, base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.eq_ignore_ascii_case("https://dev.azure.com") {
        format!("https://vssps.dev.azure.com/{org}")
    } else {
        format!("{base}/{org}")
    }
}

/// The tenant in the first `authorization_uri=` of these `WWW-Authenticate`
/// values (`Bearer authorization_uri=https://login.microsoftonline.com/{tid}`).
pub fn from_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    const KEY: &str = "authorization_uri=";
    values.into_iter().find_map(|v| {
        let at = v.to_ascii_lowercase().find(KEY)?;
        let value = v[at + KEY.len()..]
            .trim_start_matches(['"', '\''])
            .split(['"', '\'', ',', ' '])
            .next()?;
        let url = url::Url::parse(value).ok()?;
        let tenant = url.path_segments()?.find(|s| !s.is_empty())?;
        tenant_from(tenant)
    })
}

/// A tenant a server named, checked like a configured one; the empty GUID
/// (a Microsoft-account organization) is [`ORGANIZATIONS`].
fn tenant_from(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case(EMPTY_GUID) {
        return Some(ORGANIZATIONS.into());
    }
    check_tenant(raw).ok()
}

/// The tenant in `X-VSS-ResourceTenant` values: the first real tenant id;
/// only the empty GUID means a Microsoft-account organization.
fn from_resource_tenant<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let ids: Vec<&str> = values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    ids.iter()
        .filter(|v| !v.eq_ignore_ascii_case(EMPTY_GUID))
        .find_map(|v| tenant_from(v))
        .or_else(|| {
            ids.iter()
                .any(|v| v.eq_ignore_ascii_case(EMPTY_GUID))
                .then(|| ORGANIZATIONS.into())
        })
}

/// One unauthenticated `HEAD`, bounded by [`PROBE_TIMEOUT`] and not retried:
/// git is waiting, and `organizations` works when this fails.
fn probe(http: &Http, org: &str, base_url: &str) -> Result<String, String> {
    let org_ok = !org.is_empty()
        && org
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !org_ok {
        return Err("the organization name cannot be put in a URL".into());
    }
    let url = probe_url(org, base_url);
    let client = http.azure_devops(&url).map_err(|e| e.to_string())?;
    let response = client
        .head(&url)
        .header("X-TFS-FedAuthRedirect", "Suppress")
        .timeout(PROBE_TIMEOUT)
        .send()
        .map_err(|e| format!("HEAD {url}: {}", crate::sys::text::sanitize(&e.to_string())))?;
    let headers = response.headers();
    let values = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    from_challenges(values("WWW-Authenticate"))
        .or_else(|| from_resource_tenant(values(RESOURCE_TENANT)))
        .ok_or_else(|| {
            format!(
                "HEAD {url} answered HTTP {} naming no tenant",
                response.status().as_u16()
            )
        })
}

/// The remembered tenant of one organization: a small private file.
struct Memory {
    dir: PathBuf,
    name: String,
    base: String,
    org: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Remembered {
    base: String,
    org: String,
    tenant: String,
    at: i64,
}

impl Memory {
    fn new(cache_dir: &Path, base_url: &str, org: &str) -> Memory {
        let base = base_url.trim_end_matches('/').to_ascii_lowercase();
        let org = org.to_ascii_lowercase();
        let digest =
            ring::digest::digest(&ring::digest::SHA256, format!("{base}\0{org}").as_bytes());
        let name: String = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Memory {
            dir: cache_dir.join(SUBDIR),
            name: format!("{name}.json"),
            base,
            org,
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// The tenant and its age in seconds.
    fn recall(&self) -> Option<(String, i64)> {
        let text = read_private(&self.file(), 4096).ok()??;
        let r: Remembered = serde_json::from_str(&text).ok()?;
        let age = now().saturating_sub(r.at);
        (r.base == self.base && r.org == self.org && age >= 0)
            .then_some(())
            .and_then(|()| Some((tenant_from(&r.tenant)?, age)))
    }

    /// Best effort: a cache that cannot be written only costs a probe later.
    fn remember(&self, tenant: &str) {
        if self
            .recall()
            .is_some_and(|(t, age)| t == tenant && age < FRESH_SECS / 7)
        {
            return;
        }
        let text = serde_json::to_string(&Remembered {
            base: self.base.clone(),
            org: self.org.clone(),
            tenant: tenant.to_string(),
            at: now(),
        })
        .expect("strings and an integer always serialise");
        let _ = private_dir(&self.dir)
            .and_then(|()| write_private(&self.dir, &self.name, text.as_bytes()));
    }
}

#[cfg(test)]
mod tests;
