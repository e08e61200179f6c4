//! The authorization code with PKCE (S256) that the browser and paste
//! sign-ins share: the verifier and `state`, the authorize URL, reading the
//! redirect's query (its `state` checked first) and redeeming the code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::entra::{self, CodeRedemption};
use crate::identity::AcquireCx;
use crate::identity::Error;
use crate::sys::secret::Secret;
use crate::sys::text::sanitize;
use crate::token::TokenResponse;

use super::User;

/// One sign-in's secrets: the PKCE verifier and the `state` nonce.
pub struct Pkce {
    pub verifier: Secret<String>,
    pub state: String,
}

impl Pkce {
    /// 32 random bytes each: a 43-character verifier, as MSAL makes.
    pub fn new() -> Result<Pkce, String> {
        let rng = SystemRandom::new();
        let random = |n: usize| {
            let mut buf = vec![0u8; n];
            rng.fill(&mut buf)
                .map_err(|_| "the system's random number generator failed".to_string())?;
            Ok::<_, String>(URL_SAFE_NO_PAD.encode(buf))
        };
        Ok(Pkce {
            verifier: Secret::new(random(32)?),
            state: random(16)?,
        })
    }

    /// `b64url(sha256(verifier))`.
    pub fn challenge(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.verifier.expose().as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }
}

/// The authorize URL for `redirect_uri`.
pub fn authorize_url(
    user: &User,
    cx: &AcquireCx,
    pkce: &Pkce,
    redirect_uri: &str,
) -> Result<String, String> {
    let base = format!(
        "{}/{}/oauth2/v2.0/authorize",
        user.authority,
        user.tenant_for(cx)
    );
    let mut url = url::Url::parse(&base).map_err(|e| format!("bad authorize URL {base}: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &user.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", &entra::user_scope(cx.resource))
            .append_pair("state", &pkce.state)
            .append_pair("code_challenge", &pkce.challenge())
            .append_pair("code_challenge_method", "S256");
        match &user.login_hint {
            Some(hint) => q.append_pair("login_hint", hint),
            None => q.append_pair("prompt", "select_account"),
        };
    }
    Ok(url.into())
}

/// What the redirect's query said.
pub enum Redirect {
    /// A code, with the right `state`.
    Code(Secret<String>),
    /// Entra's error (`access_denied`…) with the right `state`: the message.
    Refused(String),
    /// A sign-in answer whose `state` is missing or wrong: not this
    /// sign-in's (an old tab, or another local program), so it is ignored.
    Foreign,
    /// Not a sign-in answer (an empty query).
    Other,
}

/// Reads `code`, `state`, `error` from a redirect's query. The `state` is
/// checked before anything else: any local program can send a query here,
/// and only Entra's answer to this sign-in carries its `state`.
pub fn read_redirect(query: &str, state: &str) -> Redirect {
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    match &got_state {
        Some(s) if same(s, state) => {}
        None if code.is_none() && error.is_none() => return Redirect::Other,
        _ => return Redirect::Foreign,
    }
    if let Some(error) = error {
        let error = sanitize(&error);
        let text = description
            .map(|d| format!(": {}", sanitize(d.lines().next().unwrap_or(""))))
            .unwrap_or_default();
        let fix = if error == "access_denied" {
            "sign-in was cancelled or consent was refused. Fix: sign in again and accept; if your organization requires admin consent for the app, ask an administrator (or set client_id to an app your tenant allows)"
        } else {
            "Fix: sign in again; if it persists, check tenant and client_id"
        };
        return Redirect::Refused(format!("Entra answered {error}{text}; {fix}"));
    }
    match code {
        Some(code) if !code.is_empty() => Redirect::Code(Secret::new(code)),
        _ => Redirect::Other,
    }
}

/// Whether two `state`s are equal, in a time that does not depend on where
/// they differ (a local program may time its guesses).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// Redeems `code` for tokens.
pub fn redeem(
    user: &User,
    cx: &AcquireCx,
    code: &Secret<String>,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<TokenResponse, Error> {
    let http = cx.entra_client(&user.authority)?;
    let tenant = user.tenant_for(cx);
    let scope = entra::user_scope(cx.resource);
    entra::authorization_code(
        &http,
        &CodeRedemption {
            authority: &user.authority,
            tenant: &tenant,
            client_id: &user.client_id,
            scope: &scope,
            code,
            redirect_uri,
            verifier: &pkce.verifier,
        },
        cx.trace,
    )
    .map_err(|source| Error::Entra {
        identity: cx.identity.to_string(),
        step: "authorization code",
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        let pkce = Pkce {
            verifier: Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
            state: "s".into(),
        };
        // RFC 7636 appendix B.
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = Pkce::new().expect("rng");
        assert_eq!(fresh.verifier.expose().len(), 43);
        assert_ne!(fresh.state, Pkce::new().expect("rng").state);
    }

    #[test]
    fn redirects_are_checked_for_state_first() {
        assert!(
            matches!(read_redirect("code=abc&state=s1", "s1"), Redirect::Code(c) if c.expose() == "abc")
        );
        assert!(matches!(
            read_redirect("error=access_denied&error_description=AADSTS65004%3A+User+declined%0Amore&state=s1", "s1"),
            Redirect::Refused(m) if m.contains("access_denied: AADSTS65004: User declined;") && !m.contains("more")
        ));
        // Without this sign-in's state nothing counts, not even an error.
        for foreign in [
            "code=abc&state=s2",
            "code=abc",
            "error=access_denied",
            "error=access_denied&state=s2",
            "state=s",
            "state=s10",
        ] {
            assert!(
                matches!(read_redirect(foreign, "s1"), Redirect::Foreign),
                "{foreign}"
            );
        }
        assert!(matches!(read_redirect("", "s1"), Redirect::Other));
        assert!(matches!(read_redirect("state=s1", "s1"), Redirect::Other));
    }
}
