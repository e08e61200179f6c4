//! Token endpoint answers: the success parser and the error parser.
//!
//! A success gives a token that passes the token rules, a lifetime in
//! (0, 24 h], a `refresh_in` within the lifetime, and a cache entry that
//! reads back equal. An error answer is described without any value we sent
//! (a client secret or assertion a server might echo), and without control
//! characters.

use git_credential_entra::entra::{MAX_LIFETIME_SECS, parse_error, parse_token};
use git_credential_entra::token::AccessToken;

/// The secret "sent" with every error parse; the marker `§` never occurs in
/// the helper's own text, so finding the value in a message means a leak.
const SENT_SECRET: &str = "s3cret§fuzz";

/// `data` = status (2 bytes), clock (4 bytes), then the body.
pub fn check(data: &[u8]) {
    if data.len() < 6 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]);
    // Our own clock: any plausible time, not a value a server controls.
    let received =
        1_700_000_000 + i64::from(u32::from_be_bytes([data[2], data[3], data[4], data[5]]));
    let Ok(body) = std::str::from_utf8(&data[6..]) else {
        return;
    };
    success(body, received);
    error(status, body);
}

fn success(body: &str, received: i64) {
    match parse_token(200, body, received) {
        Ok(t) => {
            assert!(AccessToken::check_token(t.access_token.expose()).is_ok());
            assert_eq!(t.obtained, received);
            let lifetime = t.expires_on - t.obtained;
            assert!(
                lifetime > 0 && lifetime <= MAX_LIFETIME_SECS,
                "lifetime {lifetime}"
            );
            if let Some(r) = t.refresh_in {
                assert!(
                    r > 0 && r <= lifetime,
                    "refresh_in {r} outside (0, {lifetime}]"
                );
            }
            if let Some(rt) = &t.refresh_token {
                assert!(!rt.expose().is_empty());
            }
            let cached = t.into_access_token();
            let stored = cached.to_json();
            let back = AccessToken::from_json(stored.expose()).expect("a cache entry reads back");
            assert_eq!(
                back, cached,
                "the cache entry changed on the way through the store"
            );
        }
        Err(e) => {
            // The error never quotes the token it could not use.
            let message = e.to_string();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
                && let Some(token) = v.get("access_token").and_then(|t| t.as_str())
                && token.len() >= 8
            {
                assert!(
                    !message.contains(token),
                    "a rejected token is quoted in the error"
                );
            }
        }
    }
}

fn error(status: u16, body: &str) {
    let sent = [
        ("client_secret", SENT_SECRET),
        ("grant_type", "client_credentials"),
    ];
    let message = parse_error(status, body, &sent).to_string();
    assert!(
        !message.contains(SENT_SECRET),
        "an echoed secret reached the error message"
    );
    assert!(
        !message.chars().any(char::is_control),
        "server text with a control character reached the error message: {message:?}"
    );
}
