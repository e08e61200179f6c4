use super::*;

#[test]
fn effective_margin_is_min_of_margin_and_half_life() {
    let t = AccessToken::with_times(1000 + 3600, 1000, None);
    assert_eq!(t.margin(300), 300);
    assert_eq!(t.git_expiry(300, 1000), 4300);
    assert_eq!(
        t.git_expiry(300, 4300),
        4600,
        "past the margin: the real expiry"
    );
    let short = AccessToken::with_times(1200, 1000, None);
    assert_eq!(short.margin(300), 100);
    assert_eq!(short.git_expiry(300, 1000), 1100);
    assert_eq!(short.freshness(1099, 300), Freshness::Fresh);
    assert_eq!(short.freshness(1100, 300), Freshness::RefreshDue);
    assert_eq!(short.freshness(1200, 300), Freshness::Expired);
}

#[test]
fn refresh_in_makes_a_token_due_early() {
    let t = AccessToken::with_times(10_000, 1000, Some(2000));
    assert_eq!(t.freshness(1999, 300), Freshness::Fresh);
    assert_eq!(t.freshness(2000, 300), Freshness::RefreshDue);
}

#[test]
fn margin_arithmetic_survives_extreme_times() {
    let far = AccessToken::with_times(i64::MAX, i64::MIN, None);
    assert_eq!(far.margin(300), 300);
    assert_eq!(far.freshness(0, 300), Freshness::Fresh);
    assert_eq!(far.git_expiry(300, 0), i64::MAX - 300);
    let backwards = AccessToken::with_times(i64::MIN, i64::MAX, None);
    assert_eq!(backwards.margin(300), 0);
    assert_eq!(backwards.freshness(0, 300), Freshness::Expired);
    let early = AccessToken::with_times(i64::MIN + 10, i64::MIN, None);
    assert_eq!(early.margin(300), 5);
    assert_eq!(early.git_expiry(300, i64::MIN), i64::MIN + 5);
    assert_eq!(early.freshness(i64::MIN, 300), Freshness::Fresh);
    assert_eq!(
        AccessToken::with_times(1000, 0, None).margin(-50),
        0,
        "a negative margin never extends a token"
    );
}

#[test]
fn entries_round_trip_and_corrupt_ones_are_misses() {
    let t = AccessToken::with_times(5000, 1000, Some(3000));
    let json = t.to_json();
    assert_eq!(AccessToken::from_json(json.expose()), Some(t));
    for bad in [
        "",
        "{",
        "null",
        r#"{"v":2,"access_token":"a","expires_on":2,"obtained":1}"#,
        r#"{"v":1,"access_token":"","expires_on":2,"obtained":1}"#,
        r#"{"v":1,"access_token":"a","expires_on":2,"obtained":1,"refresh_token":"r"}"#,
    ] {
        assert_eq!(AccessToken::from_json(bad), None, "{bad}");
    }
    assert!(!json.expose().contains("refresh_token"));
}

/// A stored entry holding `access_token`, fresh for an hour.
fn entry_with(access_token: &str) -> String {
    let now = crate::sys::time::now();
    serde_json::json!({
        "v": 1, "access_token": access_token, "expires_on": now + 3600, "obtained": now
    })
    .to_string()
}

#[test]
fn cached_tokens_follow_the_rules_of_fresh_ones() {
    let too_long = "x".repeat(MAX_TOKEN_BYTES + 1);
    for bad in [
        "eyJ0.eyJh\n.sig",
        "eyJ0.eyJh\r.sig",
        "eyJ0.eyJh\0.sig",
        "two words",
        "esc\u{1b}[31m",
        "bell\u{7}",
        "caf\u{e9}",
        "==",
        "a=b",
        "",
        too_long.as_str(),
    ] {
        assert_eq!(
            AccessToken::from_json(&entry_with(bad)),
            None,
            "cached {bad:?}"
        );
        let body = serde_json::json!({ "access_token": bad, "expires_in": 3600 }).to_string();
        assert!(
            crate::entra::parse_token(200, &body, 1000).is_err(),
            "fresh {bad:?}"
        );
    }
    let longest = "x".repeat(MAX_TOKEN_BYTES);
    for good in ["eyJ0eXAi.eyJhdWQi.c2ln-_~+/==", "a", longest.as_str()] {
        let cached = AccessToken::from_json(&entry_with(good)).expect("a valid cached token");
        assert_eq!(cached.token.expose(), good);
        let body = serde_json::json!({ "access_token": good, "expires_in": 3600 }).to_string();
        assert!(
            crate::entra::parse_token(200, &body, 1000).is_ok(),
            "fresh {good:?}"
        );
    }
}

#[test]
fn a_response_becomes_a_token_without_its_refresh_token() {
    let response = TokenResponse {
        access_token: Secret::new("tok".into()),
        expires_on: 4600,
        obtained: 1000,
        refresh_in: Some(1800),
        refresh_token: Some(Secret::new("refresh-me".into())),
    };
    assert_eq!(
        response.clone().into_access_token(),
        AccessToken::with_times(4600, 1000, Some(2800))
    );
    let json = response.into_access_token().to_json();
    assert!(!json.expose().contains("refresh-me"), "{}", json.expose());
    let beyond = TokenResponse {
        access_token: Secret::new("tok".into()),
        expires_on: 2000,
        obtained: 1000,
        refresh_in: Some(i64::MAX),
        refresh_token: None,
    };
    assert_eq!(
        beyond.into_access_token().refresh_on,
        Some(2000),
        "never past expiry"
    );
    let never = TokenResponse {
        access_token: Secret::new("tok".into()),
        expires_on: 2000,
        obtained: 1000,
        refresh_in: Some(0),
        refresh_token: None,
    };
    assert_eq!(never.into_access_token().refresh_on, None);
}
