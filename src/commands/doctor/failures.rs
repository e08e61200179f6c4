//! A failed step as a check: the error's own words, split at its `Fix:`,
//! under the name of what failed (a route, a secret, Entra…).

use super::Check;
use crate::app::error::Error;
use crate::identity::{self, SecretError};

/// A failed step as a ✗ check: the error's own text (which names the
/// identity) split at its `Fix:`; errors without one get the fix for their kind.
pub(super) fn from_error(step: &'static str, e: &Error) -> Check {
    if let Error::Unrouted { route, fallback } = e {
        // The words `get` prints, with the fallback before the fix.
        return Check::fail(
            "route",
            format!(
                "{}; the fallback 'auto' {}",
                route.lead(),
                fallback.as_fallback()
            ),
            route.fix(),
        );
    }
    let text = e.to_string();
    let (detail, fix) = match text.split_once("Fix:") {
        Some((d, f)) => (
            d.trim().trim_end_matches('.').to_string(),
            f.trim().to_string(),
        ),
        None => (text.clone(), default_fix(e)),
    };
    let check = match e.identity() {
        Some(identity::Error::Secret { cause, .. }) => match cause {
            SecretError::NoKeyring(_) | SecretError::Keyring(_) => "keyring",
            _ => "secret",
        },
        Some(identity::Error::NoAutoSource { .. }) => "route",
        Some(identity::Error::Entra { .. }) => "entra",
        Some(identity::Error::KeyVault { .. }) => "key-vault",
        Some(identity::Error::SignInRequired { .. } | identity::Error::SignIn { .. }) => "sign-in",
        _ => step,
    };
    Check::fail(check, detail, fix)
}

/// The fix for an error whose message has none.
fn default_fix(e: &Error) -> String {
    match e.identity() {
        Some(identity::Error::Secret { identity, .. }) => format!(
            "make the secret or certificate of identity '{identity}' readable by this user (see `git-credential-entra secret set --identity {identity}`)"
        ),
        Some(identity::Error::NoAutoSource { file, .. }) => format!(
            "add an identity and a route for this organization to {file} (see docs/guides.md)"
        ),
        Some(identity::Error::Entra { identity, .. }) => format!(
            "check identity '{identity}' (tenant, client id, credential) against its app registration"
        ),
        _ => match e {
            Error::Config(c) if c.path.is_empty() => format!("correct {}", c.file.display()),
            Error::Config(c) => format!(
                "correct {} in {} (docs/reference.md lists every key)",
                c.path,
                c.file.display()
            ),
            _ => "run again with -vv to see each step".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::doctor::Status;

    #[test]
    fn an_error_is_split_at_its_fix() {
        let e = Error::Command("it broke. Fix: do this".into());
        let c = from_error("token", &e);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.detail, "it broke");
        assert_eq!(c.fix, "do this");
    }

    #[test]
    fn a_config_error_without_a_fix_names_the_key_and_file() {
        let e = Error::from(crate::config::ConfigError {
            file: "/c/config.json".into(),
            path: "routes[0].url".into(),
            problem: "expected a URL".into(),
        });
        let c = from_error("config", &e);
        assert_eq!(
            c.fix,
            "correct routes[0].url in /c/config.json (docs/reference.md lists every key)"
        );
    }
}
