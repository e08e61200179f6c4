//! Which git requests are Azure DevOps requests, and for which organization.
//!
//! Git hands us `protocol`, `host` (with port), maybe `path` (with
//! `credential.useHttpPath`) and maybe `username`. From them we decide whether
//! the request is ours at all (a token is never written for another host) and
//! build the canonical organization URL that routes match against.

pub mod tenant;

use crate::git::protocol::Request;
use crate::net;

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
    /// The path has a `.` or `..` segment (or an encoded one). Git does not
    /// resolve them but the HTTP client and server do, so neither the path
    /// nor the username may pick an organization: `org` is `None`.
    pub dot_segments: bool,
}

impl Target {
    /// The target a URL typed by a person names (`token URL`, `doctor URL`),
    /// split exactly as git splits a remote URL, so the answer is the one git
    /// would get. `Ok(None)`: not an Azure DevOps URL.
    pub fn from_url(url: &str, hosts: &[HostEntry]) -> Result<Option<Target>, String> {
        let mut request = Request::from_url(url)?;
        // git drops the path unless credential.useHttpPath is set; a person
        // naming a URL means all of it.
        request.path = request.path.filter(|p| !p.is_empty());
        Ok(recognise(&request, hosts))
    }
}

/// Decides whether git's request is ours. `None` means: print nothing.
pub fn recognise(req: &Request, hosts: &[HostEntry]) -> Option<Target> {
    let protocol = req.protocol.as_deref()?.to_ascii_lowercase();
    let host = req.host.as_deref()?.to_ascii_lowercase();
    let segments = segments(req.path.as_deref().unwrap_or(""));
    let username = req.username.as_deref().filter(|u| is_org_name(u));
    // {base}/{org}/…; {org}@{host} only when git dropped the path. When
    // there is a path, its first segment is the organization or there is
    // none: `https://contoso@dev.azure.com/other%20/p` must not send
    // contoso's token to a path of another organization.
    let org_from_path = || match segments.split_first() {
        Some((first, rest)) if is_org_name(first) => (Some(*first), rest),
        Some(_) => (None, &segments[..0]),
        None => (username, &segments[..0]),
    };

    let (base, org, rest) = if protocol == "https" && host == "dev.azure.com" {
        let (org, rest) = org_from_path();
        (DEV_AZURE_COM.to_string(), org, rest)
    } else if let Some((org, rest)) = visualstudio(&protocol, &host, &segments) {
        // The username here is a real user, not the organization.
        (DEV_AZURE_COM.to_string(), Some(org), rest)
    } else {
        let entry = hosts
            .iter()
            .find(|h| h.scheme == protocol && h.host == host)?;
        let (org, rest) = org_from_path();
        (format!("{}://{}", entry.scheme, entry.host), org, rest)
    };
    if segments.iter().copied().any(is_dot_segment) {
        return Some(Target {
            url: base.clone(),
            base,
            org: None,
            dot_segments: true,
        });
    }
    Some(target(&base, org, rest))
}

/// The Azure DevOps Services base URL, the default wherever none is named.
pub const DEV_AZURE_COM: &str = "https://dev.azure.com";

/// The non-empty segments of a path.
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// `https://{org}.visualstudio.com/[DefaultCollection/]…` is the old name of
/// `https://dev.azure.com/{org}/…`: the organization and the segments after
/// the collection, or `None` for another URL. `host` is lower-case.
/// `DefaultCollection` goes only as a whole first segment, in any case.
fn visualstudio<'h, 's>(
    scheme: &str,
    host: &'h str,
    segments: &'s [&'s str],
) -> Option<(&'h str, &'s [&'s str])> {
    let org = host.strip_suffix(".visualstudio.com")?;
    if scheme != "https" || !is_org_name(org) || org.contains('.') {
        return None;
    }
    let rest = match segments.split_first() {
        Some((first, rest)) if first.eq_ignore_ascii_case("DefaultCollection") => rest,
        _ => segments,
    };
    Some((org, rest))
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
        dot_segments: false,
    }
}

/// `.` or `..`, also percent-encoded (`%2e`, `.%2E`, …): a segment an HTTP
/// client or server resolves away.
fn is_dot_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    matches!(lower.replace("%2e", ".").as_str(), "." | "..")
}

