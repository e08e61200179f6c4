//! The network settings every outbound request uses, as git has them: the
//! proxy, the hosts that bypass it, and the CA certificates to trust.
//!
//! People behind a corporate proxy have already told git how to get out
//! (`http.proxy`, `http.sslCAInfo`, often scoped to a URL), so the helper
//! reads the same settings for the remote git asked about, with git's
//! precedence: git's config over the environment for the proxy (as git
//! sets curl's proxy option, which curl prefers to its variables),
//! `GIT_SSL_CAINFO` / `GIT_SSL_CAPATH` over the config for certificates.
//! Git's config is read by `git config --get-urlmatch http <remote>`, so
//! its URL matching is git's own; this module only interprets the answer.
//!
//! Two deliberate differences from git:
//! - A CA bundle is *added* to the system's roots rather than replacing
//!   them. Git hands the bundle to curl, which then trusts nothing else;
//!   but Microsoft asks that Entra's endpoints be exempt from TLS
//!   inspection, so behind many inspecting proxies dev.azure.com shows the
//!   proxy's certificate while login.microsoftonline.com shows its own.
//!   A bundle holding only the proxy's CA would break exactly those users.
//! - `http.sslVerify=false` is never honoured: a token request whose
//!   server is not verified hands a credential to whoever answers.

use std::net::IpAddr;
use std::path::PathBuf;

use url::Url;

use crate::sys::env::Env;

/// Where a setting came from, for `doctor` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A git config key (`http.proxy`, or its `http.<url>.` form), as git
    /// matched it for the remote.
    Git(String),
    /// An environment variable.
    Env(&'static str),
    /// The operating system's own trust store.
    System,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Git(key) => write!(f, "git config {key}"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::System => f.write_str("the system"),
        }
    }
}

/// A proxy: its URL without credentials, and the credentials apart, so
/// that the URL can be shown and the password never is.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `http://proxy.corp:3128`, never with `user:password@`.
    pub url: Url,
    /// Percent-decoded user name and password, when the URL had them.
    pub credentials: Option<(String, String)>,
    /// Where it was set.
    pub origin: Origin,
}

// Written by hand so that a `{:?}` anywhere cannot print the password.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &self.url.as_str())
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("origin", &self.origin)
            .finish()
    }
}

impl std::fmt::Display for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.as_str().trim_end_matches('/');
        match &self.credentials {
            Some((user, _)) => write!(f, "{url} as user {user} (from {})", self.origin),
            None => write!(f, "{url} (from {})", self.origin),
        }
    }
}

/// A file or directory of CA certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaSource {
    /// The file (`sslCAInfo`) or directory (`sslCAPath`).
    pub path: PathBuf,
    /// Where it was set.
    pub origin: Origin,
}

/// Everything that decides how the helper reaches a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// The proxy for https requests; `None`: connect directly.
    pub proxy: Option<Proxy>,
    /// `NO_PROXY`, as curl reads it.
    pub no_proxy: Option<NoProxy>,
    /// A CA bundle file added to the system's roots.
    pub ca_info: Option<CaSource>,
    /// A directory of CA certificates added to the system's roots.
    pub ca_path: Option<CaSource>,
    /// `http.sslBackend=schannel`: git for Windows trusts the Windows
    /// store; so does the helper on Windows in any case.
    pub schannel: bool,
    /// Where `http.sslVerify=false` (or `GIT_SSL_NO_VERIFY`) was set: not
    /// honoured, only named when a certificate is refused.
    pub verify_off: Option<Origin>,
    /// `SSL_CERT_FILE`: the system's bundle, where OpenSSL would read it.
    pub system_file: Option<PathBuf>,
    /// `SSL_CERT_DIR` is set (and no `SSL_CERT_FILE`): the system's roots
    /// are a directory, read through the platform verifier.
    pub system_dir: bool,
}

