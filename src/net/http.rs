//! The one place that builds HTTP clients: timeouts, proxy rules, user agent.
//!
//! Built only on a cache miss: constructing a client (TLS roots, a runtime
//! thread) costs milliseconds that a cached `get` must not pay.

use std::time::Duration;

use reqwest::blocking::{Client, ClientBuilder};
use url::{Host, Url};

use crate::net;

/// Connect timeout for every request to Entra.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect timeout for a managed-identity endpoint: it is on this machine or
/// its host, so a slow connect means there is none (not a VM, no agent).
pub const MANAGED_IDENTITY_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why no HTTP client could be built.
#[derive(Debug)]
pub enum HttpSetupError {
    /// The TLS or client setup failed.
    Build(reqwest::Error),
    /// A managed-identity URL that is not on this machine or its host.
    NotManagedIdentityEndpoint { url: String },
}

impl std::fmt::Display for HttpSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpSetupError::Build(e) => write!(f, "cannot set up HTTPS: {e}"),
            HttpSetupError::NotManagedIdentityEndpoint { url } => write!(
                f,
                "{url} is not a managed-identity endpoint: it must be http(s) to a link-local (169.254.x.x) or loopback address"
            ),
        }
    }
}

impl std::error::Error for HttpSetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpSetupError::Build(e) => Some(e),
            HttpSetupError::NotManagedIdentityEndpoint { .. } => None,
        }
    }
}

/// What every client shares. Nothing follows redirects: a token request must
/// not be replayed elsewhere.
fn builder(connect_timeout: Duration) -> ClientBuilder {
    // Several installs in one process are harmless: only the first wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("git-credential-entra/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
}

/// A client for the Entra authority at `url`: https only, through the
/// environment's proxy — except a loopback host, which bypasses any proxy.
pub fn entra_client(url: &str) -> Result<Client, HttpSetupError> {
    let loopback = Url::parse(url).is_ok_and(|u| net::is_loopback_host(&net::authority(&u)));
    let mut builder = builder(CONNECT_TIMEOUT);
    if loopback {
        builder = builder.no_proxy();
    } else {
        builder = builder.https_only(true);
    }
    builder.build().map_err(HttpSetupError::Build)
}

/// A client for the managed-identity endpoint `url`, refused unless
/// [`managed_identity_endpoint_ok`]: never through a proxy (a proxy would see
/// the token, and could answer for an endpoint that is not there).
pub fn managed_identity_client(url: &str) -> Result<Client, HttpSetupError> {
    if !managed_identity_endpoint_ok(url) {
        return Err(HttpSetupError::NotManagedIdentityEndpoint {
            url: url.to_string(),
        });
    }
    builder(MANAGED_IDENTITY_CONNECT_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(HttpSetupError::Build)
}

/// Managed-identity endpoints live on the host (IMDS at 169.254.169.254) or
/// on this machine (App Service, Arc, Cloud Shell on loopback), where plain
/// http cannot be read by anyone else. Anything else would send a request
/// that a managed-identity token answers to a host that could keep it.
pub fn managed_identity_endpoint_ok(url: &str) -> bool {
    let Ok(u) = Url::parse(url) else {
        return false;
    };
    if !matches!(u.scheme(), "http" | "https") || !u.username().is_empty() || u.password().is_some()
    {
        return false;
    }
    match u.host() {
        Some(Host::Ipv4(ip)) => ip.is_link_local() || ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The one way sources get HTTP clients: built only when a source asks,
/// with the rules of `net::http` (timeouts, proxies, no redirects).
#[derive(Debug, Clone, Copy, Default)]
pub struct Http;

impl Http {
    /// A client for Entra's token endpoint at `url`.
    pub fn entra(&self, url: &str) -> Result<Client, HttpSetupError> {
        entra_client(url)
    }

    /// A client for the managed-identity endpoint at `url` (no proxy, short
    /// connect timeout, link-local or loopback addresses only).
    pub fn managed_identity(&self, url: &str) -> Result<Client, HttpSetupError> {
        managed_identity_client(url)
    }

    /// A client for a CI platform's OIDC endpoint at `url` (GitHub Actions,
    /// Azure Pipelines): the same rules as for Entra — https (plain http
    /// only to loopback), the environment's proxy, no redirects (the request
    /// carries the job's token, which must not be replayed elsewhere).
    pub fn oidc(&self, url: &str) -> Result<Client, HttpSetupError> {
        entra_client(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_identity_endpoints_are_link_local_or_loopback_only() {
        for ok in [
            "http://169.254.169.254/metadata/identity/oauth2/token",
            "http://169.254.0.1:80/x",
            "http://127.0.0.1:41741/msi/token",
            "http://localhost:40342/metadata/identity/oauth2/token",
            "http://[::1]:50342/oauth2/token",
            "https://127.0.0.1:2377/metadata/identity/oauth2/token",
        ] {
            assert!(managed_identity_endpoint_ok(ok), "{ok}");
            assert!(managed_identity_client(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.255.169.254/metadata",
            "http://10.0.0.4/metadata",
            "http://metadata.example/token",
            "https://login.microsoftonline.com/t",
            "http://localhost.example/x",
            "http://169.254.169.254.example/x",
            "http://user:pass@169.254.169.254/x",
            "ftp://169.254.169.254/x",
            "file:///etc/passwd",
            "http://[fe80::1]/x",
            "not a url",
            "",
        ] {
            assert!(!managed_identity_endpoint_ok(bad), "{bad}");
            let refused = managed_identity_client(bad).expect_err(bad);
            assert!(
                matches!(refused, HttpSetupError::NotManagedIdentityEndpoint { .. })
                    && refused.to_string().contains("link-local"),
                "{refused}"
            );
        }
    }
}
