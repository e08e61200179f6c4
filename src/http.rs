//! The one place that builds HTTP clients: timeouts, proxy rules, user agent.
//!
//! Built only on a cache miss: constructing a client (TLS roots, a runtime
//! thread) costs milliseconds that a cached `get` must not pay.

use std::time::Duration;

use reqwest::blocking::Client;

use crate::net;

/// Connect timeout for every request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for `url`'s host: loopback hosts bypass any proxy; nothing
/// follows redirects (a token request must not be replayed elsewhere).
pub fn client_for(url: &str) -> Result<Client, String> {
    // Several installs in one process are harmless: only the first wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let loopback = url::Url::parse(url).is_ok_and(|u| net::is_loopback_host(&net::authority(&u)));
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
