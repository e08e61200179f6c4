//! `url=` input against real git: for hostile URLs, the request the helper
//! derives (and whether it answers) must be exactly what git derives when it
//! parses the same URL and calls a helper.

use std::collections::BTreeMap;

use crate::support::world::World;

/// What the helper must do with a `url=` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A token: the URL names the test organization on the test host.
    Token,
    /// Not ours: nothing on stdout, exit 0.
    Nothing,
    /// Ours, but it cannot be served: `quit=1`.
    Quit,
    /// Git cannot parse it (or gets bytes that are not text): exit 1, no answer.
    Refused,
}

/// What git passed to a helper for `input`, or `None` when git refused the URL.
/// A helper configured as a shell snippet records git's request to a file.
fn what_git_sends(w: &World, input: &str) -> Option<Vec<u8>> {
    let seen = w.env.path().join("seen-by-helper");
    let _ = std::fs::remove_file(&seen);
    let recorder = format!("!f() {{ cat > '{}'; }}; f", seen.display());
    let out = w.env.run(
        w.env.git("git").args([
            "-c",
            "credential.helper=",
            "-c",
            &format!("credential.helper={recorder}"),
            "-c",
            "credential.useHttpPath=true",
            "credential",
            "fill",
        ]),
        input.as_bytes(),
    );
    match std::fs::read(&seen) {
        Ok(bytes) => Some(bytes),
        // With user and password in the URL git asks no helper, and prints
        // the credential it parsed.
        Err(_) if out.status.success() => Some(out.stdout.into_bytes()),
        Err(_) => None,
    }
}

/// `key="value"` for the attributes that locate a request, as the trace prints them.
fn locator(sent: &str) -> String {
    let attrs: BTreeMap<&str, &str> = sent.lines().filter_map(|l| l.split_once('=')).collect();
    ["protocol", "host", "path", "username"]
        .iter()
        .filter_map(|k| Some(format!("{k}={:?}", attrs.get(k)?)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn url_attribute_names_the_host_git_names() {
    let w = World::new();
    let host = w.ado.host();
    let table: Vec<(&str, String, Expect)> = vec![
        (
            "",
            format!("http://{host}/contoso/proj/_git/repo"),
            Expect::Token,
        ),
        (
            "",
            format!("http://evil.example?@{host}/contoso"),
            Expect::Nothing,
        ),
        (
            "",
            format!("http://evil.example#@{host}/contoso"),
            Expect::Nothing,
        ),
        ("", format!("http://a@b@{host}/contoso"), Expect::Nothing),
        (
            "",
            format!("http://{host}%2f@evil.example/contoso"),
            Expect::Nothing,
        ),
        (
            "",
            format!("http://evil.example%2f@{host}/contoso"),
            Expect::Token,
        ),
        (
            "",
            format!("http://%63ontoso@{host}/%63ontoso/proj"),
            Expect::Token,
        ),
        (
            "",
            format!("http://{}/contoso", host.replace(':', "%3a")),
            Expect::Token,
        ),
        (
            "",
            format!("http://{host}?@evil.example/contoso"),
            Expect::Quit,
        ),
        ("", format!("http://{host}/contoso%0a"), Expect::Refused),
        ("", format!("{host}/contoso"), Expect::Refused),
        ("", format!("http://{host}/contoso/%ff"), Expect::Refused),
        ("", format!("http://ann:pw@{host}/contoso"), Expect::Token),
        // git's url= starts a new request: the capability is forgotten, so
        // the answer is the Basic form.
        (
            "capability[]=authtype\n",
            format!("http://{host}/contoso"),
            Expect::Token,
        ),
        (
            "",
            "https://evil.example?@dev.azure.com/contoso".into(),
            Expect::Nothing,
        ),
        (
            "",
            "https://evil.example#@dev.azure.com/x".into(),
            Expect::Nothing,
        ),
        ("", "https://a@b@dev.azure.com/c".into(), Expect::Nothing),
        ("", "https://dev.azure.com%2f@evil/".into(), Expect::Nothing),
    ];
    for (prefix, url, expect) in table {
        let input = format!("{prefix}url={url}\n");
        let ours = w.helper(&["get", "-vv"], &input);
        let got = match (ours.status.code(), ours.stdout.as_str()) {
            (Some(1), "") => Expect::Refused,
            (Some(0), "") => Expect::Nothing,
            (Some(1), "quit=1\n") => Expect::Quit,
            (Some(0), out) if out.contains("password=") => Expect::Token,
            _ => panic!(
                "{url}: unexpected answer {:?}\n{}",
                ours.status, ours.stderr
            ),
        };
        assert_eq!(got, expect, "{url}\n{}", ours.stderr);

        let sent = what_git_sends(&w, &input);
        let Some(sent) = sent.and_then(|s| String::from_utf8(s).ok()) else {
            assert_eq!(got, Expect::Refused, "git refused {url} or sent non-text");
            continue;
        };
        assert_ne!(got, Expect::Refused, "git accepted {url}: {sent}");
        let expected = format!("request: {}\n", locator(&sent));
        assert!(
            ours.stderr.contains(&expected),
            "{url}: git sent\n{sent}\nwe traced\n{}",
            ours.stderr
        );
        // Git's own request gets the same answer as the url= line.
        let from_git = w.helper(&["get"], &sent);
        assert_eq!(from_git.stdout, ours.stdout, "{url}: {sent}");
    }
}
