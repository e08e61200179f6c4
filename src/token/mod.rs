//! Access tokens: what a token endpoint answered ([`TokenResponse`]) and
//! the form that is cached and served ([`AccessToken`]), with the rules that
//! decide when a token is fresh, when to refresh it, and what counts as a
//! token at all.
//!
//! The cached form never carries a refresh token: that stays in the answer,
//! for a source that keeps it somewhere safer than the token cache.

pub mod claims;
pub(crate) mod error;
pub(crate) mod flow;
pub(crate) mod lock;
pub(crate) mod outage;

use serde::{Deserialize, Serialize};

use crate::sys::secret::Secret;

/// The longest serialised [`AccessToken`] accepted: the cache's entry limit.
pub const MAX_STORED_BYTES: usize = 64 * 1024;

/// The longest access token accepted, fresh or cached: an entry holding it
/// (plus a few numbers) fits in [`MAX_STORED_BYTES`], and git's 65535-byte
/// line limit leaves room for `credential=`.
pub const MAX_TOKEN_BYTES: usize = MAX_STORED_BYTES - 1024;

/// IMDS, App Service and v1 endpoints send numbers as strings.
pub fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// What a token endpoint answered, before it is cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token, already checked by [`AccessToken::check_token`].
    pub access_token: Secret<String>,
    /// Expiry, seconds since the epoch.
    pub expires_on: i64,
    /// When we received it.
    pub obtained: i64,
    /// Seconds after `obtained` when the issuer asks for a new token.
    pub refresh_in: Option<i64>,
    /// A refresh token, when the grant returns one (user sign-in).
    pub refresh_token: Option<Secret<String>>,
}

impl TokenResponse {
    /// The form that is cached and served: the refresh token is dropped here,
    /// so it can never reach a token store or git.
    pub fn into_access_token(self) -> AccessToken {
        let lifetime = self.expires_on.saturating_sub(self.obtained).max(0);
        AccessToken {
            token: self.access_token,
            expires_on: self.expires_on,
            obtained: self.obtained,
            refresh_on: self
                .refresh_in
                .filter(|r| *r > 0)
                .map(|r| self.obtained.saturating_add(r.min(lifetime))),
        }
    }
}

/// An access token with the times that decide when to use and refresh it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token.
    pub token: Secret<String>,
    /// Expiry, seconds since the epoch.
    pub expires_on: i64,
    /// When we received it.
    pub obtained: i64,
    /// `obtained + refresh_in` when Entra sent `refresh_in`.
    pub refresh_on: Option<i64>,
}

const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    v: u32,
    access_token: String,
    expires_on: i64,
    obtained: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_on: Option<i64>,
}

/// How fresh a cached token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it.
    Fresh,
    /// Still valid, but past the margin or `refresh_in`: get a new one.
    RefreshDue,
    /// Past its expiry.
    Expired,
}

#[cfg(test)]
impl AccessToken {
    /// A token named `tok` with these times, for tests of the rules.
    pub fn with_times(expires_on: i64, obtained: i64, refresh_on: Option<i64>) -> AccessToken {
        AccessToken {
            token: Secret::new("tok".into()),
            expires_on,
            obtained,
            refresh_on,
        }
    }
}

impl AccessToken {
    /// The one rule for an access token, applied to a fresh token response
    /// and to every cached entry: whatever it lets through can be sent to git
    /// and in an `Authorization: Bearer` header. Tokens are RFC 6750
    /// `b64token`s (JWTs are base64url and dots); anything else — a line
    /// break, a space, a NUL — would make git stop or send a broken header.
    pub fn check_token(token: &str) -> Result<(), &'static str> {
        if token.is_empty() {
            return Err("the access_token is empty");
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err("the access_token is longer than 63 KiB");
        }
        let body = token.trim_end_matches('=');
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
        if body.is_empty() || !body.bytes().all(allowed) {
            return Err("the access_token has characters a bearer token cannot contain");
        }
        Ok(())
    }

    /// The effective margin: min(configured margin, lifetime / 2), so a
    /// short-lived token is still used for half its life.
    /// Saturating: entries come from stores other processes wrote, so the
    /// times may be anything.
    pub fn margin(&self, margin: i64) -> i64 {
        margin
            .max(0)
            .min(self.expires_on.saturating_sub(self.obtained).max(0) / 2)
    }

    /// The rule of contract §7.
    pub fn freshness(&self, now: i64, margin: i64) -> Freshness {
        if now >= self.expires_on {
            Freshness::Expired
        } else if now >= self.expires_on.saturating_sub(self.margin(margin))
            || self.refresh_on.is_some_and(|r| now >= r)
        {
            Freshness::RefreshDue
        } else {
            Freshness::Fresh
        }
    }

    /// `password_expiry_utc` for git: expiry minus the effective margin —
    /// unless that is already past (a still-valid token served during an
    /// outage), when git would drop it as expired: then the real expiry.
    pub fn git_expiry(&self, margin: i64, now: i64) -> i64 {
        let early = self.expires_on.saturating_sub(self.margin(margin));
        if early > now { early } else { self.expires_on }
    }

    /// Serialises for a store; the text holds the token, so it stays a `Secret`.
    pub fn to_json(&self) -> Secret<String> {
        let text = serde_json::to_string(&Stored {
            v: FORMAT_VERSION,
            access_token: self.token.expose().clone(),
            expires_on: self.expires_on,
            obtained: self.obtained,
            refresh_on: self.refresh_on,
        })
        .expect("a struct of strings and integers always serialises");
        Secret::new(text)
    }

    /// Parses a stored entry; `None` for anything corrupt, too large, of
    /// another version, or holding a token a fresh response could not carry.
    pub fn from_json(text: &str) -> Option<AccessToken> {
        if text.len() > MAX_STORED_BYTES {
            return None;
        }
        let s: Stored = serde_json::from_str(text).ok()?;
        (s.v == FORMAT_VERSION
            && AccessToken::check_token(&s.access_token).is_ok()
            && s.expires_on > s.obtained)
            .then(|| AccessToken {
                token: Secret::new(s.access_token),
                expires_on: s.expires_on,
                obtained: s.obtained,
                refresh_on: s.refresh_on,
            })
    }
}

#[cfg(test)]
mod tests;
