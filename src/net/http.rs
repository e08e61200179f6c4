//! The one place that builds HTTP clients: timeouts, proxy rules, roots,
//! user agent.
//!
//! Nothing here runs on a cached `get`: the network settings (which start
//! `git config`) are read, and each client is built (roots parsed, a
//! runtime thread started), only when the first request is about to be
//! made, and once per invocation. Entra, the CI platforms' OIDC endpoints,
//! Key Vault and Azure DevOps share one client; the managed-identity endpoints, on
//! this machine or its host, get their own, which never uses a proxy.

use std::cell::OnceCell;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::blocking::{Client, ClientBuilder};
use url::{Host, Url};

use crate::net;
use crate::net::roots::{self, Roots, RootsError};
use crate::net::settings::{Network, SettingsError};
use crate::sys::env::Env;
use crate::sys::trace::Trace;

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
    /// A URL that is neither https nor plain http to loopback.
    NotHttps { url: String },
    /// git's (or the environment's) proxy setting cannot be used.
    Settings(SettingsError),
    /// A CA bundle or directory git names cannot be used.
    Roots(RootsError),
}

impl std::fmt::Display for HttpSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpSetupError::Build(e) => write!(f, "cannot set up HTTPS: {e}"),
            HttpSetupError::NotManagedIdentityEndpoint { url } => write!(
                f,
                "{url} is not a managed-identity endpoint: it must be http(s) to a link-local (169.254.x.x) or loopback address"
            ),
            HttpSetupError::NotHttps { url } => write!(
                f,
                "{url} is not an https URL (plain http is allowed to loopback addresses only). Fix: use https://"
            ),
            HttpSetupError::Settings(e) => e.fmt(f),
            HttpSetupError::Roots(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for HttpSetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpSetupError::Build(e) => Some(e),
            _ => None,
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

/// The client for Entra, OIDC endpoints and Azure DevOps under `network`:
/// its proxy (per URL: `NO_PROXY` and plain http to loopback go direct),
/// the system's roots plus git's.
pub fn outbound_client(network: &Network) -> Result<Client, HttpSetupError> {
    let roots = roots::load(network).map_err(HttpSetupError::Roots)?;
    let mut builder = trusting(builder(CONNECT_TIMEOUT), roots);
    let _ = IN_USE.set(InUse {
        proxy: network.proxy.as_ref().map(ToString::to_string),
        roots: network.roots_summary(),
    });
    builder = match &network.proxy {
        None => builder.no_proxy(),
        Some(proxy) => {
            let rules = network.clone();
            let mut custom =
                reqwest::Proxy::custom(move |url| rules.proxy_for(url).map(|p| p.url.clone()));
            if let Some((user, password)) = &proxy.credentials {
                custom = custom.basic_auth(user, password);
            }
            builder.proxy(custom)
        }
    };
    builder.build().map_err(HttpSetupError::Build)
}

/// What this process's outbound client uses, as shown to people (never a
/// password), for messages about what a proxy or server answered: one
/// invocation serves one remote, so there is one client.
struct InUse {
    proxy: Option<String>,
    roots: String,
}

static IN_USE: OnceLock<InUse> = OnceLock::new();

/// The proxy in use (`http://proxy:3128 (from git config http.proxy)`).
pub fn proxy_in_use() -> Option<&'static str> {
    IN_USE.get().and_then(|u| u.proxy.as_deref())
}

/// The CA certificates trusted, and where git's came from.
pub fn roots_in_use() -> Option<&'static str> {
    IN_USE.get().map(|u| u.roots.as_str())
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
    // Nearly every endpoint is plain http on this machine or its host:
    // loading the system's roots for them would only cost time.
    let roots = if url.starts_with("https:") {
        roots::load(&Network::default()).map_err(HttpSetupError::Roots)?
    } else {
        Roots::Only(Vec::new())
    };
    trusting(builder(MANAGED_IDENTITY_CONNECT_TIMEOUT), roots)
        .no_proxy()
        .build()
        .map_err(HttpSetupError::Build)
}

