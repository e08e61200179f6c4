//! The `user` identity against the fake Entra's sign-in endpoints: the
//! browser played by a script (curl following the authorize redirect to the
//! helper's loopback listener) and by headless Chromium, paste on a
//! pseudo-terminal, device code, silent refresh, and what happens when no
//! prompt may be shown.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::env::probe;
use crate::support::terminal::{Screen, on_a_terminal};
use crate::support::world::{TENANT, World, field, token_of};
use crate::support::{Ci, RunOutput, skip, skip_unless};

pub const UPN: &str = "alice@contoso.onmicrosoft.com";

/// A world whose `contoso` organization is routed to the user identity `me`
/// (a unique client id: keyring items outlive the test's HOME).
pub(crate) fn user_world(extra: &str) -> World {
    let w = World::new();
    w.entra.add_user(TENANT, UPN);
    w.ado.allow("contoso", UPN);
    let client = crate::support::random_guid();
    w.env.write_config(&format!(
        r#"{{
  "identities": {{ "me": {{ "type": "user", "tenant": "{TENANT}", "client_id": "{client}"{extra} }} }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "me" }} ],
  "hosts": [ "{base}" ],
  "authority_host": "{authority}"
}}"#,
        base = w.ado.base_url(),
        authority = w.entra.url()
    ));
    w
}

/// An executable script in the test root.
pub(crate) fn script(w: &World, name: &str, body: &str) -> PathBuf {
    let path = w.env.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A `$BROWSER` that follows the authorize redirect to the helper's
/// listener with curl and keeps the landing page in `landing.html`.
pub fn curl_browser(w: &mut World) -> PathBuf {
    let dir = w.env.path().to_path_buf();
    // The browser's own profile keeps the sign-in URLs it visited.
    w.env.planted(&dir.join("chromium"));
    let browser = script(
        w,
        "browser",
        &format!(
            "curl -sS -L --max-time 20 -o '{d}/landing.html' \"$1\" 2>'{d}/browser.err'",
            d = dir.display()
        ),
    );
    w.env.set_env("BROWSER", &browser.to_string_lossy());
    dir.join("landing.html")
}

/// Whether the sign-in could not be kept for lack of a keyring (skip then,
/// except in CI, which has one).
pub fn no_keyring(out: &RunOutput) -> bool {
    let kept = !out.stderr.contains("no OS keyring could keep the sign-in");
    !skip_unless(
        kept,
        Ci::Provides,
        format!("no OS keyring here: {}", out.stderr),
    )
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            all.extend(files(&p));
        } else {
            all.push(p);
        }
    }
    all
}

pub fn assert_no_refresh_token_in_files(w: &World) {
    let issued = w.entra.users(|u| u.refresh_issued.clone());
    assert!(!issued.is_empty());
    for f in files(w.env.path()) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for rt in &issued {
            assert!(
                !text.contains(rt.as_str()),
                "a refresh token is in {}",
                f.display()
            );
        }
    }
}

pub fn grants(w: &World) -> Vec<String> {
    w.entra
        .token_requests()
        .iter()
        .map(|r| r.form.get("grant_type").cloned().unwrap_or_default())
        .collect()
}