/// A route's `url` in canonical form: lower-case, no trailing slash, and
/// `https://{org}.visualstudio.com/…` as `https://dev.azure.com/{org}/…` (the
/// same rewrite requests get). A `.` or `..` segment is refused: a URL
/// library would resolve it and route somewhere the user did not write.
pub fn route_url(raw: &str) -> Result<String, String> {
    const EXPECTED: &str = "expected a URL like https://dev.azure.com/contoso";
    // The URL library drops tabs and newlines and reads a backslash as '/', which
    // would let a dot segment past the check below.
    if raw
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(EXPECTED.into());
    }
    let after_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let before_query = after_scheme.split(['?', '#']).next().unwrap_or("");
    if let Some(slash) = before_query.find('/')
        && before_query[slash..].split('/').any(is_dot_segment)
    {
        return Err(format!(
            "has a '.' or '..' segment; write the URL without them ({EXPECTED})"
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    if host.is_empty()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(EXPECTED.into());
    }
    let scheme = url.scheme();
    let authority = net::authority(&url);
    if !net::https_or_loopback(&url) {
        return Err("must be an https:// URL (http:// only for a loopback test server)".into());
    }
    let path = url.path().to_ascii_lowercase();
    let segments = segments(&path);
    let (base, org, rest) = match visualstudio(scheme, &host, &segments) {
        Some((org, rest)) => (DEV_AZURE_COM.to_string(), Some(org), rest),
        None => match segments.split_first() {
            Some((first, rest)) => (format!("{scheme}://{authority}"), Some(*first), rest),
            None => (format!("{scheme}://{authority}"), None, &segments[..0]),
        },
    };
    Ok(target(&base, org, rest).url)
}

// Azure DevOps organization names: letters, digits, '-', '_' and '.'.
fn is_org_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
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
    fn with_a_path_the_username_never_names_the_organization() {
        let hosts = [HostEntry {
            scheme: "https".into(),
            host: "ado.example.com".into(),
        }];
        for (host, path) in [
            ("dev.azure.com", "attacker /p/_git/r"),
            ("dev.azure.com", "a:b/p"),
            ("dev.azure.com", "%/p"),
            ("ado.example.com", "attacker /p/_git/r"),
        ] {
            let t =
                recognise(&req("https", host, Some(path), Some("contoso")), &hosts).expect("ours");
            assert_eq!(t.org, None, "{host}/{path}");
            assert_eq!(t.url, t.base, "{host}/{path}");
        }
        // An empty path is no path: the username still names it.
        let t = recognise(
            &req("https", "dev.azure.com", Some(""), Some("contoso")),
            &[],
        )
        .expect("ours");
        assert_eq!(t.org.as_deref(), Some("contoso"));
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
    fn default_collection_goes_only_as_a_whole_segment() {
        for (path, url) in [
            (
                "DefaultCollectionX/p",
                "https://dev.azure.com/contoso/defaultcollectionx/p",
            ),
            ("defaultCOLLECTION/p", "https://dev.azure.com/contoso/p"),
            ("DefaultCollection", "https://dev.azure.com/contoso"),
            (
                "p/DefaultCollection",
                "https://dev.azure.com/contoso/p/defaultcollection",
            ),
        ] {
            let t = recognise(
                &req("https", "contoso.visualstudio.com", Some(path), None),
                &[],
            )
            .expect("ours");
            assert_eq!(t.url, url, "{path}");
            let route = route_url(&format!("https://contoso.visualstudio.com/{path}"));
            assert_eq!(
                route.as_deref(),
                Ok(url),
                "the route rewrite agrees: {path}"
            );
        }
    }

    #[test]
    fn dot_segments_never_name_an_organization() {
        let hosts = [HostEntry {
            scheme: "https".into(),
            host: "ado.example.com".into(),
        }];
        for (host, path) in [
            ("dev.azure.com", "./contoso/p"),
            ("dev.azure.com", "../contoso"),
            ("dev.azure.com", "contoso/../fabrikam/p"),
            ("dev.azure.com", "%2E%2e/contoso"),
            ("dev.azure.com", "contoso/.%2e/x"),
            ("contoso.visualstudio.com", "p/%2e/q"),
            ("ado.example.com", "contoso/../other"),
        ] {
            let t =
                recognise(&req("https", host, Some(path), Some("contoso")), &hosts).expect("ours");
            assert!(t.dot_segments, "{host}/{path}");
            assert_eq!(t.org, None, "{host}/{path}");
            assert_eq!(t.url, t.base, "{host}/{path}");
        }
        for path in ["..contoso/p", "contoso/p.git", "contoso/%2e%2e%2e"] {
            let t = recognise(&req("https", "dev.azure.com", Some(path), None), &[]).expect("ours");
            assert!(!t.dot_segments, "{path}");
        }
    }

    #[test]
    fn route_urls_with_dot_segments_are_refused() {
        for raw in [
            "https://dev.azure.com/contoso/../fabrikam",
            "https://dev.azure.com/./contoso",
            "https://dev.azure.com/contoso/%2E%2E",
            "https://dev.azure.com/contoso/.%2e/x",
            "https://dev.azure.com/contoso/..?x",
            "https://dev.azure.com/contoso\\..\\x",
            "https://dev.azure.com/contoso/.\t./x",
        ] {
            assert!(route_url(raw).is_err(), "{raw}");
        }
        assert_eq!(
            route_url("https://dev.azure.com/Contoso/p.git/").as_deref(),
            Ok("https://dev.azure.com/contoso/p.git")
        );
        assert_eq!(
            route_url("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
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
    fn from_url_follows_the_request_rules() {
        let t = Target::from_url("https://dev.azure.com/Contoso/p/_git/r", &[])
            .expect("parses")
            .expect("ours");
        assert_eq!(t.url, "https://dev.azure.com/contoso/p/_git/r");
        let t = Target::from_url("https://fabrikam.visualstudio.com/DefaultCollection/p", &[])
            .expect("parses")
            .expect("ours");
        assert_eq!(t.org.as_deref(), Some("fabrikam"));
        assert_eq!(
            Target::from_url("https://evil.example?@dev.azure.com/contoso", &[]).expect("parses"),
            None
        );
        assert!(Target::from_url("dev.azure.com/contoso", &[]).is_err());
    }
}
