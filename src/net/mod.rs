//! URL rules that routing, config validation and HTTP share: a URL's
//! `host[:port]` as git writes it, what counts as loopback, and "https, or
//! plain http to a loopback address only"; HTTP clients (`http`), the
//! network settings they follow as git has them (`settings`) and the CA
//! certificates they trust (`roots`), the reading of their answers
//! (`answer`) and retries (`retry`).

pub(crate) mod answer;
pub mod http;
pub mod retry;
pub mod roots;
pub mod settings;

use url::Url;

/// `host[:port]`, lower-cased, as git sends `host=` (the port only when the
/// URL names a non-default one).
pub fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// `https://` with a host, or `http://` to a loopback address (local test
/// servers, managed-identity endpoints): plain http anywhere else would
/// carry a token or secret in the clear.
pub fn https_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => is_loopback_host(&authority(url)),
        _ => false,
    }
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

    #[test]
    fn https_or_loopback_only() {
        for ok in [
            "https://a.example",
            "http://127.0.0.1:8080/x",
            "http://[::1]/",
            "http://localhost",
        ] {
            assert!(https_or_loopback(&Url::parse(ok).expect("url")), "{ok}");
        }
        for bad in ["http://a.example", "ftp://127.0.0.1", "http://10.0.0.1"] {
            assert!(!https_or_loopback(&Url::parse(bad).expect("url")), "{bad}");
        }
        let u = Url::parse("https://Dev.Azure.com:8443/x").expect("url");
        assert_eq!(authority(&u), "dev.azure.com:8443");
        assert_eq!(
            authority(&Url::parse("https://dev.azure.com:443/").expect("url")),
            "dev.azure.com"
        );
    }
}
