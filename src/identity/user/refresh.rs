//! The silent half of a user identity: the refresh token from the OS
//! keyring, redeemed for a new access token; a rotated refresh token
//! replaces the old one (done by the caller, which keeps every answer's).

use crate::entra::{self, EntraError};
use crate::identity::Error;
use crate::token::TokenResponse;

use super::User;
use crate::identity::AcquireCx;

/// What the silent attempt came to.
pub enum Outcome {
    /// A token, without the person.
    Token(TokenResponse),
    /// The person must sign in; why, for the messages.
    SignIn(String),
}

/// Tries the refresh token. Fails only for errors a new sign-in would not fix
/// (the network, an outage); everything else asks for a sign-in.
pub fn silently(user: &User, cx: &AcquireCx) -> Result<Outcome, Error> {
    let keyring = match cx.secrets.keyring() {
        Ok(k) => k,
        Err(e) => {
            cx.trace.decision(format_args!(
                "{}: no keyring for a refresh token: {e}",
                cx.identity
            ));
            return Ok(Outcome::SignIn(
                "not signed in (no OS keyring keeps a sign-in here)".into(),
            ));
        }
    };
    let account = User::refresh_account(&user.fingerprint_in(cx));
    let rt = match keyring.get(&account) {
        Ok(Some(rt)) => rt,
        Ok(None) => return Ok(Outcome::SignIn("not signed in".into())),
        Err(e) => {
            cx.trace.decision(format_args!(
                "{}: reading the refresh token failed: {e}",
                cx.identity
            ));
            return Ok(Outcome::SignIn(
                "not signed in (the OS keyring could not be read)".into(),
            ));
        }
    };
    let http = cx.entra_client(&user.authority)?;
    cx.trace
        .decision(format_args!("{}: using the refresh token", cx.identity));
    match entra::refresh_token(
        &http,
        &user.authority,
        &user.tenant_for(cx),
        &user.client_id,
        &entra::user_scope(cx.resource),
        &rt,
        cx.trace,
    ) {
        Ok(answer) => Ok(Outcome::Token(answer)),
        Err(e) if e.needs_interaction() => {
            // A dead refresh token is dropped so later runs skip the round trip.
            if let Err(err) = keyring.remove(&account) {
                cx.trace
                    .detail(format_args!("dropping the refresh token failed: {err}"));
            }
            Ok(Outcome::SignIn(why_again(&e)))
        }
        Err(source) => Err(Error::Entra {
            identity: cx.identity.to_string(),
            step: "refresh",
            source: Box::new(source),
        }),
    }
}

/// Why the saved sign-in no longer works, in one clause.
fn why_again(e: &EntraError) -> String {
    match e.refusal() {
        Some((_, [code, ..])) => format!(
            "the saved sign-in can no longer be used (AADSTS{code}: {})",
            entra::aadsts(*code).0
        ),
        Some((error, [])) => format!("the saved sign-in can no longer be used ({error})"),
        None => "the saved sign-in can no longer be used".into(),
    }
}
