//! What a person typing at the helper sees: unknown words, prompts, and
//! messages that must be true.

use std::process::ExitStatus;

use crate::support::terminal::{Screen, on_a_terminal};
use crate::support::world::{SECRET, TENANT, World};
use crate::support::{Ci, TestEnv, skip_unless};

#[test]
fn asking_for_auto_by_name_gets_the_real_reason() {
    let env = TestEnv::new();
    env.write_config(
        r#"{ "identities": { "ci": { "type": "service-principal", "tenant": "t", "client_id": "00001111-aaaa-2222-bbbb-3333cccc4444", "client_secret_env": "CI_SECRET" } } }"#,
    );
    for args in [
        ["cache", "list", "--identity", "auto"],
        ["cache", "clear", "--identity", "auto"],
        ["secret", "set", "--identity", "auto"],
    ] {
        let out = env.run(env.helper().args(args), b"not-a-secret\n");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("no identity named 'auto'") && out.stderr.contains("'auto'"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = env.run(
        env.helper().args(["cache", "list", "--identity", "auto"]),
        b"",
    );
    assert!(
        out.stderr.contains("identity 'auto': found no credentials"),
        "{}",
        out.stderr
    );
    let out = env.run(
        env.helper().args(["secret", "set", "--identity", "auto"]),
        b"x\n",
    );
    assert!(
        out.stderr.contains("built-in identity") && out.stderr.contains("client_secret_keyring"),
        "{}",
        out.stderr
    );
}

#[test]
fn unknown_words_with_arguments_are_an_error() {
    let env = TestEnv::new();
    for args in [
        &["secrets", "set"][..],
        &["reconfigure", "--global"],
        &["bogus", "x", "y"],
    ] {
        let out = env.run(env.helper().args(args), b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(
            out.stderr,
            format!(
                "git-credential-entra: '{}' is not a command of git-credential-entra; see --help\n",
                args[0]
            )
        );
    }
    // From git: one word and a pipe. Ignored, as git's protocol asks.
    let out = env.run(
        env.helper().arg("bogus"),
        b"protocol=https\nhost=dev.azure.com\n",
    );
    assert!(out.status.success());
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
}

#[test]
fn at_a_terminal_get_explains_and_unknown_words_fail() {
    let env = TestEnv::new();
    let out = env.run(
        &mut on_a_terminal(&env, "HELPER get"),
        b"protocol=https\nhost=github.com\n\n",
    );
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("reading a git credential request: key=value lines"),
        "{}",
        out.stdout
    );
    let out = env.run(&mut on_a_terminal(&env, "HELPER bogus"), b"");
    assert_eq!(out.status.code(), Some(2), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("'bogus' is not a command of git-credential-entra"),
        "{}",
        out.stdout
    );
}

/// A world with a keyring-backed identity `kr`, and its client id.
fn keyring_world() -> World {
    let w = World::with_cache("none");
    // A unique client id: keyring items outlive the test's temporary HOME.
    let client = crate::support::random_guid();
    w.entra.add_app(TENANT, &client, SECRET);
    w.write_config(&format!(
        r#", "kr": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{client}", "client_secret_keyring": true }}"#
    ));
    w
}

/// Runs `command` (a shell command line) on a terminal, waits for the
/// secret prompt, types `typed`, and returns the exit status and everything
/// the terminal showed; `None` when there is no keyring here (skipped).
fn type_at_the_prompt(w: &World, command: &str, typed: &[u8]) -> Option<(ExitStatus, String)> {
    let mut screen = Screen::start(&w.env, command);
    // Type only once the prompt is out: a terminal echoes what arrives
    // before echo is turned off, whoever reads it.
    let prompted = screen
        .wait_for(|s| {
            s.contains("paste the secret, then Enter") || s.contains("no OS keyring is available")
        })
        .is_some_and(|s| s.contains("paste the secret, then Enter"));
    if prompted {
        screen.type_in(typed);
    }
    screen.close_input();
    let (status, shown) = screen.finish();
    let no_keyring = !prompted && shown.contains("no OS keyring is available");
    let reason = format!("no OS keyring here: {shown}");
    if !skip_unless(!no_keyring, Ci::Provides, reason) {
        return None;
    }
    assert!(prompted, "no prompt within 30 s: {shown}");
    Some((status, shown))
}

#[test]
fn secret_set_at_a_terminal_does_not_show_the_secret() {
    let w = keyring_world();
    let typed = format!("{SECRET}\n");
    let Some((status, shown)) =
        type_at_the_prompt(&w, "HELPER secret set --identity kr", typed.as_bytes())
    else {
        return;
    };
    assert!(status.success(), "{shown}");
    assert!(!shown.contains(SECRET), "the terminal showed the secret");
    assert!(
        shown.contains("stored the secret of identity 'kr'"),
        "{shown}"
    );
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        w.entra.token_requests()[0].secret_ok,
        "the pasted secret, without its line end"
    );
    w.helper(&["secret", "delete", "--identity", "kr"], "");
}

#[test]
fn ctrl_c_at_the_secret_prompt_gives_the_echo_back() {
    let w = keyring_world();
    // The shell survives the Ctrl-C (a trap, not an ignored signal, which
    // the helper would inherit) to show the terminal's settings afterwards.
    let Some((_, shown)) = type_at_the_prompt(
        &w,
        "trap : INT; HELPER secret set --identity kr; echo exit=$?; stty -a",
        b"\x03",
    ) else {
        return;
    };
    assert!(shown.contains("exit=130"), "killed by SIGINT: {shown}");
    let flags: Vec<&str> = shown.split_whitespace().collect();
    assert!(
        flags.contains(&"echo") && !flags.contains(&"-echo"),
        "echo is back on: {shown}"
    );
}