/// `builder` trusting `roots`.
fn trusting(builder: ClientBuilder, roots: Roots) -> ClientBuilder {
    match roots {
        Roots::Only(certs) => builder.tls_certs_only(certs),
        Roots::System(extra) => builder.tls_certs_merge(extra),
    }
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

/// git's `http.*` settings for the remote, as `(key, value)` pairs; read
/// only when a client is first needed.
pub type GitSettings<'a> = Box<dyn Fn() -> Vec<(String, String)> + 'a>;

/// The one way sources get HTTP clients: built on first use, once, with the
/// rules of `net::http` (timeouts, proxies, roots, no redirects).
pub struct Http<'a> {
    env: &'a Env,
    trace: &'a Trace,
    git: GitSettings<'a>,
    network: OnceCell<Network>,
    outbound: OnceCell<Client>,
    local: OnceCell<Client>,
}

impl<'a> Http<'a> {
    /// Clients under the environment and git's settings (read by `git`
    /// when first needed).
    pub fn new(env: &'a Env, trace: &'a Trace, git: GitSettings<'a>) -> Http<'a> {
        Http {
            env,
            trace,
            git,
            network: OnceCell::new(),
            outbound: OnceCell::new(),
            local: OnceCell::new(),
        }
    }

    /// The network settings in effect (read now if not yet).
    pub fn network(&self) -> Result<&Network, HttpSetupError> {
        if let Some(network) = self.network.get() {
            return Ok(network);
        }
        let started = std::time::Instant::now();
        let git = (self.git)();
        let network = Network::from_sources(&git, self.env).map_err(HttpSetupError::Settings)?;
        self.trace.decision(format_args!(
            "network: {} (git's settings read in {} us)",
            network.summary(),
            started.elapsed().as_micros()
        ));
        Ok(self.network.get_or_init(|| network))
    }

    /// A client for Entra's token endpoint at `url`.
    pub fn entra(&self, url: &str) -> Result<Client, HttpSetupError> {
        self.outbound(url)
    }

    /// A client for a CI platform's OIDC endpoint at `url` (GitHub Actions,
    /// Azure Pipelines): the same rules as for Entra — https (plain http
    /// only to loopback), git's proxy, no redirects (the request carries
    /// the job's token, which must not be replayed elsewhere).
    pub fn oidc(&self, url: &str) -> Result<Client, HttpSetupError> {
        self.outbound(url)
    }

    /// A client for Key Vault at `url` (a certificate kept there): the same
    /// rules as for Entra, since git's proxy and CAs are the way out.
    pub fn key_vault(&self, url: &str) -> Result<Client, HttpSetupError> {
        self.outbound(url)
    }

    /// A client for Azure DevOps at `url` (tenant discovery, `doctor`).
    pub fn azure_devops(&self, url: &str) -> Result<Client, HttpSetupError> {
        self.outbound(url)
    }

    fn outbound(&self, url: &str) -> Result<Client, HttpSetupError> {
        if !Url::parse(url).is_ok_and(|u| net::https_or_loopback(&u)) {
            return Err(HttpSetupError::NotHttps {
                url: url.to_string(),
            });
        }
        if let Some(client) = self.outbound.get() {
            return Ok(client.clone());
        }
        let network = self.network()?;
        let client = self.timed("HTTP client", || outbound_client(network))?;
        Ok(self.outbound.get_or_init(|| client).clone())
    }

    /// A client for the managed-identity endpoint at `url` (no proxy, short
    /// connect timeout, link-local or loopback addresses only).
    pub fn managed_identity(&self, url: &str) -> Result<Client, HttpSetupError> {
        if let Some(client) = self.local.get()
            && managed_identity_endpoint_ok(url)
        {
            return Ok(client.clone());
        }
        let client = self.timed("managed-identity HTTP client", || {
            managed_identity_client(url)
        })?;
        Ok(self.local.get_or_init(|| client).clone())
    }

    /// `build()`, its time in the trace (the benchmark report reads it).
    fn timed(
        &self,
        what: &str,
        build: impl FnOnce() -> Result<Client, HttpSetupError>,
    ) -> Result<Client, HttpSetupError> {
        let started = std::time::Instant::now();
        let client = build()?;
        self.trace.detail(format_args!(
            "network: {what} built in {} us",
            started.elapsed().as_micros()
        ));
        Ok(client)
    }
}

/// Clients under the environment's settings only (none here): for the
/// unit tests of modules that make requests.
#[cfg(test)]
pub fn direct() -> Http<'static> {
    let env: &'static Env = Box::leak(Box::new(Env::default()));
    let trace: &'static Trace = Box::leak(Box::new(Trace::off()));
    Http::new(env, trace, Box::new(Vec::new))
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