#[test]
fn browser_sign_in_then_silent_refresh_with_rotation() {
    let mut w = user_world("");
    let landing = curl_browser(&mut w);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always");
    let out = w.helper(&["get"], &w.request());
    if no_keyring(&out) {
        return;
    }
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        field(&out.stdout, "username"),
        Some(UPN),
        "the UPN is the username"
    );
    let page = std::fs::read_to_string(&landing).expect("the browser got the landing page");
    assert!(
        page.contains("Signed in") && page.contains("You can close this tab"),
        "{page}"
    );
    let auth = w.entra.users(|u| u.authorize_requests.clone());
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0]["code_challenge_method"], "S256");
    assert!(auth[0]["redirect_uri"].starts_with("http://localhost:"));
    assert!(auth[0]["scope"].contains("offline_access"));
    assert_eq!(
        grants(&w),
        ["authorization_code"],
        "the fake checked the PKCE verifier"
    );
    // From now on no prompt may be shown: the refresh token does the work.
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "never");
    let cached = w.helper(&["get"], &w.request());
    assert_eq!(token_of(&cached.stdout), token_of(&out.stdout));
    for round in 0..2 {
        w.age_cache(3600);
        let again = w.helper(&["get"], &w.request());
        assert!(again.status.success(), "round {round}: {}", again.stderr);
        assert_ne!(token_of(&again.stdout), token_of(&out.stdout));
    }
    // The second refresh worked only with the rotated token: the fake
    // forgets a refresh token once it is used.
    assert_eq!(
        grants(&w),
        ["authorization_code", "refresh_token", "refresh_token"]
    );
    assert_eq!(
        w.entra.users(|u| u.authorize_requests.len()),
        1,
        "no interactive request"
    );
    assert_no_refresh_token_in_files(&w);
    // Through real git, as the signed-in user (only the user is allowed in
    // the organization: the route serves no app).
    w.clone_and_push("clone");
    // logout removes both tokens and says so.
    let out = w.helper(&["logout", "--identity", "me"], "");
    assert!(
        out.stderr.contains("removed its cached access token")
            && out.stderr.contains("its refresh token from the OS keyring"),
        "{}",
        out.stderr
    );
    let after = w.helper(&["get"], &w.request());
    assert!(after.stderr.contains("not signed in"), "{}", after.stderr);
}

