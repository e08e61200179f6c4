//! Which identity a request goes to, and what the helper says when the
//! request cannot tell: paths with `.`/`..` segments, no organization.

use crate::support::world::{NEW_GIT, World, field};

#[test]
fn dot_segments_never_pick_a_route() {
    let w = World::new();
    let host = w.ado.host();
    for path in [
        "contoso/../other/_git/repo",
        "./contoso/proj/_git/repo",
        "other/%2e%2E/contoso/proj/_git/repo",
    ] {
        let out = w.helper(
            &["get"],
            &format!("protocol=http\nhost={host}\nusername=contoso\npath={path}\n"),
        );
        assert_eq!(out.status.code(), Some(1), "{path}: {}", out.stderr);
        assert_eq!(out.stdout, "quit=1\n", "{path}");
        assert!(
            out.stderr.contains("'.' or '..' segment")
                && out.stderr.contains(&format!(
                    "git remote set-url origin {}/ORG/PROJECT/_git/REPO",
                    w.ado.base_url()
                )),
            "{path}: {}",
            out.stderr
        );
    }
    assert_eq!(w.token_requests(), 0);

    // Naming the identity makes the path irrelevant.
    let out = w.helper(
        &["get", "--identity", "ci"],
        &format!("protocol=http\nhost={host}\npath=contoso/../other\n"),
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert!(field(&out.stdout, "password").is_some());
}

#[test]
fn a_route_with_dot_segments_is_a_config_error() {
    let w = World::new();
    w.env.write_config(&format!(
        r#"{{ "hosts": ["{base}"], "routes": [ {{ "url": "{base}/other/../contoso", "identity": "auto" }} ] }}"#,
        base = w.ado.base_url()
    ));
    let out = w.helper(&["get"], &w.request());
    assert_eq!(out.stdout, "", "the host list is in the broken file");
    assert!(
        out.stderr.contains("routes[0].url") && out.stderr.contains("'..' segment"),
        "{}",
        out.stderr
    );
    let out = w.helper(
        &["get"],
        "protocol=https\nhost=dev.azure.com\npath=contoso\n",
    );
    assert_eq!(out.stdout, "quit=1\n", "Azure DevOps itself is still ours");
}

#[test]
fn the_fixes_named_for_a_missing_organization_work_with_real_git() {
    let w = World::new();
    // Our helper alone, without useHttpPath: git drops the path.
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    std::fs::write(
        w.env.path().join("home/.gitconfig"),
        format!("[credential]\n\thelper =\n\thelper = {bin}\n"),
    )
    .expect("write gitconfig");
    let fill = |url: &str| {
        w.env.run(
            w.env.git("git").args(["credential", "fill"]),
            format!("url={url}\n").as_bytes(),
        )
    };
    let repo = format!("{}/contoso/proj/_git/repo", w.ado.base_url());
    let out = fill(&repo);
    assert!(!out.status.success(), "{}", out.stdout);
    let message = out
        .stderr
        .lines()
        .find(|l| l.contains("did not say which Azure DevOps organization"))
        .unwrap_or_else(|| panic!("no message: {}", out.stderr));

    let remote = message
        .rsplit(' ')
        .next()
        .expect("the message ends with a URL")
        .replace("ORG", "contoso")
        .replace("PROJECT", "proj")
        .replace("REPO", "repo");
    let out = fill(&remote);
    assert!(
        out.status.success() && field(&out.stdout, "password").is_some(),
        "{remote}: {}",
        out.stderr
    );

    let command = message
        .split('`')
        .nth(1)
        .expect("the message quotes a command");
    let args: Vec<&str> = command.split(' ').collect();
    assert_eq!(args[0], "git", "{command}");
    w.env.git_ok("git", &args[1..]);
    let out = fill(&repo);
    assert!(
        out.status.success() && field(&out.stdout, "password").is_some(),
        "after `{command}`: {}",
        out.stderr
    );
}

/// Hosts that only look like Azure DevOps, and plain `http://`, get nothing,
/// through real git with the helper answering for every host (an unscoped
/// `credential.helper`, as some users set it): git asks, the helper says
/// "not ours" (its trace proves it was asked), no token is requested and
/// git is left with nothing to send.
#[test]
fn look_alike_hosts_and_plain_http_get_nothing_through_real_git() {
    let mut w = World::new();
    w.configure_git();
    let trace = w.env.path().join("trace.log");
    w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    let local = w.ado.host();
    let port: u16 = local
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the fake has a port");
    let look_alikes = [
        "https://dev.azure.com.evil.example/contoso/p/_git/r".to_string(),
        "https://evil-dev.azure.com/contoso/p/_git/r".into(),
        "https://evildev.azure.com/contoso/p/_git/r".into(),
        "https://dev.azure.co/contoso/p/_git/r".into(),
        "https://contoso.visualstudio.com.attacker/p/_git/r".into(),
        "https://contoso-visualstudio.com/p/_git/r".into(),
        "https://visualstudio.com/p/_git/r".into(),
        "https://dev.azure.com@evil.example/contoso/p/_git/r".into(),
        "https://evil.example/dev.azure.com/contoso/p/_git/r".into(),
        // Plain http, even to the real names.
        "http://dev.azure.com/contoso/p/_git/r".into(),
        "http://contoso.visualstudio.com/p/_git/r".into(),
        // A configured local host matches scheme, host and port exactly.
        format!("https://{local}/contoso/proj/_git/repo"),
        format!("http://localhost:{port}/contoso/proj/_git/repo"),
        format!("http://127.0.0.1:{}/contoso/proj/_git/repo", port ^ 1),
    ];
    for url in &look_alikes {
        let out = w.env.run(
            w.env.git(NEW_GIT).args(["credential", "fill"]),
            format!("url={url}\n").as_bytes(),
        );
        assert!(!out.status.success(), "{url}: git got {}", out.stdout);
        assert_eq!(field(&out.stdout, "password"), None, "{url}");
        let traced = std::fs::read_to_string(&trace).unwrap_or_default();
        assert!(
            traced.lines().last().is_some_and(|l| l.contains("ignored")),
            "{url}: the helper was not asked, or did not ignore it:\n{traced}"
        );
    }
    assert_eq!(
        w.token_requests(),
        0,
        "a look-alike host caused a token request"
    );
    // The same git and helper do answer for the configured host itself.
    let out = w.env.run(
        w.env.git(NEW_GIT).args(["credential", "fill"]),
        format!("url={}\n", w.repo_url).as_bytes(),
    );
    assert!(field(&out.stdout, "password").is_some(), "{}", out.stderr);
}

/// `https://contoso@host/attacker%20/p/_git/r`: git sends the path, whose
/// first segment is no organization, and the username `contoso`. The user
/// name must not stand in for it, or contoso's token would go to a path of
/// another organization.
#[test]
fn with_a_path_the_username_never_picks_the_organization() {
    let w = World::new();
    w.configure_git();
    let url = format!(
        "{}/attacker%20/proj/_git/repo",
        w.ado.base_url().replacen("://", "://contoso@", 1)
    );
    let out = w.env.run(
        w.env.git(NEW_GIT).args(["credential", "fill"]),
        format!("url={url}\n\n").as_bytes(),
    );
    assert!(!out.status.success(), "{}", out.stdout);
    assert_eq!(field(&out.stdout, "password"), None);
    assert!(
        out.stderr.contains("which Azure DevOps organization"),
        "{}",
        out.stderr
    );
    assert_eq!(w.token_requests(), 0, "no token was acquired for it");
}

/// The one line `get` prints for fabrikam when the config routes only
/// contoso, split into its lead, fix and fallback: (line, lead, fix, fallback).
pub fn unrouted_message(w: &World) -> (String, String, String, String) {
    let out = w.helper(
        &["get"],
        &format!(
            "protocol=http\nhost={}\npath=fabrikam/proj/_git/repo\n",
            w.ado.host()
        ),
    );
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one stderr line: {}", out.stderr);
    let line = lines[0]
        .strip_prefix("git-credential-entra: ")
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let (lead, rest) = line.split_once(". Fix: ").expect("a fix");
    let (fix, fallback) = rest.split_once(". The fallback ").expect("the fallback");
    (
        line.to_string(),
        lead.to_string(),
        fix.to_string(),
        format!("the fallback {fallback}"),
    )
}

/// With routes only for contoso, a request for fabrikam says first that no
/// route matched, which routes exist and the JSON that adds one; then, in a
/// few words, what the fallback `auto` tried. The JSON, added, works.
#[test]
fn an_unrouted_organization_is_told_so_first_with_the_route_to_add() {
    let w = World::new();
    let base = w.ado.base_url();
    let file = w.env.config_path().display().to_string();
    let (line, lead, fix, fallback) = unrouted_message(&w);
    assert_eq!(
        lead,
        format!("no route matches {base}/fabrikam (routes: {base}/contoso -> ci)")
    );
    let json = format!(r#"{{ "url": "{base}/fabrikam", "identity": "ci" }}"#);
    assert_eq!(fix, format!(r#"add {json} to "routes" in {file}"#));
    for part in [
        "the fallback 'auto' found no credentials: environment (",
        "managed identity (no IMDS answered)",
        "Azure CLI (",
        "interactive sign-in (no prompt: GIT_TERMINAL_PROMPT is 0)",
    ] {
        assert!(fallback.contains(part), "{part}: {fallback}");
    }
    assert!(
        !line.contains("AZURE_TENANT_ID"),
        "auto's long story is left out: {line}"
    );
    let short = line.replace(&file, "FILE").replace(&base, "URL");
    assert!(short.len() < 500, "{} chars: {short}", short.len());
    assert_eq!(w.token_requests(), 0);

    // The JSON the message gives, added to "routes", routes fabrikam.
    let text = std::fs::read_to_string(w.env.config_path()).expect("read config");
    let mut config: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let route: serde_json::Value = serde_json::from_str(&json).expect("the fix is JSON");
    config["routes"].as_array_mut().expect("routes").push(route);
    w.env.write_config(&config.to_string());
    let out = w.helper(
        &["get"],
        &format!(
            "protocol=http\nhost={}\npath=fabrikam/proj/_git/repo\n",
            w.ado.host()
        ),
    );
    assert!(field(&out.stdout, "password").is_some(), "{}", out.stderr);
}

/// `token` tells an unrouted organization the same way, and a fallback that
/// failed for another reason is named after the route to add.
#[test]
fn token_and_other_fallback_failures_lead_with_the_missing_route() {
    let mut w = World::new();
    let (line, lead, ..) = unrouted_message(&w);
    let url = format!("{}/fabrikam/proj/_git/repo", w.ado.base_url());
    let out = w.helper(&["token", &url], "");
    assert_eq!(
        out.stderr.trim_end(),
        format!("git-credential-entra: {line}")
    );
    w.env.set_env("AZURE_TOKEN_CREDENTIALS", "Nonsense");
    let out = w.helper(&["token", &url], "");
    assert!(
        out.stderr
            .starts_with(&format!("git-credential-entra: {lead}. Fix: add "))
            && out
                .stderr
                .contains(". The fallback 'auto' failed: AZURE_TOKEN_CREDENTIALS is \"Nonsense\""),
        "{}",
        out.stderr
    );
}
