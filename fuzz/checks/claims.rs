//! Reading a token's claims: any text gives claims or none, never a panic;
//! claims read from a JWT's payload equal the payload's JSON; and the Basic
//! username derived from any token is one git's protocol can carry.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use git_credential_entra::git::protocol::{Response, format_response};
use git_credential_entra::sys::secret::Secret;
use git_credential_entra::token::claims::Claims;

/// Reads `data` as a token, and as the JSON payload of one.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(claims) = Claims::of(&text) {
        username_is_sendable(&claims);
    }
    let token = format!("eyJhbGciOiJSUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(data));
    let Some(claims) = Claims::of(&token) else {
        return;
    };
    username_is_sendable(&claims);
    // serde skips claims it does not read without validating them (an
    // unread string need not be UTF-8), so the payload may be no JSON value
    // at all; the claims that were read must still match one that is.
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    for (name, got) in [
        ("upn", &claims.upn),
        ("unique_name", &claims.unique_name),
        ("preferred_username", &claims.preferred_username),
        ("appid", &claims.appid),
        ("azp", &claims.azp),
        ("tid", &claims.tid),
    ] {
        let want = json.get(name).and_then(|v| v.as_str());
        assert_eq!(
            got.as_deref(),
            want,
            "claim {name} differs from the payload"
        );
    }
}

fn username_is_sendable(claims: &Claims) {
    let name = claims.username();
    let token = Secret::new("t0ken-value".to_string());
    let answer = Response::Basic {
        username: &name,
        password: &token,
        expiry: 0,
    };
    assert!(
        format_response(&answer).is_ok(),
        "git cannot be sent the username {name:?}"
    );
}
