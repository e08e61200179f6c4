//! The error an invocation ends in: the token flow's (and through it the
//! identity's), or one of the app's own (git's request, the config, where
//! files live, routing, a command's use, writing the answer). Printed once,
//! by `run`.

use std::fmt;

use crate::app::unrouted::NoRoute;
use crate::cache::StoreError;
use crate::config::ConfigError;
use crate::git::protocol::ParseError;
use crate::identity;
use crate::sys::env::{ConfigPathError, NoHome, RelativeConfig};
use crate::token;

/// Everything that can stop a command.
#[derive(Debug)]
pub enum Error {
    /// No token: the flow's or the identity's failure.
    Token(token::error::Error),
    /// git's request could not be read.
    Parse(ParseError),
    /// The config file is wrong.
    Config(Box<ConfigError>),
    /// Routes depend on the organization, but git did not say which.
    /// `base` is `scheme://host[:port]`.
    NoOrganization { base: String },
    /// Routes depend on the path, but it has `.`/`..` segments that the
    /// HTTP client resolves and git does not.
    DotSegments { base: String },
    /// No route matched, and the fallback `auto` failed.
    Unrouted {
        route: Box<NoRoute>,
        fallback: Box<Error>,
    },
    /// A default location has no absolute base directory.
    NoHome(NoHome),
    /// The config file was chosen by a relative path.
    RelativeConfig(RelativeConfig),
    /// A token or secret store failed while a command used it.
    Store { context: String, cause: StoreError },
    /// A subcommand was used wrongly, or its input could not be read.
    Command(String),
    /// Writing to git failed.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Token(e) => write!(f, "{e}"),
            Error::Parse(e) => write!(f, "cannot read git's request: {e}"),
            Error::Config(e) => write!(f, "{e}"),
            Error::NoOrganization { base } => {
                let (scheme, authority) = base.split_once("://").unwrap_or(("https", base));
                write!(
                    f,
                    "git did not say which Azure DevOps organization on {base} the request is for, and your routes depend on it. Fix: let git send the repository path with `git config --global credential.{base}.useHttpPath true`, or name the organization in the remote URL: {scheme}://ORG@{authority}/ORG/PROJECT/_git/REPO"
                )
            }
            Error::DotSegments { base } => write!(
                f,
                "the repository path git sent for {base} has a '.' or '..' segment, so it is not certain which organization or project the request goes to, and your routes depend on that. Fix: set the remote URL without them: git remote set-url origin {base}/ORG/PROJECT/_git/REPO"
            ),
            Error::Unrouted { route, fallback } => write!(
                f,
                "{}. Fix: {}. The fallback 'auto' {}",
                route.lead(),
                route.fix(),
                fallback.as_fallback()
            ),
            Error::NoHome(e) => write!(f, "{e}"),
            Error::RelativeConfig(e) => write!(f, "{e}"),
            Error::Store { context, cause } => write!(f, "{context}: {cause}"),
            Error::Command(s) => f.write_str(s),
            Error::Io(e) => write!(f, "writing the answer to git failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Token(e) => Some(e),
            Error::Parse(e) => Some(e),
            Error::Config(e) => Some(e.as_ref()),
            Error::NoHome(e) => Some(e),
            Error::RelativeConfig(e) => Some(e),
            Error::Store { cause, .. } => Some(cause),
            Error::Io(e) => Some(e),
            Error::Unrouted { fallback, .. } => Some(fallback.as_ref()),
            Error::NoOrganization { .. } | Error::DotSegments { .. } | Error::Command(_) => None,
        }
    }
}

impl Error {
    /// This failure of the fallback `auto`, briefly, to follow "the
    /// fallback 'auto'": one short clause per link it tried, or the failure.
    pub fn as_fallback(&self) -> String {
        match self.identity() {
            Some(identity::Error::NoAutoSource { tried, .. }) => format!(
                "found no credentials: {}",
                tried
                    .iter()
                    .map(|s| format!("{} ({})", s.link, s.brief))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!("failed: {self}"),
        }
    }

    /// The identity's own failure, when that is what stopped the command.
    pub fn identity(&self) -> Option<&identity::Error> {
        match self {
            Error::Token(token::error::Error::Source(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<token::error::Error> for Error {
    fn from(e: token::error::Error) -> Self {
        Error::Token(e)
    }
}

impl From<identity::Error> for Error {
    fn from(e: identity::Error) -> Self {
        Error::Token(e.into())
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

impl From<NoHome> for Error {
    fn from(e: NoHome) -> Self {
        Error::NoHome(e)
    }
}

impl From<ConfigPathError> for Error {
    fn from(e: ConfigPathError) -> Self {
        match e {
            ConfigPathError::NoHome(e) => Error::NoHome(e),
            ConfigPathError::Relative(e) => Error::RelativeConfig(e),
        }
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Parse(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_organization_names_a_working_url_and_command() {
        let text = Error::NoOrganization {
            base: "https://dev.azure.com".into(),
        }
        .to_string();
        assert!(
            text.contains(
                "`git config --global credential.https://dev.azure.com.useHttpPath true`"
            ) && text.ends_with(" https://ORG@dev.azure.com/ORG/PROJECT/_git/REPO")
                && !text.contains("configure`"),
            "{text}"
        );
    }
}
