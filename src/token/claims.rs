//! Reading (not verifying) the claims of an access token we were just given.
//!
//! The helper only needs claims for display and the Basic username; the token's
//! authenticity is Azure DevOps's business, so no signature check happens here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The claims this helper looks at.
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    /// User principal name (users, v1 tokens).
    pub upn: Option<String>,
    /// Legacy user name claim.
    pub unique_name: Option<String>,
    /// User name (v2 tokens).
    pub preferred_username: Option<String>,
    /// Application id (v1 tokens).
    pub appid: Option<String>,
    /// Authorized party: application id (v2 tokens).
    pub azp: Option<String>,
    /// Tenant id (shown by `token --format json`).
    pub tid: Option<String>,
    /// Expiry, seconds since the epoch; read only for a token that comes with
    /// no lifetime of its own (the Azure Pipelines job token).
    #[serde(default, deserialize_with = "crate::token::number_or_string")]
    pub exp: Option<i64>,
}

impl Claims {
    /// Decodes the payload of a compact JWT; `None` when it is not one.
    pub fn of(token: &str) -> Option<Claims> {
        let payload = token.split('.').nth(1)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The Basic-auth username git sends: the user's name, else the app id,
    /// else `entra`. Never empty and never containing `:` (RFC 7617 splits there).
    pub fn username(&self) -> String {
        let name = [
            &self.upn,
            &self.unique_name,
            &self.preferred_username,
            &self.appid,
            &self.azp,
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .map(String::as_str)
        .unwrap_or("entra");
        name.chars()
            .map(|c| if c == ':' || c.is_control() { '_' } else { c })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn username_prefers_user_names_then_app_ids() {
        let c = Claims::of(&token(r#"{"upn":"ann@contoso.com","appid":"a"}"#)).expect("jwt");
        assert_eq!(c.username(), "ann@contoso.com");
        let c = Claims::of(&token(r#"{"appid":"1111","tid":"t"}"#)).expect("jwt");
        assert_eq!(c.username(), "1111");
        let c = Claims::of(&token(r#"{"azp":"2222"}"#)).expect("jwt");
        assert_eq!(c.username(), "2222");
        let c = Claims::of(&token(r#"{"oid":"x"}"#)).expect("jwt");
        assert_eq!(c.username(), "entra");
    }

    #[test]
    fn username_never_contains_colon() {
        let c = Claims::of(&token(r#"{"preferred_username":"id://abc"}"#)).expect("jwt");
        assert_eq!(c.username(), "id_//abc");
    }

    #[test]
    fn expiry_is_read_from_numbers_and_strings() {
        let exp = |claims: &str| Claims::of(&token(claims)).expect("jwt").exp;
        assert_eq!(exp(r#"{"exp":1700000000}"#), Some(1_700_000_000));
        assert_eq!(exp(r#"{"exp":"1700000000"}"#), Some(1_700_000_000));
        assert_eq!(exp(r#"{"exp":"soon"}"#), None);
        assert_eq!(exp(r#"{"appid":"a"}"#), None);
    }

    #[test]
    fn not_a_jwt_is_none() {
        assert!(Claims::of("opaque").is_none());
        assert!(Claims::of("a.!!!.c").is_none());
    }
}
