//! Whether a person may be asked anything: decided once per invocation
//! from our setting, git's, the CI variables and whether stderr is a
//! terminal, so no prompt, browser or keyring unlock dialog appears where
//! nobody is there to answer it.

use std::fmt;

use super::env::Env;

/// Whether sign-in may prompt a person (contract §7 "Interactivity").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interactivity {
    /// Prompts are allowed.
    Allowed,
    /// `GIT_CREDENTIAL_ENTRA_INTERACTIVE=always`: device code even with no
    /// terminal (approved from a CI log).
    Always,
    /// No prompt may start; the reason names the setting that forbids it.
    Forbidden(&'static str),
}

impl Interactivity {
    /// From the environment and whether stderr is a terminal.
    pub fn from_env(env: &Env, stderr_is_terminal: bool) -> Interactivity {
        match env
            .get("GIT_CREDENTIAL_ENTRA_INTERACTIVE")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("never") => {
                return Interactivity::Forbidden("GIT_CREDENTIAL_ENTRA_INTERACTIVE is never");
            }
            Some("always") => return Interactivity::Always,
            _ => {}
        }
        if env.get("GIT_TERMINAL_PROMPT") == Some("0") {
            Interactivity::Forbidden("GIT_TERMINAL_PROMPT is 0")
        } else if ["CI", "TF_BUILD", "GITHUB_ACTIONS"]
            .iter()
            .any(|v| env.get(v).is_some())
        {
            Interactivity::Forbidden("a CI variable (CI, TF_BUILD or GITHUB_ACTIONS) is set")
        } else if !stderr_is_terminal {
            Interactivity::Forbidden("stderr is not a terminal")
        } else {
            Interactivity::Allowed
        }
    }
}

impl fmt::Display for Interactivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interactivity::Allowed => f.write_str("prompts allowed"),
            Interactivity::Always => f.write_str("prompts allowed (always)"),
            Interactivity::Forbidden(why) => write!(f, "no prompts ({why})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactivity_rules() {
        let on = |pairs: &[(&str, &str)], tty| {
            Interactivity::from_env(&Env::from_pairs(pairs.iter().copied()), tty)
        };
        assert_eq!(on(&[], true), Interactivity::Allowed);
        assert!(matches!(on(&[], false), Interactivity::Forbidden(_)));
        assert!(matches!(
            on(&[("GIT_TERMINAL_PROMPT", "0")], true),
            Interactivity::Forbidden(_)
        ));
        assert!(matches!(
            on(&[("TF_BUILD", "True")], true),
            Interactivity::Forbidden(_)
        ));
        assert!(matches!(
            on(&[("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "Never")], true),
            Interactivity::Forbidden(_)
        ));
        assert_eq!(
            on(
                &[("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always"), ("CI", "1")],
                false
            ),
            Interactivity::Always
        );
    }
}
