//! `pipeline-token`: the Azure Pipelines job token (`$(System.AccessToken)`),
//! returned as it is, for a pipeline that pushes to its own organization.
//!
//! Never cached: the job's token must not outlive the job in a keyring or a
//! file, and reading a variable costs nothing — so no cache, no lock file.

use crate::cache::Fingerprint;
use crate::identity::{Error, SecretError};
use crate::sys::secret::Secret;
use crate::sys::time::now;
use crate::token::AccessToken;
use crate::token::claims::Claims;

use super::{AcquireCx, Kind, TokenSource};

/// How long a job token whose expiry cannot be read is taken to last.
/// Git uses `password_expiry_utc` only to drop a credential it holds, and
/// this one is never stored by us; a short guess keeps a storage helper
/// that git may also run (credential-cache) from keeping it long. Twenty
/// minutes is less than a job token's usual life, so a token that really
/// is valid is not thrown away early in practice: git asks us again, and
/// we read the variable again.
pub const UNKNOWN_EXPIRY_SECS: i64 = 20 * 60;

/// How to give a script the job token in `var` (also for the Azure
/// Pipelines OIDC request, which needs it too).
pub fn system_accesstoken_hint(var: &str) -> String {
    let classic = if var == "SYSTEM_ACCESSTOKEN" {
        ""
    } else {
        " (it sets SYSTEM_ACCESSTOKEN; set the identity's \"variable\" to that)"
    };
    format!(
        "map the job's token into the step's environment: in YAML add `env: {var}: $(System.AccessToken)` to the step that runs git; in a classic pipeline enable \"Allow scripts to access the OAuth token\" on the agent job{classic}"
    )
}

/// The longest life believed from a token's own `exp` (a day, like Entra's).
const MAX_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// The job token in an environment variable.
#[derive(Debug, Clone)]
pub struct PipelineToken {
    /// The variable (default `SYSTEM_ACCESSTOKEN`).
    pub variable: String,
}

impl TokenSource for PipelineToken {
    fn kind(&self) -> Kind {
        Kind::PipelineToken
    }

    fn describe(&self) -> String {
        format!(
            "{}, the Azure Pipelines job token from ${}, never cached",
            self.kind(),
            self.variable
        )
    }

    fn fingerprint(&self) -> Fingerprint {
        super::key(self.kind(), "", "", &self.variable)
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        let fail = |cause| Error::Secret {
            identity: cx.identity.to_string(),
            cause,
        };
        let Some(value) = cx.env.get(&self.variable) else {
            return Err(fail(SecretError::PipelineTokenUnset {
                var: self.variable.clone(),
            }));
        };
        let token = value.trim();
        let unusable = |problem: String| {
            fail(SecretError::PipelineTokenUnusable {
                var: self.variable.clone(),
                problem,
            })
        };
        AccessToken::check_token(token)
            .map_err(|why| unusable(why.replace("access_token", "value")))?;
        let received = now();
        let expires_on = match Claims::of(token).and_then(|c| c.exp) {
            Some(exp) if exp <= received => {
                return Err(unusable(format!(
                    "the token expired at {} (jobs get a new one each run)",
                    crate::sys::time::rfc3339(exp)
                )));
            }
            Some(exp) => exp.min(received.saturating_add(MAX_LIFETIME_SECS)),
            None => received.saturating_add(UNKNOWN_EXPIRY_SECS),
        };
        cx.trace.decision(format_args!(
            "{}: the job token from ${}, valid until {}, not cached",
            cx.identity,
            self.variable,
            crate::sys::time::rfc3339(expires_on)
        ));
        Ok(AccessToken {
            token: Secret::new(token.to_string()),
            expires_on,
            obtained: received,
            refresh_on: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::sys::env::Env;
    use crate::sys::prompt::Prompt;
    use crate::sys::trace::Trace;

    fn acquire(env: &[(&str, &str)], variable: &str) -> Result<AccessToken, Error> {
        let env = Env::from_pairs(env.iter().copied());
        let trace = Trace::off();
        let mut out = Vec::new();
        let locks = std::path::Path::new("/nonexistent-locks");
        let ctx = crate::context::test::context(&env, &trace, Prompt::new(&mut out), locks);
        let cx = AcquireCx::new(&ctx, "job", None, None);
        PipelineToken {
            variable: variable.to_string(),
        }
        .acquire(&cx)
    }

    fn jwt(claims: &str) -> String {
        format!("eyJ0eXAiOiJKV1QifQ.{}.c2ln", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn expiry_comes_from_the_token_when_it_says() {
        let exp = now() + 3000;
        let t = acquire(
            &[("SYSTEM_ACCESSTOKEN", &jwt(&format!(r#"{{"exp":{exp}}}"#)))],
            "SYSTEM_ACCESSTOKEN",
        )
        .expect("token");
        assert_eq!(t.expires_on, exp);
        let t = acquire(&[("JOB_TOKEN", "opaque-token-value")], "JOB_TOKEN").expect("token");
        assert_eq!(t.expires_on - t.obtained, UNKNOWN_EXPIRY_SECS);
        assert_eq!(t.token.expose(), "opaque-token-value");
        let far = now() + 10 * MAX_LIFETIME_SECS;
        let t = acquire(
            &[("SYSTEM_ACCESSTOKEN", &jwt(&format!(r#"{{"exp":"{far}"}}"#)))],
            "SYSTEM_ACCESSTOKEN",
        )
        .expect("token");
        assert_eq!(t.expires_on - t.obtained, MAX_LIFETIME_SECS);
    }

    #[test]
    fn unusable_job_tokens_are_explained() {
        let text = |r: Result<AccessToken, Error>| r.expect_err("refused").to_string();
        let unset = text(acquire(&[], "SYSTEM_ACCESSTOKEN"));
        assert!(
            unset.contains("identity 'job'")
                && unset.contains("env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)")
                && unset.contains("Allow scripts to access the OAuth token"),
            "{unset}"
        );
        let renamed = text(acquire(&[("JOB_TOKEN", "")], "JOB_TOKEN"));
        assert!(
            renamed.contains("$JOB_TOKEN")
                && renamed.contains("env: JOB_TOKEN: $(System.AccessToken)"),
            "{renamed}"
        );
        let expired = text(acquire(
            &[("SYSTEM_ACCESSTOKEN", &jwt(r#"{"exp":1000}"#))],
            "SYSTEM_ACCESSTOKEN",
        ));
        assert!(expired.contains("expired at 1970-01-01"), "{expired}");
        let broken = text(acquire(
            &[("SYSTEM_ACCESSTOKEN", "two words")],
            "SYSTEM_ACCESSTOKEN",
        ));
        assert!(broken.contains("$SYSTEM_ACCESSTOKEN"), "{broken}");
        assert!(!broken.contains("two words"), "never shown: {broken}");
    }
}
