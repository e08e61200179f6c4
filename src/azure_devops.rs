//! Which git requests are Azure DevOps requests, and for which organization.
//!
//! Git hands us `protocol`, `host` (with port), maybe `path` (with
//! `credential.useHttpPath`) and maybe `username`. From them we decide whether
//! the request is ours at all (a token is never written for another host) and
//! build the canonical organization URL that routes match against.

use crate::protocol::Request;

/// Azure DevOps's Entra application id: the resource every token is for.
pub const RESOURCE: &str = "499b84ac-1321-427f-aa17-267ca6975798";
/// The v2 scope for [`RESOURCE`].
pub const SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";

/// A configured extra host, `scheme://host[:port]`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// `https`, or `http` for a loopback host.
    pub scheme: String,
    /// Host with port when given, as git sends it.
    pub host: String,
}

/// A request we answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://dev.azure.com` or the configured host's base URL.
    pub base: String,
    /// The organization, lower-cased, when it could be found.
    pub org: Option<String>,
    /// The URL routes are matched against: `{base}/{org}/{rest of path}`,
    /// or just `base` without an organization.
    pub url: String,
}

/// Decides whether git's request is ours. `None` means: print nothing.
pub fn recognise(req: &Request, hosts: &[HostEntry]) -> Option<Target> {
    let protocol = req.protocol.as_deref()?.to_ascii_lowercase();
    let host = req.host.as_deref()?.to_ascii_lowercase();
    let segments: Vec<&str> = req
        .path
        .as_deref()
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let username = req.username.as_deref().filter(|u| is_org_name(u));

    if protocol == "https" && host == "dev.azure.com" {
        // dev.azure.com/{org}/…, else {org}@dev.azure.com (git dropped the path).
        let (org, rest) = match segments.split_first() {
            Some((first, rest)) if is_org_name(first) => (Some(*first), rest),
            _ => (username, &segments[..0]),
        };
        return Some(target("https://dev.azure.com", org, rest));
    }
    if protocol == "https"
        && let Some(org) = host.strip_suffix(".visualstudio.com")
        && is_org_name(org)
        && !org.contains('.')
    {
        // The username here is a real user, not the organization.
        let rest = match segments.first() {
            Some(s) if s.eq_ignore_ascii_case("DefaultCollection") => &segments[1..],
            _ => &segments[..],
        };
        return Some(target("https://dev.azure.com", Some(org), rest));
    }
    let entry = hosts
        .iter()
        .find(|h| h.scheme == protocol && h.host == host)?;
    let base = format!("{}://{}", entry.scheme, entry.host);
    let (org, rest) = match segments.split_first() {
        Some((first, rest)) if is_org_name(first) => (Some(*first), rest),
        _ => (username, &segments[..0]),
    };
    Some(target(&base, org, rest))
}

fn target(base: &str, org: Option<&str>, rest: &[&str]) -> Target {
    let org = org.map(str::to_ascii_lowercase);
    let url = match &org {
        Some(org) if rest.is_empty() => format!("{base}/{org}"),
        Some(org) => format!("{base}/{org}/{}", rest.join("/").to_ascii_lowercase()),
        None => base.to_string(),
    };
    Target {
        base: base.to_string(),
        org,
        url,
    }
}

// Azure DevOps organization names: letters, digits, '-', '_' and '.'.
fn is_org_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `host` (no port, or with one) names a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(protocol: &str, host: &str, path: Option<&str>, user: Option<&str>) -> Request {
        Request {
            protocol: Some(protocol.into()),
            host: Some(host.into()),
            path: path.map(Into::into),
            username: user.map(Into::into),
            ..Request::default()
        }
    }

    #[test]
    fn dev_azure_com_org_from_path_then_username() {
        let t = recognise(
            &req(
                "https",
                "dev.azure.com",
                Some("Contoso/Proj/_git/Repo"),
                None,
            ),
            &[],
        )
        .expect("ours");
        assert_eq!(t.org.as_deref(), Some("contoso"));
        assert_eq!(t.url, "https://dev.azure.com/contoso/proj/_git/repo");
        let t =
            recognise(&req("https", "dev.azure.com", None, Some("fabrikam")), &[]).expect("ours");
        assert_eq!(t.org.as_deref(), Some("fabrikam"));
        let t = recognise(&req("https", "DEV.AZURE.COM", None, None), &[]).expect("ours");
        assert_eq!(t.org, None);
        assert_eq!(t.url, "https://dev.azure.com");
    }

    #[test]
    fn visualstudio_org_from_host() {
        let t = recognise(
            &req(
                "https",
                "contoso.visualstudio.com",
                Some("DefaultCollection/P/_git/r"),
                Some("ann"),
            ),
            &[],
        )
        .expect("ours");
        assert_eq!(t.org.as_deref(), Some("contoso"));
        assert_eq!(t.url, "https://dev.azure.com/contoso/p/_git/r");
        assert!(recognise(&req("https", "a.b.visualstudio.com", None, None), &[]).is_none());
        assert!(recognise(&req("https", "visualstudio.com", None, None), &[]).is_none());
    }

    #[test]
    fn others_are_not_ours() {
        for (p, h) in [
            ("https", "github.com"),
            ("http", "dev.azure.com"),
            ("http", "contoso.visualstudio.com"),
            ("https", "dev.azure.com.evil.example"),
            ("https", "127.0.0.1:8080"),
            ("ssh", "dev.azure.com"),
        ] {
            assert!(
                recognise(&req(p, h, Some("org/p"), None), &[]).is_none(),
                "{p}://{h}"
            );
        }
    }

    #[test]
    fn configured_hosts_match_scheme_and_port_exactly() {
        let hosts = [HostEntry {
            scheme: "http".into(),
            host: "127.0.0.1:8080".into(),
        }];
        let t = recognise(
            &req("http", "127.0.0.1:8080", Some("org/p/_git/r"), None),
            &hosts,
        )
        .expect("ours");
        assert_eq!(t.url, "http://127.0.0.1:8080/org/p/_git/r");
        assert!(recognise(&req("https", "127.0.0.1:8080", Some("org"), None), &hosts).is_none());
        assert!(recognise(&req("http", "127.0.0.1:8081", Some("org"), None), &hosts).is_none());
    }

    #[test]
    fn loopback_detection() {
        for h in [
            "127.0.0.1",
            "127.1.2.3:80",
            "localhost",
            "LOCALHOST:9",
            "[::1]:8080",
            "::1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["10.0.0.1", "example.com", "localhost.example.com", "[::2]"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
