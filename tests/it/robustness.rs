//! What a failing or hostile token endpoint can do to the helper, and what it
//! must not: outages shared by waiting processes instead of multiplied,
//! bounded answers, and server text that reaches the terminal clean and one
//! line long. Each fault of one request (throttling, errors, hangs, resets,
//! cut answers) is in `faults`.

use std::time::{Duration, Instant};

use crate::support::world::{SECRET, World};
use crate::support::{Delivery, Scripted};

/// The helper's retry budget for one token request (contract §7).
const BUDGET: Duration = Duration::from_secs(30);
/// Attempts the helper makes within the budget.
const MAX_ATTEMPTS: usize = 6;
/// Slack for starting processes on a busy machine; generous on purpose.
const SLACK: Duration = Duration::from_secs(10);

#[test]
fn an_outage_is_shared_by_every_waiting_process() {
    let n = 16;
    let w = World::new();
    // A fast, permanent outage: one retry cycle takes about 5 s.
    let mut down = Scripted::status(503);
    down.retry_after = Some("1".into());
    w.entra.set_outage(Some(down));
    let started = Instant::now();
    let results = w.concurrent_gets(n);
    let took = started.elapsed();
    let mut shared = 0;
    for (code, out, err) in &results {
        assert_eq!((*code, out.as_str()), (Some(1), "quit=1\n"), "{err}");
        assert!(
            err.contains("Entra answered HTTP 503"),
            "names the real cause: {err}"
        );
        assert!(
            !err.contains("gave up") && !err.contains("for the lock"),
            "{err}"
        );
        let messages = err
            .lines()
            .filter(|l| !l.contains("waiting for another git process"))
            .count();
        assert_eq!(messages, 1, "one message: {err}");
        shared += usize::from(err.contains("another git-credential-entra process failed"));
    }
    assert!(
        took <= BUDGET + SLACK,
        "{n} processes took {took:?}, more than one retry budget"
    );
    let requests = w.token_requests();
    assert!(
        requests <= MAX_ATTEMPTS * 2,
        "Entra saw {requests} requests: about one retry cycle, not one per process"
    );
    assert_eq!(
        shared,
        n - 1,
        "every process but the holder reported the holder's failure"
    );
}

#[test]
fn a_success_ends_the_shared_outage() {
    let w = World::with_cache("none");
    let mut down = Scripted::status(503);
    down.retry_after = Some("0".into());
    for _ in 0..MAX_ATTEMPTS {
        w.entra.push_response(down.clone());
    }
    let first = w.helper(&["get"], &w.request());
    assert_eq!(first.stdout, "quit=1\n", "{}", first.stderr);
    let cycle = w.token_requests();
    let second = w.helper(&["get"], &w.request());
    assert!(
        second.stdout == "quit=1\n",
        "the second get must not ask Entra"
    );
    assert!(
        second.stderr.contains("HTTP 503") && second.stderr.contains("failed this way"),
        "{}",
        second.stderr
    );
    assert_eq!(w.token_requests(), cycle, "the record answered, not Entra");
    // `--identity` under another name for the same principal shares the record.
    w.write_config(&format!(
        r#", "alias": {{ "type": "service-principal", "tenant": "{}", "client_id": "{}", "client_secret_env": "CI_SECRET" }}"#,
        crate::support::world::TENANT,
        crate::support::world::CLIENT
    ));
    let alias = w.helper(&["get", "--identity", "alias"], &w.request());
    assert!(
        alias.stderr.contains("identity 'alias'") && alias.stderr.contains("failed this way"),
        "{}",
        alias.stderr
    );
    assert_eq!(w.token_requests(), cycle);
    let lock_dir = w.env.path().join("runtime/git-credential-entra");
    let records = || {
        std::fs::read_dir(&lock_dir)
            .expect("lock dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".failed"))
            .count()
    };
    assert_eq!(records(), 1);
    for e in std::fs::read_dir(&lock_dir).expect("lock dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".failed") {
            // Age the record past its lifetime.
            let text = std::fs::read_to_string(e.path()).expect("read");
            let v: serde_json::Value = serde_json::from_str(&text).expect("json");
            let old = v["at"].as_i64().expect("at") - 31;
            let aged = text.replace(&format!("\"at\":{}", v["at"]), &format!("\"at\":{old}"));
            assert_ne!(aged, text);
            std::fs::write(e.path(), aged).expect("write");
        }
    }
    let recovered = w.helper(&["get"], &w.request());
    assert!(recovered.status.success(), "{}", recovered.stderr);
    assert_eq!(records(), 0, "a success removes the record");
    // A refusal is about this process's credentials, not the service: not shared.
    w.entra.push_response(Scripted::aadsts(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided.",
    ));
    let refused = w.helper(&["get"], &w.request());
    assert_eq!(refused.stdout, "quit=1\n");
    assert_eq!(records(), 0, "{}", refused.stderr);
}

