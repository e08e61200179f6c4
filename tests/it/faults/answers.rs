//! Faults in what Entra answers: a body cut short, a token that is not a
//! JWT, a token already expired, claims from a clock ten minutes off.

use serde_json::json;

use super::front::{Fault, Front};
use super::{
    ENTRA, MARGIN, SLACK, assert_not_cached, cache_row, cache_survives, fresh_token, one_error,
    timed_get,
};
use crate::support::world::{NEW_GIT, World, field, token_of};
use crate::support::{Delivery, Scripted, now_secs, register_sensitive, scan};

/// A 200 whose body is `body`.
fn ok_body(body: &str) -> Scripted {
    Scripted {
        body: body.to_string(),
        ..Scripted::status(200)
    }
}

/// An answer whose head and half its body arrive, then nothing more.
fn stalled() -> Scripted {
    Scripted {
        delivery: Delivery::StallMidBody(ENTRA.budget * 4),
        ..Scripted::status(200)
    }
}

#[test]
#[ignore = "slow: waits out the helper's own time limits; run with `cargo test --test it faults:: -- --ignored` (CI does)"]
fn truncated_bodies() {
    // Stalled halfway for good: a timeout within the budget, said as one
    // (not as a bad answer). Beside the rest: it takes about the budget.
    let for_good = std::thread::spawn(|| {
        let w = World::new();
        w.entra.set_outage(Some(stalled()));
        let (out, took) = timed_get(&w);
        let line = one_error(&out);
        assert!(
            line.contains("stopped arriving") && line.contains("timed out"),
            "{line}"
        );
        assert!(!line.contains("not JSON"), "{line}");
        assert!(took <= ENTRA.budget + SLACK, "{took:?}");
        assert_not_cached(&w);
    });
    // Cut by the connection closing (fewer bytes than Content-Length):
    // retried after the backoff.
    let w = World::new();
    let front = Front::start(&w);
    front.push(Fault::Cut);
    let (out, took) = timed_get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 2);
    assert!(took <= ENTRA.backoff(1) + SLACK, "{took:?}");
    assert_eq!(
        token_of(&out.stdout),
        w.entra.issued_tokens()[1],
        "the second token; the cut one was not used"
    );
    drop(front);

    // Stalled halfway: that attempt times out, the next gets the token.
    let w = World::new();
    w.entra.push_response(stalled());
    let (out, took) = timed_get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 2);
    assert!(
        took >= ENTRA.attempt_timeout && took <= ENTRA.attempt_timeout + ENTRA.backoff(1) + SLACK,
        "{took:?}"
    );

    // Complete, but the JSON stops midway: the same server would say the
    // same again, so one error at once, and nothing cached.
    let w = World::new();
    let cut =
        ok_body(r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi"#);
    w.entra.push_response(cut.clone());
    let (out, took) = timed_get(&w);
    let line = one_error(&out);
    assert!(
        line.contains("Entra's answer (HTTP 200) is not a token response: not JSON"),
        "{line}"
    );
    assert!(took <= SLACK, "{took:?}");
    assert_eq!(w.token_requests(), 1, "not retried");
    assert_not_cached(&w);
    cache_survives(
        &w,
        |w| w.entra.set_outage(Some(cut.clone())),
        |w| w.entra.set_outage(None),
    );
    for_good.join().expect("a lasting stall failed clearly");
}

#[test]
fn tokens_that_are_not_jwts() {
    // Opaque (Entra may issue them; tokens are opaque to clients): served
    // and cached for its expires_in like any other; the username, which
    // no claim names, is `entra`.
    let w = World::new();
    let opaque = format!(
        "opaque.{}~-_",
        crate::support::random_guid().replace('-', "")
    );
    scan::register(scan::Kind::AccessToken, &opaque);
    w.entra.push_response(ok_body(
        &json!({"token_type": "Bearer", "expires_in": 3599, "access_token": opaque}).to_string(),
    ));
    let before = now_secs() as i64;
    let (out, _) = timed_get(&w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), opaque);
    assert_eq!(field(&out.stdout, "username"), Some("entra"));
    let expiry: i64 = field(&out.stdout, "password_expiry_utc")
        .and_then(|e| e.parse().ok())
        .expect("an expiry");
    let expected = before + 3599 - MARGIN;
    assert!(
        (expected..=expected + SLACK.as_secs() as i64).contains(&expiry),
        "{expiry}"
    );
    let (again, _) = timed_get(&w);
    assert_eq!(token_of(&again.stdout), opaque);
    assert_eq!(w.token_requests(), 1, "served from the cache");
    assert!(cache_row(&w).contains("fresh"));

    // Not something a bearer header (or git's protocol) can carry: refused.
    let w = World::new();
    for bad in [
        "eyJhbGciOi JSUzI1NiJ9.e30.sig",
        "eyJhbGciOiJSUzI1NiJ9\n.e30.sig",
    ] {
        register_sensitive(bad.trim());
        w.entra.push_response(ok_body(
            &json!({"token_type": "Bearer", "expires_in": 3599, "access_token": bad}).to_string(),
        ));
        let (out, took) = timed_get(&w);
        let line = one_error(&out);
        assert!(
            line.contains("characters a bearer token cannot contain"),
            "{line}"
        );
        assert!(took <= SLACK, "{took:?}");
        assert_not_cached(&w);
        super::forget_failures(&w);
    }
}