/// Why the settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// The proxy is not a URL, or of a kind the helper cannot use.
    Proxy { origin: Origin, problem: String },
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsError::Proxy { origin, problem } => write!(
                f,
                "the proxy set by {origin} {problem}. Fix: set it to http://HOST:PORT (or https://), e.g. `git config --global http.proxy http://proxy.example:3128`"
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

/// The environment variables curl reads for an https URL's proxy, in order.
const PROXY_VARIABLES: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
/// The ones for hosts that bypass it (curl reads the lower-case one first).
const NO_PROXY_VARIABLES: [&str; 2] = ["no_proxy", "NO_PROXY"];

impl Network {
    /// The settings from git's `http.*` entries matched for the remote
    /// (`git config --get-urlmatch http <remote>`: keys without their URL,
    /// lower-cased by git) and the environment.
    pub fn from_sources(git: &[(String, String)], env: &Env) -> Result<Network, SettingsError> {
        let git_value = |name: &str| {
            git.iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(&format!("http.{name}")))
                .map(|(k, v)| (v.as_str(), Origin::Git(k.clone())))
        };
        let env_value = |name: &'static str| {
            env.get(name)
                .filter(|v| !v.is_empty())
                .map(|v| (v, Origin::Env(name)))
        };
        let proxy = match git_value("proxy") {
            // Git passes even an empty value to curl, which then uses no proxy.
            Some((value, origin)) => parse_proxy(value, origin)?,
            None => match PROXY_VARIABLES.into_iter().find_map(env_value) {
                Some((value, origin)) => parse_proxy(value, origin)?,
                None => None,
            },
        };
        let no_proxy = NO_PROXY_VARIABLES
            .into_iter()
            .find_map(|name| env.get(name).map(|v| (v, name)))
            .map(|(list, name)| NoProxy::parse(list, Origin::Env(name)));
        let ca = |variable: &'static str, key: &str| {
            env_value(variable)
                .map(|(v, o)| (v.to_string(), o))
                .or_else(|| git_value(key).map(|(v, o)| (v.to_string(), o)))
                .filter(|(v, _)| !v.is_empty())
                .map(|(v, origin)| CaSource {
                    path: PathBuf::from(v),
                    origin,
                })
        };
        let verify_off = env_value("GIT_SSL_NO_VERIFY").map(|(_, o)| o).or_else(|| {
            git_value("sslverify")
                .filter(|(v, _)| is_false(v))
                .map(|(_, o)| o)
        });
        Ok(Network {
            proxy,
            no_proxy,
            ca_info: ca("GIT_SSL_CAINFO", "sslcainfo"),
            ca_path: ca("GIT_SSL_CAPATH", "sslcapath"),
            schannel: git_value("sslbackend")
                .is_some_and(|(v, _)| v.eq_ignore_ascii_case("schannel")),
            verify_off,
            system_file: env_value("SSL_CERT_FILE").map(|(v, _)| PathBuf::from(v)),
            system_dir: env_value("SSL_CERT_DIR").is_some(),
        })
    }

    /// One line for a trace or `doctor`: the proxy (never its password),
    /// the hosts that bypass it, the CA certificates added, and where each
    /// came from.
    pub fn summary(&self) -> String {
        let mut parts = vec![match &self.proxy {
            Some(proxy) => format!("proxy {proxy}"),
            None => "no proxy".to_string(),
        }];
        if let Some(n) = &self.no_proxy {
            parts.push(format!("{} bypass it (from {})", n.list, n.origin));
        }
        parts.push(format!("trusting {}", self.roots_summary()));
        if let Some(origin) = &self.verify_off {
            parts.push(format!(
                "certificates verified although {origin} turns verification off for git"
            ));
        }
        parts.join("; ")
    }

    /// The CA certificates trusted, and where git's came from.
    pub fn roots_summary(&self) -> String {
        let mut text = if self.schannel {
            "the system's CA certificates (the Windows store, as http.sslBackend=schannel asks)"
        } else {
            "the system's CA certificates"
        }
        .to_string();
        for ca in [&self.ca_info, &self.ca_path].into_iter().flatten() {
            text.push_str(&format!(" and {} (from {})", ca.path.display(), ca.origin));
        }
        text
    }

    /// The proxy to use for `url`, if any: none for plain http (only ever
    /// to loopback, where the test servers and the identity endpoints are)
    /// and none for a host `NO_PROXY` names.
    pub fn proxy_for(&self, url: &Url) -> Option<&Proxy> {
        if url.scheme() != "https" {
            return None;
        }
        let host = url.host_str()?;
        if self.no_proxy.as_ref().is_some_and(|n| n.matches(host)) {
            return None;
        }
        self.proxy.as_ref()
    }
}