#[test]
fn doctor_asks_again_after_a_recorded_outage() {
    let w = World::with_cache("none");
    let mut down = Scripted::status(503);
    down.retry_after = Some("0".into());
    for _ in 0..MAX_ATTEMPTS {
        w.entra.push_response(down.clone());
    }
    let failed = w.helper(&["get"], &w.request());
    assert_eq!(failed.stdout, "quit=1\n", "{}", failed.stderr);
    let cycle = w.token_requests();
    // Entra is back: git's next get (within 30 s) still reports the outage,
    // but doctor looks at what happens now.
    let doctor = w.helper(&["doctor", &w.repo_url], "");
    assert_eq!(w.token_requests(), cycle + 1, "doctor asked Entra");
    assert!(
        !doctor.stdout.contains("failed this way") && doctor.stdout.contains("acquired in"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn a_local_failure_is_not_replayed_once_fixed() {
    let mut w = World::with_cache("none");
    let secret = w.env.path().join("secret.txt");
    w.write_config(&format!(
        r#", "file": {{ "type": "service-principal", "tenant": "{}", "client_id": "{}", "client_secret_file": "{}" }}"#,
        crate::support::world::TENANT,
        crate::support::world::CLIENT,
        secret.display()
    ));
    w.env.set_env("GIT_CREDENTIAL_ENTRA_IDENTITY", "file");
    let failed = w.helper(&["get"], &w.request());
    assert_eq!(failed.stdout, "quit=1\n", "{}", failed.stderr);
    assert!(failed.stderr.contains("secret.txt"), "{}", failed.stderr);
    // The person writes the secret file: the next get works at once.
    std::fs::write(&secret, SECRET).expect("write the secret");
    crate::support::chmod(&secret, 0o600);
    w.env.planted(&secret);
    let fixed = w.helper(&["get"], &w.request());
    assert!(fixed.status.success(), "{}", fixed.stderr);
    assert_eq!(w.token_requests(), 1);
}

#[test]
fn answers_over_one_mib_are_refused() {
    let huge = serde_json::json!({
        "access_token": "a".repeat(2 << 20),
        "token_type": "Bearer",
        "expires_in": 3599,
    });
    let cases = [
        // A body that never ends (no length given), and one that says its length.
        (
            "streamed",
            Scripted::token_prefix(Delivery::Endless(256 << 20)),
        ),
        (
            "with a length",
            Scripted {
                body: huge.to_string(),
                ..Scripted::status(200)
            },
        ),
    ];
    for (case, answer) in cases {
        let w = World::with_cache("none");
        w.entra.push_response(answer);
        let started = Instant::now();
        let out = w.helper(&["get"], &w.request());
        assert_eq!(out.stdout, "quit=1\n", "{case}: {}", out.stderr);
        assert!(
            out.stderr.contains("Entra's answer is larger than 1 MiB"),
            "{case}: {}",
            out.stderr
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{case}");
        assert_eq!(w.token_requests(), 1, "{case}: not retried");
    }
}

#[test]
fn server_text_is_one_clean_line_without_what_we_sent() {
    let w = World::with_cache("none");
    let mut hostile = Scripted::aadsts(
        401,
        "invalid_client",
        7000215,
        &format!("Invalid client secret \u{1b}]0;pwned\u{7}{SECRET}\u{1b}[2J provided."),
    );
    let mut body: serde_json::Value = serde_json::from_str(&hostile.body).expect("json");
    body["correlation_id"] = "c0ffee\u{1b}[1A\u{7}".into();
    hostile.body = body.to_string();
    w.entra.push_response(hostile);
    let out = w.helper(&["get"], &w.request());
    // TestEnv::run has already checked that the secret is not in stderr.
    assert_eq!(out.stdout, "quit=1\n");
    let err = out.stderr.trim_end_matches('\n');
    assert!(!err.chars().any(char::is_control), "{err:?}");
    assert!(
        err.contains("AADSTS7000215 (invalid client secret): Invalid client secret ]0;pwned <client_secret> [2J provided. Fix:"),
        "{err}"
    );
    assert!(err.ends_with("(correlation id c0ffee [1A)"), "{err}");
    assert_eq!(err.matches("c0ffee").count(), 1, "{err}");
    assert!(
        !err.contains("Trace ID") && !err.contains("Timestamp"),
        "{err}"
    );
}

/// What git sends is not trusted either: a host or path with escape
/// sequences and line breaks (git passes any byte but NUL and LF through
/// `url=` decoding) reaches `-v`, the trace and error lines inert.
#[test]
fn urls_from_git_reach_the_terminal_inert() {
    let w = World::new();
    let hostile = "\x1b]0;owned\x07\x1b[2J\r\u{202e}";
    let requests = [
        // Ours: routed, so the URL is in the decision lines.
        format!(
            "protocol=http\nhost={}\npath=contoso/proj{hostile}/_git/repo\n",
            w.ado.host()
        ),
        // Not ours: the host is in the "ignored" line.
        format!("protocol=https\nhost=example.com{hostile}\npath=a/b\n"),
        // Ours, failing: the URL is in the error line.
        format!("protocol=https\nhost=dev.azure.com\npath=..{hostile}/p/_git/r\n"),
    ];
    for request in &requests {
        let mut cmd = w.env.helper();
        cmd.env("GIT_CREDENTIAL_ENTRA_TRACE", "1")
            .args(["-v", "get"]);
        let out = w.env.run(&mut cmd, request.as_bytes());
        assert!(
            out.stderr.contains("owned"),
            "the value is shown: {}",
            out.stderr
        );
        let raw: Vec<char> = out
            .stderr
            .chars()
            .filter(|c| (c.is_control() && *c != '\n') || *c == '\u{202e}')
            .collect();
        assert!(raw.is_empty(), "{raw:?} in {:?}", out.stderr);
    }
}
