//! Faults of Entra's token endpoint on the wire: throttling, server errors,
//! a connection that hangs, one that is reset.

use std::time::Duration;

use super::front::{Fault, Front};
use super::{
    ENTRA, SLACK, assert_not_cached, cache_survives, forget_failures, one_error, timed_get,
};
use crate::support::world::World;
use crate::support::{Delivery, Scripted};

#[test]
fn throttled_with_retry_after() {
    let w = World::new();
    // A wait that fits: honoured (not the 1 s backoff), then a token.
    let wait = Duration::from_secs(3);
    w.entra.push_response(Scripted {
        retry_after: Some(wait.as_secs().to_string()),
        ..Scripted::status(429)
    });
    let (out, took) = timed_get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 2, "429, then the token");
    assert!(took >= wait && took <= wait + SLACK, "{took:?}");
    assert!(super::cache_row(&w).contains("fresh"));

    // A wait past the budget: not slept through, one error at once.
    let w = World::new();
    let too_long = Scripted {
        retry_after: Some((ENTRA.budget.as_secs() * 10).to_string()),
        ..Scripted::status(429)
    };
    w.entra.set_outage(Some(too_long.clone()));
    let (out, took) = timed_get(&w);
    let line = one_error(&out);
    assert!(
        line.contains("Entra answered HTTP 429 (throttled) 1 time(s)"),
        "{line}"
    );
    assert!(took <= SLACK, "{took:?}");
    assert_eq!(w.token_requests(), 1);
    assert_not_cached(&w);
    cache_survives(
        &w,
        |w| w.entra.set_outage(Some(too_long.clone())),
        |w| w.entra.set_outage(None),
    );
}

#[test]
fn server_error_bursts() {
    let w = World::new();
    // No Retry-After: the policy's backoff after each.
    for status in [500, 503] {
        w.entra.push_response(Scripted::status(status));
    }
    let (out, took) = timed_get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 3);
    let backoffs = ENTRA.backoff(1) + ENTRA.backoff(2);
    assert!(took >= backoffs && took <= backoffs + SLACK, "{took:?}");

    // A lasting outage: bounded in attempts and time, one error.
    let w = World::new();
    let down = Scripted {
        retry_after: Some("0".into()),
        ..Scripted::status(503)
    };
    w.entra.set_outage(Some(down.clone()));
    let (out, took) = timed_get(&w);
    let line = one_error(&out);
    assert!(
        line.contains(&format!(
            "Entra answered HTTP 503 (service unavailable) {} time(s)",
            ENTRA.max_attempts
        )),
        "{line}"
    );
    assert!(took <= ENTRA.budget + SLACK, "{took:?}");
    assert_eq!(w.token_requests(), ENTRA.max_attempts as usize);
    assert_not_cached(&w);
    cache_survives(
        &w,
        |w| w.entra.set_outage(Some(down.clone())),
        |w| w.entra.set_outage(None),
    );
}

/// An answer that never comes: the server reads the request, then says
/// nothing for longer than any bound here.
fn hang() -> Scripted {
    Scripted {
        delivery: Delivery::Silent(ENTRA.budget * 4),
        ..Scripted::status(200)
    }
}

#[test]
#[ignore = "slow: waits out the helper's own time limits; run with `cargo test --test it faults:: -- --ignored` (CI does)"]
fn a_hanging_connection() {
    // Once: that attempt times out, the next one gets the token.
    let w = World::new();
    w.entra.push_response(hang());
    let (out, took) = timed_get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 2);
    assert!(
        took >= ENTRA.attempt_timeout && took <= ENTRA.attempt_timeout + ENTRA.backoff(1) + SLACK,
        "{took:?}"
    );

    // For good, after a long Retry-After: the budget bounds the waits and
    // the requests together. Run beside the cache checks (each takes about
    // the budget).
    let cold = std::thread::spawn(|| {
        let w = World::new();
        w.entra.push_response(Scripted {
            retry_after: Some((ENTRA.budget.as_secs() / 2).to_string()),
            ..Scripted::status(429)
        });
        w.entra.set_outage(Some(hang()));
        let (out, took) = timed_get(&w);
        let line = one_error(&out);
        assert!(line.contains("Entra did not answer within"), "{line}");
        assert!(took <= ENTRA.budget + SLACK, "{took:?}");
        assert_not_cached(&w);
    });
    let w = World::new();
    cache_survives(
        &w,
        |w| w.entra.set_outage(Some(hang())),
        |w| w.entra.set_outage(None),
    );
    cold.join().expect("the cold half passed");
}

#[test]
#[ignore = "slow: waits out the helper's own time limits; run with `cargo test --test it faults:: -- --ignored` (CI does)"]
fn connection_resets() {
    let w = World::new();
    let front = Front::start(&w);
    // Two resets, then the connection works: retried after the backoffs.
    front.push(Fault::Reset);
    front.push(Fault::Reset);
    let (out, took) = timed_get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 1, "the resets never reached Entra");
    let backoffs = ENTRA.backoff(1) + ENTRA.backoff(2);
    assert!(took >= backoffs && took <= backoffs + SLACK, "{took:?}");

    // Reset for good: the token cached before is served, within the budget.
    w.helper(&["cache", "clear"], "");
    forget_failures(&w);
    cache_survives(
        &w,
        |_| front.set_forever(Some(Fault::Reset)),
        |_| front.set_forever(None),
    );
    let requests = w.token_requests();
    front.set_forever(Some(Fault::Reset));
    w.helper(&["cache", "clear"], "");
    forget_failures(&w);
    let (out, took) = timed_get(&w);
    let line = one_error(&out);
    assert!(line.contains("could not reach Entra"), "{line}");
    assert!(took <= ENTRA.budget + SLACK, "{took:?}");
    assert_eq!(w.token_requests(), requests);
    assert_not_cached(&w);
}