/// Entra's refusal carrying this sign-in's `state` ends it, explained (a
/// refusal without it is ignored: `signin_listener`).
#[test]
fn a_refusal_is_explained() {
    let mut w = user_world("");
    let landing = curl_browser(&mut w);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always");
    w.entra.users(|u| u.deny = true);
    let out = w.helper(&["get"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains(
            "browser sign-in failed: Entra answered access_denied: AADSTS65004: User declined"
        ) && out.stderr.contains("Fix:"),
        "{}",
        out.stderr
    );
    let page = std::fs::read_to_string(&landing).expect("landing page");
    assert!(
        page.contains("Sign-in failed") && page.contains("access_denied"),
        "{page}"
    );
    assert!(w.entra.token_requests().is_empty(), "nothing to redeem");
}

#[test]
fn without_prompts_a_sign_in_fails_at_once_with_the_login_hint() {
    let w = user_world(r#", "flow": "device-code""#);
    for (var, value) in [
        ("GIT_TERMINAL_PROMPT", "0"),
        ("CI", "true"),
        ("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "never"),
    ] {
        let started = Instant::now();
        let out = w.env.run(
            w.env.helper().arg("get").env(var, value),
            w.request().as_bytes(),
        );
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "{var}: took {took:?}");
        assert_eq!(out.stdout, "quit=1\n");
        assert!(
            out.stderr.contains("identity 'me': not signed in")
                && out
                    .stderr
                    .contains("`git-credential-entra login --identity me`"),
            "{var}: {}",
            out.stderr
        );
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    assert!(
        w.entra.token_requests().is_empty(),
        "no device-code request was started"
    );
    assert!(w.entra.users(|u| u.device_polls.is_empty()));
}

#[test]
fn git_credential_interactive_never_is_honoured_at_a_terminal() {
    let w = user_world("");
    std::fs::write(
        w.env.path().join("home/.gitconfig"),
        "[credential]\n\tinteractive = never\n",
    )
    .expect("gitconfig");
    let out = w.env.run(
        &mut on_a_terminal(&w.env, "env -u GIT_TERMINAL_PROMPT HELPER get"),
        w.request().as_bytes(),
    );
    assert!(
        out.stdout.contains("credential.interactive is never")
            && out.stdout.contains("login --identity me"),
        "{}",
        out.stdout
    );
}

#[test]
fn device_code_honours_interval_and_slow_down() {
    let mut w = user_world(r#", "flow": "device-code""#);
    w.entra.users(|u| {
        u.device_script = ["authorization_pending", "slow_down"]
            .map(String::from)
            .into();
    });
    let out = w.helper(&["login", "--identity", "me"], "");
    if no_keyring(&out) {
        return;
    }
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, "", "nothing on stdout");
    assert!(
        out.stderr
            .contains("https://microsoft.com/devicelogin and enter the code F")
            && out.stderr.contains(&format!("signed in as {UPN}")),
        "{}",
        out.stderr
    );
    let polls = w.entra.users(|u| u.device_polls.clone());
    assert_eq!(polls.len(), 3);
    let gap = |i: usize| polls[i + 1] - polls[i];
    assert!(
        gap(0) >= Duration::from_millis(950),
        "interval 1 s: {:?}",
        gap(0)
    );
    assert!(
        gap(1) >= Duration::from_millis(5900),
        "slow_down adds 5 s: {:?}",
        gap(1)
    );
    // The token was cached by login: git's get needs no prompt.
    let get = w.helper(&["get"], &w.request());
    assert!(get.status.success(), "{}", get.stderr);
    assert_eq!(
        grants(&w).last().map(String::as_str),
        Some("urn:ietf:params:oauth:grant-type:device_code")
    );
    // An hour later, real git clones and pushes with no one to answer a
    // prompt: the saved sign-in is refreshed silently, no new device code.
    let before = grants(&w).len();
    w.age_cache(3600);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "never");
    w.clone_and_push("work");
    assert_eq!(
        grants(&w)[before..],
        ["refresh_token"],
        "one silent refresh serves clone and push"
    );
    assert_eq!(w.entra.users(|u| u.device_polls.len()), 3, "no new sign-in");
}

#[test]
fn device_code_blocked_by_policy_names_the_other_flows() {
    let w = user_world("");
    w.entra
        .users(|u| u.device_script = ["blocked".to_string()].into());
    let out = w.helper(&["login", "--identity", "me", "--flow", "device-code"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("AADSTS530033")
            && out.stderr.contains("--flow browser")
            && out.stderr.contains("--flow paste")
            && out.stderr.contains("azure-cli"),
        "{}",
        out.stderr
    );
}

#[test]
fn paste_on_a_terminal_finishes_the_sign_in() {
    let mut w = user_world("");
    let mut screen = Screen::start(&w.env, "HELPER login --identity me --flow paste");
    let prompt = screen
        .wait_for(|s| s.contains("paste it here"))
        .unwrap_or_else(|| panic!("no paste prompt: {}", screen.shown()));
    let url = prompt
        .split_whitespace()
        .find(|t| t.contains("/oauth2/v2.0/authorize?"))
        .expect("the authorize URL is shown")
        .to_string();
    // The person's browser, elsewhere: sign in, then copy the address it was sent to.
    let location = w
        .env
        .command("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{redirect_url}", &url])
        .output()
        .expect("curl");
    let location = String::from_utf8_lossy(&location.stdout).to_string();
    assert!(location.starts_with("http://localhost:"), "{location}");
    screen.type_in(format!("{location}\r").as_bytes());
    let (status, shown) = screen.finish();
    let kept = !shown.contains("no OS keyring could keep the sign-in");
    if !skip_unless(kept, Ci::Provides, "no OS keyring here") {
        return;
    }
    assert!(status.success(), "{shown}");
    assert!(shown.contains(&format!("signed in as {UPN}")), "{shown}");
    assert_eq!(grants(&w), ["authorization_code"]);
    let get = w.helper(&["get"], &w.request());
    assert!(get.status.success(), "{}", get.stderr);
    assert_eq!(field(&get.stdout, "username"), Some(UPN));
    // Real git clones and pushes as the pasted-in user, with no one to
    // answer a prompt: the cached token serves both.
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "never");
    w.clone_and_push("work");
    assert_eq!(grants(&w), ["authorization_code"], "no new token request");
    assert_eq!(
        w.entra.users(|u| u.authorize_requests.len()),
        1,
        "no interactive request"
    );
}

/// The Chromium binary the distribution installs, if any.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| probe(c, &["--version"]).is_some())
}

