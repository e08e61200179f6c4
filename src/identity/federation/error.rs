//! Why a federated token could not be had, from a token file or a CI
//! platform's OIDC endpoint, and the bound on what is read.

use std::fmt;
use std::time::Duration;

/// Largest federated token accepted: they are a few KiB; anything bigger is
/// not one (and must not fill the memory).
pub const MAX_ASSERTION_BYTES: u64 = 64 * 1024;

/// Why no federated token could be had.
#[derive(Debug)]
pub enum FederationError {
    /// The token file is missing, not a small regular file, or empty (the
    /// problem names it).
    File { problem: String },
    /// Variables the platform sets are not there: not running where expected,
    /// or not given to this step.
    NotSet {
        vars: Vec<&'static str>,
        fix: &'static str,
    },
    /// A variable holds something unusable.
    BadVariable { var: &'static str, problem: String },
    /// The endpoint refused; `ids` are the headers support asks for.
    Refused {
        endpoint: &'static str,
        status: u16,
        message: Option<String>,
        ids: Vec<(&'static str, String)>,
        fix: &'static str,
    },
    /// Throttled (429) or failing (5xx) through every retry.
    Unavailable {
        endpoint: &'static str,
        status: u16,
        attempts: u32,
        waited: Duration,
        ids: Vec<(&'static str, String)>,
    },
    /// No complete answer.
    Transport {
        endpoint: &'static str,
        detail: String,
        /// The failure is this machine's: no HTTPS client could be set up,
        /// the endpoint's TLS certificate is not trusted here, or the proxy
        /// wants credentials; then `detail` is the whole message.
        local: bool,
    },
    /// An answer that holds no usable token.
    BadResponse {
        endpoint: &'static str,
        status: u16,
        detail: String,
        ids: Vec<(&'static str, String)>,
    },
}

/// `" (x-vss-e2eid: …, x-msedge-ref: …)"`, or nothing.
struct Ids<'a>(&'a [(&'static str, String)]);

impl fmt::Display for Ids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        write!(f, " ({})", shown.join(", "))
    }
}

impl fmt::Display for FederationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FederationError::File { problem, .. } => f.write_str(problem),
            FederationError::NotSet { vars, fix } => {
                let verb = if vars.len() == 1 { "is" } else { "are" };
                write!(f, "{} {verb} not set. Fix: {fix}", vars.join(" and "))
            }
            FederationError::BadVariable { var, problem } => write!(f, "{var} {problem}"),
            FederationError::Refused {
                endpoint,
                status,
                message,
                ids,
                fix,
            } => {
                write!(f, "{endpoint} answered HTTP {status}")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                write!(f, "{}. Fix: {fix}", Ids(ids))?;
                if !ids.is_empty() {
                    f.write_str("; if it persists, quote the ids above to support")?;
                }
                Ok(())
            }
            FederationError::Unavailable {
                endpoint,
                status,
                attempts,
                waited,
                ids,
            } => write!(
                f,
                "{endpoint} answered HTTP {status} {attempts} time(s) over {:.0} s{}. Fix: retry the job in a few minutes; if it persists, quote the ids to support",
                waited.as_secs_f64(),
                Ids(ids)
            ),
            // A local failure's detail is its whole message, fix included.
            FederationError::Transport {
                endpoint,
                detail,
                local: true,
            } => write!(f, "could not reach {endpoint}: {detail}"),
            FederationError::Transport {
                endpoint, detail, ..
            } => write!(
                f,
                "could not reach {endpoint}: {detail}. Fix: check network access from the job (the proxy: git's http.proxy or HTTPS_PROXY, and NO_PROXY) and retry"
            ),
            FederationError::BadResponse {
                endpoint,
                status,
                detail,
                ids,
            } => write!(
                f,
                "{endpoint} answered HTTP {status} without a usable token: {detail}{}. Fix: check that the variables point at the platform's endpoint, or that a proxy in between passes its answers unchanged",
                Ids(ids)
            ),
        }
    }
}

impl std::error::Error for FederationError {}

impl FederationError {
    /// For failures of the platform's service (not of this job's settings
    /// or this machine's TLS trust), which other processes waiting for the
    /// same principal may report.
    pub fn is_service_outage(&self) -> bool {
        matches!(
            self,
            FederationError::Unavailable { .. } | FederationError::Transport { local: false, .. }
        )
    }
}