#[test]
fn tokens_expired_on_arrival() {
    let w = World::new();
    let token = crate::support::jwt::sign(&json!({"aud": "x", "exp": now_secs()}));
    let answers = [
        (
            json!({"token_type": "Bearer", "expires_in": 0, "access_token": token}),
            "the token arrived already expired (expires_in 0)",
        ),
        (
            json!({"token_type": "Bearer", "expires_on": now_secs() - 60, "access_token": token}),
            "the token arrived already expired (expires_on is",
        ),
    ];
    for (body, message) in &answers {
        w.entra.push_response(ok_body(&body.to_string()));
        let (out, took) = timed_get(&w);
        let line = one_error(&out);
        assert!(line.contains(message), "{line}");
        assert!(took <= SLACK, "{took:?}");
        assert_not_cached(&w);
        super::forget_failures(&w);
    }
    let expired = ok_body(&answers[0].0.to_string());
    cache_survives(
        &w,
        |w| w.entra.set_outage(Some(expired.clone())),
        |w| w.entra.set_outage(None),
    );
}

/// Whether git could fetch the test repository through the helper.
fn fetch(w: &World, dir: &str) -> crate::support::RunOutput {
    let work = w.env.path().join(dir);
    let work = work.to_str().expect("utf8");
    w.env
        .run(w.env.git(NEW_GIT).args(["-C", work, "fetch", "-q"]), b"")
}

/// A token whose own `exp` is already past while `expires_in` says an hour
/// (the issuer's clock far behind): the helper cannot know — it does not
/// judge tokens by their claims — so Azure DevOps refuses it, git reports
/// the failure and erases it, and the token is not kept; once the issuer
/// is right again, the next fetch works.
#[test]
fn a_token_azure_devops_finds_expired_is_erased() {
    let w = World::new();
    w.configure_git();
    w.env.git_ok(NEW_GIT, &["clone", "-q", &w.repo_url, "r"]);
    w.helper(&["cache", "clear"], "");
    // Ten minutes past its expiry when it arrives.
    w.entra.set_clock_skew(-(3599 + 600));
    let failed = fetch(&w, "r");
    assert!(!failed.status.success(), "Azure DevOps refused it");
    assert!(
        failed.stderr.contains("Authentication failed"),
        "{}",
        failed.stderr
    );
    assert_not_cached(&w);
    w.entra.set_clock_skew(0);
    let requests = w.token_requests();
    let ok = fetch(&w, "r");
    assert!(ok.status.success(), "{}", ok.stderr);
    assert_eq!(w.token_requests(), requests + 1);
    assert!(cache_row(&w).contains("fresh"));
}

#[test]
fn clock_skew_of_ten_minutes_either_way() {
    for skew in [-600i64, 600] {
        let w = World::new();
        w.entra.set_clock_skew(skew);
        // Through real git: cloned and pushed with the skewed token.
        w.clone_and_push("r");
        let issued = w.entra.issued_tokens();
        assert_eq!(issued.len(), 1, "skew {skew}: one token, reused by git");
        let claims = crate::support::jwt::verify(&issued[0]).expect("our JWT");
        let iat = claims["iat"].as_i64().expect("iat");
        assert!(
            (iat - (now_secs() as i64 + skew)).abs() <= SLACK.as_secs() as i64 * 3,
            "skew {skew}: the fake's clock is off"
        );
        // The expiry git is given counts from our clock, not the claims.
        w.helper(&["cache", "clear"], "");
        let before = now_secs() as i64;
        let token = fresh_token(&w);
        let (out, _) = timed_get(&w);
        assert_eq!(token_of(&out.stdout), token, "skew {skew}: cached");
        let expiry: i64 = field(&out.stdout, "password_expiry_utc")
            .and_then(|e| e.parse().ok())
            .expect("an expiry");
        let expected = before + 3599 - MARGIN;
        assert!(
            (expected..=expected + SLACK.as_secs() as i64).contains(&expiry),
            "skew {skew}: {expiry} vs {expected}"
        );
    }
}
