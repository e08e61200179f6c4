//! The one place that builds HTTP clients: timeouts, proxy rules, user agent.
//!
//! Built only on a cache miss: constructing a client (TLS roots, a runtime
//! thread) costs milliseconds that a cached `get` must not pay.

use std::time::Duration;

use reqwest::blocking::Client;

use crate::azure_devops::is_loopback_host;

/// Connect timeout for every request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for `url`'s host: loopback hosts bypass any proxy; nothing
/// follows redirects (a token request must not be replayed elsewhere).
pub fn client_for(url: &str) -> Result<Client, String> {
    // Several installs in one process are harmless: only the first wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let host = url::Url::parse(url).ok().and_then(|u| {
        let h = u.host_str()?.to_string();
        Some(match u.port() {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
    });
    let loopback = host.as_deref().is_some_and(is_loopback_host);
    let mut builder = Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("git-credential-entra/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if loopback {
        builder = builder.no_proxy();
    } else {
        builder = builder.https_only(true);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up HTTPS: {e}"))
}
