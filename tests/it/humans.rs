//! What a person typing at the helper sees: unknown words, prompts, and
//! messages that must be true.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::TestEnv;
use crate::world::{SECRET, TENANT, World};

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

/// A shell command line run on a fresh pseudo-terminal (util-linux
/// `script`) in `env`'s isolated environment; `HELPER` stands for the helper.
fn on_a_terminal(env: &TestEnv, command: &str) -> Command {
    let helper = env.helper();
    let bin = format!("'{}'", helper.get_program().to_string_lossy());
    let mut cmd = Command::new("script");
    cmd.env_clear();
    for (k, v) in helper.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.args(["-qec", &command.replace("HELPER", &bin), "/dev/null"]);
    cmd
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
    let mut child = on_a_terminal(&w.env, command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn script");
    let shown = Arc::new(Mutex::new(String::new()));
    let reader = {
        let shown = shown.clone();
        let mut stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = shown.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // Type only once the prompt is out: a terminal echoes what arrives
    // before echo is turned off, whoever reads it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let prompted = loop {
        let s = shown.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if s.contains("paste the secret, then Enter") {
            break true;
        }
        if s.contains("no OS keyring is available") || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdin = child.stdin.take().expect("piped");
    if prompted {
        stdin.write_all(typed).expect("type");
    }
    drop(stdin);
    let status = child.wait().expect("wait for script");
    reader.join().expect("reader");
    let shown = shown.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !prompted && shown.contains("no OS keyring is available") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI has a keyring: {shown}"
        );
        eprintln!("SKIPPED: no OS keyring here: {shown}");
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