/// Git's boolean false (`http.sslVerify=false`).
fn is_false(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "false" | "no" | "off" | "0"
    )
}

/// A proxy setting as curl reads it: `[scheme://][user[:password]@]host[:port]`,
/// http when no scheme is given, port 1080 when none is (curl's default).
fn parse_proxy(value: &str, origin: Origin) -> Result<Option<Proxy>, SettingsError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let problem = |problem: &str| SettingsError::Proxy {
        origin: origin.clone(),
        problem: problem.to_string(),
    };
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|_| problem("is not a URL"))?;
    let default_port = match url.scheme() {
        "http" => 1080,
        "https" => 443,
        "socks4" | "socks4a" | "socks5" | "socks5h" => {
            return Err(problem(
                "is a SOCKS proxy, which this helper does not support",
            ));
        }
        _ => return Err(problem("has a scheme other than http:// or https://")),
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(problem("names no host"));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = (!url.username().is_empty())
        .then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
    // Setting these cannot fail on an http(s) URL with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if !has_explicit_port(value) {
        let _ = url.set_port(Some(default_port));
    }
    url.set_path("");
    url.set_query(None);
    url.set_fragment(None);
    Ok(Some(Proxy {
        url,
        credentials,
        origin,
    }))
}

/// Whether `value` (a proxy as written) names a port after its host.
fn has_explicit_port(value: &str) -> bool {
    let rest = value.split_once("://").map_or(value, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((host, port)) => {
            !host.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty()
        }
        None => false,
    }
}

/// `NO_PROXY` as curl reads it: comma-separated names, each matching the
/// host itself and its subdomains (a leading dot is the same), IP
/// addresses and CIDR ranges matching literal addresses, `*` alone
/// matching everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoProxy {
    /// The list as written.
    pub list: String,
    /// Where it was set.
    pub origin: Origin,
}

impl NoProxy {
    fn parse(list: &str, origin: Origin) -> NoProxy {
        NoProxy {
            list: list.to_string(),
            origin,
        }
    }

    /// Whether `host` (a URL's host: a name, an IPv4 address, or an IPv6
    /// one in brackets) bypasses the proxy.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.list
            .split([',', ' ', '\t'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .any(|entry| {
                if entry == "*" {
                    return true;
                }
                if let Some(ip) = ip {
                    return ip_matches(ip, entry);
                }
                let entry = entry.trim_start_matches('.').trim_end_matches('.');
                let entry = entry.to_ascii_lowercase();
                host == entry || host.ends_with(&format!(".{entry}"))
            })
    }
}

/// `entry` (an address, an address in brackets or a CIDR range) holds `ip`.
fn ip_matches(ip: IpAddr, entry: &str) -> bool {
    let entry = entry.trim_start_matches('[').trim_end_matches(']');
    let (address, bits) = match entry.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(b) => (a, Some(b)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(network) = address.parse::<IpAddr>() else {
        return false;
    };
    match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            prefix_equal(&a.octets(), &n.octets(), bits.unwrap_or(32))
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            prefix_equal(&a.octets(), &n.octets(), bits.unwrap_or(128))
        }
        _ => false,
    }
}

fn prefix_equal(a: &[u8], b: &[u8], bits: u32) -> bool {
    let bits = (bits as usize).min(a.len() * 8);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

#[cfg(test)]
mod tests;
