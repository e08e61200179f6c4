//! What a failing or hostile token endpoint can do to the helper, and what it
//! must not: one time budget for the whole request, bounded answers, and
//! server text that reaches the terminal clean and one line long.

use std::time::{Duration, Instant};

use crate::support::{Delivery, Scripted};
use crate::world::{SECRET, World};

/// The helper's retry budget for one token request (contract §7).
const BUDGET: Duration = Duration::from_secs(30);

#[test]
fn a_hanging_answer_after_retry_after_stays_within_the_budget() {
    let w = World::with_cache("none");
    let mut throttled = Scripted::status(429);
    throttled.retry_after = Some("10".into());
    w.entra.push_response(throttled);
    w.entra.push_response(Scripted {
        delivery: Delivery::Silent(Duration::from_secs(120)),
        ..Scripted::status(200)
    });
    let started = Instant::now();
    let out = w.helper(&["get"], &w.request());
    let took = started.elapsed();
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    assert!(
        took <= BUDGET + Duration::from_secs(4),
        "the budget bounds the request too: {took:?}"
    );
    assert!(
        out.stderr.contains("Entra did not answer within"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_answer_that_stops_midway_is_a_timeout_not_a_bad_answer() {
    let w = World::with_cache("none");
    w.entra.push_response(Scripted {
        delivery: Delivery::StallMidBody(Duration::from_secs(120)),
        ..Scripted::status(200)
    });
    let started = Instant::now();
    let out = w.helper(&["get"], &w.request());
    assert!(started.elapsed() <= BUDGET + Duration::from_secs(4));
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    assert!(
        out.stderr.contains("stopped arriving") && out.stderr.contains("timed out"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("not JSON"), "{}", out.stderr);
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
