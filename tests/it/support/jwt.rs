//! HS256 JWTs signed with a per-process random key, so only this test process can mint tokens
//! that the fakes accept.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::SystemRandom;
use serde_json::Value;
use std::sync::OnceLock;

/// The process-wide signing key; random so a token from one test run never verifies in another.
fn key() -> &'static hmac::Key {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    KEY.get_or_init(|| {
        hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .expect("the system RNG should produce an HMAC key")
    })
}

/// Signs `claims` as an HS256 JWT and registers the token with the leak scanner.
pub fn sign(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("JSON values always serialize"));
    let signing_input = format!("{header}.{payload}");
    let tag = hmac::sign(key(), signing_input.as_bytes());
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    // Every token that exists in the process must be known to the leak check.
    // As an access token: one that is used as a client assertion is marked so
    // (stricter) when the fake Entra receives it.
    super::scan::register(super::scan::Kind::AccessToken, &token);
    token
}

/// Returns the claims of `token` if its header says HS256 and its signature is ours; ignores `exp`.
pub fn verify(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let signing_input = format!("{header}.{payload}");
    hmac::verify(key(), signing_input.as_bytes(), &sig).ok()?;
    // Check alg only after the signature so a forged header cannot steer anything.
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.is_object().then_some(claims)
}
