//! The device-code sign-in: the code and instructions on stderr (never
//! stdout, which is git's), then polling that honours `interval`,
//! `slow_down`, `expired_token` and `authorization_declined`. Many tenants
//! block device code by Conditional Access (AADSTS53003, 530033): then the
//! message names the flows that still work.

use std::time::{Duration, Instant};

use crate::entra::{self, EntraError};
use crate::identity::Error;
use crate::token::TokenResponse;

use super::User;
use crate::identity::AcquireCx;

/// Codes by which Entra refuses device code by policy.
const POLICY_CODES: [u64; 4] = [53003, 530033, 530034, 530035];

const ALTERNATIVES: &str = "Fix: sign in with the browser (`git-credential-entra login --flow browser`) or, over SSH or in a container, by pasting the redirect address (`--flow paste`); or use an `azure-cli` identity after `az login`";

/// The device-code flow, from the code to tokens.
pub fn sign_in(user: &User, cx: &AcquireCx) -> Result<TokenResponse, Error> {
    let fail = |problem: String| Error::SignIn {
        identity: cx.identity.to_string(),
        flow: "device-code",
        problem,
    };
    let entra_err = |source: EntraError| match blocked(&source) {
        Some(code) => fail(format!(
            "Entra refuses device-code sign-in here by policy (AADSTS{code}: {}). {ALTERNATIVES}",
            entra::aadsts(code).0
        )),
        None => Error::Entra {
            identity: cx.identity.to_string(),
            step: "device code",
            source: Box::new(source),
        },
    };
    let http = cx.entra_client(&user.authority)?;
    let tenant = user.tenant_for(cx);
    let dc = entra::device_code(
        &http,
        &user.authority,
        &tenant,
        &user.client_id,
        &entra::user_scope(cx.resource),
        cx.trace,
    )
    .map_err(entra_err)?;
    match &dc.message {
        Some(m) => cx
            .prompt
            .say(format_args!("identity '{}': {m}", cx.identity)),
        None => cx.prompt.say(format_args!(
            "identity '{}': to sign in, open {} and enter the code {}",
            cx.identity, dc.verification_uri, dc.user_code
        )),
    }
    let deadline = Instant::now() + Duration::from_secs(dc.expires_in);
    let mut interval = Duration::from_secs(dc.interval);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(expired()));
        }
        std::thread::sleep(interval.min(left));
        let polled = entra::device_code_poll(
            &http,
            &user.authority,
            &tenant,
            &user.client_id,
            &dc.device_code,
            cx.trace,
        );
        let err = match polled {
            Ok(answer) => return Ok(answer),
            Err(e) => e,
        };
        let (error, codes) = err.refusal().unwrap_or(("", &[]));
        match error {
            "authorization_pending" => {}
            "slow_down" => {
                // RFC 8628 §3.5: five more seconds for this and every later poll.
                interval += Duration::from_secs(5);
                cx.trace.detail(format_args!(
                    "device code: slow_down, polling every {} s",
                    interval.as_secs()
                ));
            }
            "expired_token" => return Err(fail(expired())),
            "authorization_declined" => {
                return Err(fail(
                    "the sign-in was declined on the device-code page. Fix: run `git-credential-entra login` again and approve it".into(),
                ));
            }
            "bad_verification_code" => {
                return Err(fail(
                    "Entra no longer knows this code. Fix: run `git-credential-entra login` again"
                        .into(),
                ));
            }
            _ if codes.contains(&70019) => return Err(fail(expired())),
            _ => return Err(entra_err(err)),
        }
    }
}

/// The policy code when Entra refused device code by Conditional Access.
fn blocked(e: &EntraError) -> Option<u64> {
    e.refusal()?
        .1
        .iter()
        .copied()
        .find(|c| POLICY_CODES.contains(c))
}

fn expired() -> String {
    "the code expired before the sign-in finished. Fix: run `git-credential-entra login --flow device-code` again and enter the new code within its time".into()
}