#[test]
fn headless_chromium_signs_in_and_sees_the_landing_page() {
    let Some(chromium) = chromium() else {
        return skip(Ci::Provides, "no chromium here");
    };
    let mut w = user_world(r#", "flow": "browser""#);
    let dir = w.env.path().to_path_buf();
    // The browser's own profile keeps the sign-in URLs it visited.
    w.env.planted(&dir.join("chromium"));
    let flags = "--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync";
    let browser = script(
        &w,
        "chromium-browser",
        &format!(
            "exec {chromium} {flags} --user-data-dir='{d}/chromium' --virtual-time-budget=5000 --dump-dom \"$1\" >'{d}/dom.html' 2>'{d}/chromium.err'",
            d = dir.display()
        ),
    );
    w.env.set_env("BROWSER", &browser.to_string_lossy());
    let out = w.helper(&["login", "--identity", "me"], "");
    if no_keyring(&out) {
        return;
    }
    assert!(out.status.success(), "{}", out.stderr);
    // Chromium writes the DOM when it exits, a moment after the sign-in.
    let deadline = Instant::now() + Duration::from_secs(30);
    let dom = loop {
        let dom = std::fs::read_to_string(dir.join("dom.html")).unwrap_or_default();
        if dom.contains("</html>") || Instant::now() > deadline {
            break dom;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        dom.contains("Signed in to Azure DevOps with git-credential-entra. You can close this tab"),
        "{dom}"
    );
    // The artifact: a screenshot of the page Chromium received.
    // Taken in the test's directory and then copied: the same test may run
    // in two processes at once (real_home:: reruns it).
    let artifact = Path::new(env!("CARGO_TARGET_TMPDIR")).join("user-sign-in-landing-page.png");
    let page = dir.join("landing.html");
    std::fs::write(&page, &dom).expect("write the page");
    let shot = dir.join("landing.png");
    // In the test's HOME: Chromium keeps crash reports under ~/.config and
    // dconf its settings under ~/.cache even with a --user-data-dir.
    let status = w
        .env
        .command(chromium)
        .args(flags.split(' '))
        .arg(format!("--user-data-dir={}/chromium-shot", dir.display()))
        .arg("--window-size=900,600")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run chromium");
    assert!(status.success());
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "screenshot saved"
    );
    std::fs::copy(&shot, &artifact).expect("keep the screenshot as an artifact");
    let get = w.helper(&["get"], &w.request());
    assert_eq!(field(&get.stdout, "username"), Some(UPN), "{}", get.stderr);
}

#[test]
fn auto_signs_a_person_in_only_when_prompts_are_allowed() {
    let mut w = user_world("");
    curl_browser(&mut w);
    w.env.write_config(&format!(
        r#"{{ "hosts": [ "{}" ], "authority_host": "{}" }}"#,
        w.ado.base_url(),
        w.entra.url()
    ));
    let out = w.helper(&["get"], &w.request());
    assert!(
        out.stderr
            .contains("interactive sign-in (no prompt may be shown"),
        "{}",
        out.stderr
    );
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always");
    let out = w.helper(&["get"], &w.request());
    if no_keyring(&out) {
        return;
    }
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(field(&out.stdout, "username"), Some(UPN));
    let auth = w.entra.users(|u| u.authorize_requests.clone());
    assert_eq!(auth[0]["client_id"], "872cd9fa-d31f-45e0-9eab-6e460a02d1f1");
    // No tenant configured: the organization's, as Azure DevOps names it.
    assert_eq!(
        w.entra.token_requests()[0].tenant,
        w.entra.tenant_id(TENANT)
    );
}

#[test]
fn a_revoked_sign_in_is_explained_then_renewed_when_a_person_is_there() {
    let mut w = user_world("");
    curl_browser(&mut w);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always");
    let out = w.helper(&["get"], &w.request());
    if no_keyring(&out) {
        return;
    }
    assert!(out.status.success(), "{}", out.stderr);
    w.entra.users(|u| u.revoke_refresh_tokens());
    w.age_cache(3600);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "never");
    let out = w.helper(&["get"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr
            .contains("the saved sign-in can no longer be used (AADSTS700082")
            && out.stderr.contains("login --identity me"),
        "{}",
        out.stderr
    );
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always");
    let out = w.helper(&["get"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        w.entra.users(|u| u.authorize_requests.len()),
        2,
        "signed in again"
    );
}
