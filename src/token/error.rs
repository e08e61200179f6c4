//! Why the token flow (cache, lock, source) served no token: the source's
//! own failure, or one the flow adds (a failure another process just had,
//! a lock held too long, a store that failed while dropping a token).

use std::fmt;

use crate::cache::StoreError;
use crate::identity;

use super::lock::{GIVE_UP_AFTER, LockTimeout};
use super::outage::{FAILURE_TTL_SECS, Failure};

/// Everything that can stop the token flow.
#[derive(Debug)]
pub enum Error {
    /// The identity could not give a token.
    Source(identity::Error),
    /// Another process's token request for the same principal just failed;
    /// its failure is reported instead of asking again.
    RecentFailure {
        identity: String,
        failure: Failure,
        now: i64,
    },
    /// Azure DevOps refused this many new tokens of the identity in a row
    /// (git-lfs asks again without end): no new one is requested for `wait` s.
    Refused {
        identity: String,
        count: u32,
        wait: i64,
    },
    /// Another process held the identity's lock too long.
    Lock {
        identity: String,
        timeout: LockTimeout,
    },
    /// The token store failed while a token was dropped.
    Store { context: String, cause: StoreError },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Source(e) => write!(f, "{e}"),
            Error::RecentFailure {
                identity,
                failure,
                now,
            } => {
                let age = now.saturating_sub(failure.at).clamp(0, FAILURE_TTL_SECS);
                write!(
                    f,
                    "identity '{identity}': {} [another git-credential-entra process failed this way {age} s ago, so this one did not ask again; a new request is possible in {} s]",
                    failure.message,
                    (FAILURE_TTL_SECS - age).max(1)
                )
            }
            Error::Refused {
                identity,
                count,
                wait,
            } => write!(
                f,
                "identity '{identity}': Azure DevOps refused {count} new tokens of this identity in a row, so no new one is requested for {wait} s (git-lfs asks again without end). Fix: have an organization administrator add the identity (Organization settings → Users) with access to the repository, then retry; `git-credential-entra doctor URL` shows what Azure DevOps answers"
            ),
            Error::Lock { identity, timeout } => write!(
                f,
                "identity '{identity}': gave up after waiting {} s for the lock {} held by another git-credential-entra process. Fix: find that process (a hung sign-in?) and end it",
                GIVE_UP_AFTER.as_secs(),
                timeout.path.display()
            ),
            Error::Store { context, cause } => write!(f, "{context}: {cause}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Source(e) => Some(e),
            Error::Lock { timeout, .. } => Some(timeout),
            Error::Store { cause, .. } => Some(cause),
            Error::RecentFailure { .. } | Error::Refused { .. } => None,
        }
    }
}

impl From<identity::Error> for Error {
    fn from(e: identity::Error) -> Self {
        Error::Source(e)
    }
}
