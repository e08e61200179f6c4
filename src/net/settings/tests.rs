use super::*;

fn git(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn network(git_pairs: &[(&str, &str)], env: &[(&str, &str)]) -> Network {
    Network::from_sources(&git(git_pairs), &Env::from_pairs(env.iter().copied()))
        .expect("valid settings")
}

#[test]
fn git_config_proxy_wins_over_the_environment_as_in_git() {
    let n = network(
        &[("http.proxy", "http://git.proxy:3128")],
        &[("HTTPS_PROXY", "http://env.proxy:8080")],
    );
    let proxy = n.proxy.expect("a proxy");
    assert_eq!(proxy.url.as_str(), "http://git.proxy:3128/");
    assert_eq!(proxy.origin, Origin::Git("http.proxy".into()));

    let n = network(&[], &[("HTTPS_PROXY", "http://env.proxy:8080")]);
    assert_eq!(n.proxy.expect("a proxy").origin, Origin::Env("HTTPS_PROXY"));
    // curl reads the lower-case variable first, then ALL_PROXY.
    let n = network(
        &[],
        &[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ],
    );
    assert_eq!(n.proxy.expect("a proxy").url.as_str(), "http://lower:1/");
    let n = network(&[], &[("ALL_PROXY", "http://all:3")]);
    assert_eq!(n.proxy.expect("a proxy").url.as_str(), "http://all:3/");
    // An empty http.proxy is git's way to say "no proxy", over the environment.
    let n = network(&[("http.proxy", "")], &[("HTTPS_PROXY", "http://env:1")]);
    assert!(n.proxy.is_none());
    assert!(network(&[], &[]).proxy.is_none());
}

#[test]
fn proxies_are_read_as_curl_reads_them_and_never_show_their_password() {
    let n = network(&[("http.proxy", "proxy.corp")], &[]);
    assert_eq!(
        n.proxy.expect("a proxy").url.as_str(),
        "http://proxy.corp:1080/"
    );
    let n = network(&[("http.proxy", "http://proxy.corp:80")], &[]);
    assert_eq!(n.proxy.expect("a proxy").url.as_str(), "http://proxy.corp/");
    let n = network(&[("http.proxy", "https://proxy.corp")], &[]);
    assert_eq!(
        n.proxy.expect("a proxy").url.as_str(),
        "https://proxy.corp/"
    );
    let n = network(
        &[(
            "http.proxy",
            "http://dom%5Cjo:p%40ss%3Aw0rd@proxy.corp:3128/ignored",
        )],
        &[],
    );
    let proxy = n.proxy.expect("a proxy");
    assert_eq!(proxy.url.as_str(), "http://proxy.corp:3128/");
    assert_eq!(
        proxy.credentials,
        Some(("dom\\jo".to_string(), "p@ss:w0rd".to_string()))
    );
    for shown in [format!("{proxy}"), format!("{proxy:?}")] {
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        assert!(
            shown.contains("proxy.corp:3128") && shown.contains("jo"),
            "{shown}"
        );
    }
    for bad in [
        "socks5://proxy:1080",
        "ftp://proxy",
        "http://",
        "http://[::1",
    ] {
        let e = Network::from_sources(&git(&[("http.proxy", bad)]), &Env::from_pairs([]))
            .expect_err(bad);
        let text = e.to_string();
        assert!(
            text.contains("git config http.proxy") && text.contains("Fix:"),
            "{text}"
        );
    }
}

#[test]
fn certificates_come_from_git_variables_first_then_its_config() {
    let n = network(
        &[
            ("http.sslcainfo", "/git/ca.pem"),
            ("http.sslcapath", "/git/dir"),
        ],
        &[],
    );
    let info = n.ca_info.expect("a bundle");
    assert_eq!(info.path, PathBuf::from("/git/ca.pem"));
    assert_eq!(info.origin, Origin::Git("http.sslcainfo".into()));
    assert_eq!(n.ca_path.expect("a dir").path, PathBuf::from("/git/dir"));
    let n = network(
        &[("http.sslcainfo", "/git/ca.pem")],
        &[
            ("GIT_SSL_CAINFO", "/env/ca.pem"),
            ("GIT_SSL_CAPATH", "/env/dir"),
        ],
    );
    assert_eq!(
        n.ca_info.expect("a bundle"),
        CaSource {
            path: "/env/ca.pem".into(),
            origin: Origin::Env("GIT_SSL_CAINFO")
        }
    );
    assert_eq!(
        n.ca_path.expect("a dir").origin,
        Origin::Env("GIT_SSL_CAPATH")
    );
    assert!(network(&[("http.sslcainfo", "")], &[]).ca_info.is_none());
}

#[test]
fn verification_off_and_the_windows_store_are_noted() {
    let n = network(
        &[("http.sslverify", "false"), ("http.sslbackend", "schannel")],
        &[],
    );
    assert_eq!(n.verify_off, Some(Origin::Git("http.sslverify".into())));
    assert!(n.schannel);
    assert!(
        network(&[("http.sslverify", "true")], &[])
            .verify_off
            .is_none()
    );
    let n = network(&[], &[("GIT_SSL_NO_VERIFY", "1")]);
    assert_eq!(n.verify_off, Some(Origin::Env("GIT_SSL_NO_VERIFY")));
}

#[test]
fn no_proxy_matches_as_curl_does() {
    let n = network(
        &[("http.proxy", "http://p:1")],
        &[(
            "NO_PROXY",
            "corp.example, .internal,10.0.0.0/8 ,::1,192.168.1.7",
        )],
    );
    let proxied = |url: &str| n.proxy_for(&Url::parse(url).expect("url")).is_some();
    for direct in [
        "https://corp.example/x",
        "https://git.corp.example/x",
        "https://a.b.internal/",
        "https://10.1.2.3/",
        "https://[::1]:8443/",
        "https://192.168.1.7/",
        "https://CORP.EXAMPLE./",
    ] {
        assert!(!proxied(direct), "{direct}");
    }
    for via in [
        "https://login.microsoftonline.com/",
        "https://notcorp.example/",
        "https://corp.example.org/",
        "https://11.0.0.1/",
        "https://192.168.1.8/",
    ] {
        assert!(proxied(via), "{via}");
    }
    // Plain http is only ever to loopback: never through a proxy.
    assert!(!proxied("http://127.0.0.1:8080/"));
    let all = network(&[("http.proxy", "http://p:1")], &[("no_proxy", "*")]);
    assert!(
        all.proxy_for(&Url::parse("https://a.example/").expect("url"))
            .is_none()
    );
    // The lower-case variable is read first, as curl does.
    let lower = network(
        &[("http.proxy", "http://p:1")],
        &[("no_proxy", "a.example"), ("NO_PROXY", "b.example")],
    );
    assert_eq!(
        lower.no_proxy.expect("a list").origin,
        Origin::Env("no_proxy")
    );
}
