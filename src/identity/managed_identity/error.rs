//! Why a managed identity gave no token, worded for the person reading
//! stderr: which endpoint, what it said (sanitized), and what to do.

use std::fmt;
use std::time::Duration;

/// A managed-identity failure at `endpoint` (e.g. `IMDS at http://169.254.169.254`).
#[derive(Debug)]
pub struct MiError {
    /// The detected source and its address, for messages.
    pub endpoint: String,
    /// What went wrong.
    pub failure: MiFailure,
}

/// What went wrong with a managed-identity endpoint.
#[derive(Debug)]
pub enum MiFailure {
    /// Nothing listens there (refused, or no connection within the connect timeout).
    Unreachable { detail: String },
    /// The endpoint has no such identity (`Identity not found`).
    IdentityNotFound {
        selector: String,
        status: u16,
        message: String,
    },
    /// App Service refused the `X-IDENTITY-HEADER` value.
    HeaderRefused { status: u16, message: String },
    /// Any other refusal that another attempt would not change.
    Rejected { status: u16, message: String },
    /// Updating, throttled or failing (404, 410, 429, 5xx) through every retry.
    Unavailable {
        status: u16,
        attempts: u32,
        waited: Duration,
        message: String,
    },
    /// A connection that gave no (complete) answer in time, or broke.
    Transport { detail: String, waited: Duration },
    /// An answer that is not a token response.
    BadResponse { status: u16, detail: String },
    /// An answer over the size limit.
    TooLarge { status: u16 },
    /// Azure Arc's challenge could not be answered.
    ArcChallenge { problem: String },
    /// The source only has a system-assigned identity.
    UserAssignedUnsupported { selector: String },
    /// A variable that should name the platform's endpoint names something else.
    NotAnEndpoint { var: &'static str, value: String },
    /// A platform this version detects but cannot use.
    UnsupportedPlatform {
        platform: &'static str,
        vars: &'static str,
    },
}

const ELSEWHERE: &str = "run this on an Azure resource that has a managed identity (VM, scale set, App Service, Functions, an Arc-enabled server), or configure another identity type for this remote";

impl fmt::Display for MiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.endpoint;
        match &self.failure {
            MiFailure::Unreachable { detail } => write!(
                f,
                "no managed identity endpoint answered here ({at}: {detail}). Fix: {ELSEWHERE}"
            ),
            MiFailure::IdentityNotFound {
                selector,
                status,
                message,
            } => {
                let fix = if selector == "system-assigned" {
                    "enable the system-assigned identity on this Azure resource, or name an assigned user-assigned identity with client_id, object_id or resource_id"
                } else {
                    "assign that user-assigned identity to this Azure resource, or correct the identity's client_id, object_id or resource_id in the config"
                };
                write!(
                    f,
                    "the managed identity {selector} is not available on this resource ({at} answered HTTP {status}: {message}). Fix: {fix}"
                )
            }
            MiFailure::HeaderRefused { status, message } => write!(
                f,
                "{at} refused the X-IDENTITY-HEADER value taken from IDENTITY_HEADER (HTTP {status}: {message}). Fix: do not set IDENTITY_ENDPOINT or IDENTITY_HEADER yourself; the platform sets and rotates them, so run git from a process that inherits the platform's environment (restart the app if it is stale)"
            ),
            MiFailure::Rejected { status, message } => write!(
                f,
                "{at} refused the token request (HTTP {status}: {message}). Fix: check that a managed identity is enabled on this Azure resource; if IDENTITY_ENDPOINT, MSI_ENDPOINT or AZURE_POD_IDENTITY_AUTHORITY_HOST are set by hand, unset them"
            ),
            MiFailure::Unavailable {
                status,
                attempts,
                waited,
                message,
            } => write!(
                f,
                "{at} answered HTTP {status} ({}{}) {attempts} time(s) over {:.0} s. Fix: retry in a minute; if it persists, raise managed_identity_timeout_seconds in the config or check https://status.azure.com",
                match status {
                    404 | 410 => "the identity endpoint is updating",
                    429 => "throttled",
                    _ => "server error",
                },
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                },
                waited.as_secs_f64()
            ),
            MiFailure::Transport { detail, waited } => write!(
                f,
                "{at} gave no complete answer within {:.0} s ({detail}). Fix: retry; if it persists, raise managed_identity_timeout_seconds in the config",
                waited.as_secs_f64()
            ),
            MiFailure::BadResponse { status, detail } => write!(
                f,
                "{at} answered HTTP {status} with something that is not a token response: {detail}. Fix: unset IDENTITY_ENDPOINT, MSI_ENDPOINT or AZURE_POD_IDENTITY_AUTHORITY_HOST if they were set by hand; they must point at the platform's identity endpoint"
            ),
            MiFailure::TooLarge { status } => write!(
                f,
                "{at} answered HTTP {status} with more than 1 MiB, which is not a token response. Fix: unset IDENTITY_ENDPOINT, MSI_ENDPOINT or AZURE_POD_IDENTITY_AUTHORITY_HOST if they were set by hand"
            ),
            MiFailure::ArcChallenge { problem } => write!(f, "{at}: {problem}"),
            MiFailure::UserAssignedUnsupported { selector } => write!(
                f,
                "{at} offers only the system-assigned identity, so the managed identity {selector} cannot be used here. Fix: remove client_id, object_id and resource_id from this identity in the config"
            ),
            MiFailure::NotAnEndpoint { var, value } => write!(
                f,
                "{var} is {value:?}, which is not a managed-identity endpoint (it must be http to a link-local or loopback address). Fix: unset {var}, or set it to the platform's identity endpoint"
            ),
            MiFailure::UnsupportedPlatform { platform, vars } => write!(
                f,
                "{platform} managed identity ({vars} are set) is not supported by this version. Fix: configure a service-principal or workload-identity identity for this remote"
            ),
        }
    }
}

impl std::error::Error for MiError {}

impl MiError {
    /// Whether the failure is the service's (an outage, no endpoint) rather
    /// than this request's settings: such failures may be shared with other
    /// processes waiting for the same identity.
    pub fn kind(&self) -> Option<&'static str> {
        match self.failure {
            MiFailure::Unavailable { .. } => Some("unavailable"),
            MiFailure::Unreachable { .. } | MiFailure::Transport { .. } => Some("transport"),
            MiFailure::BadResponse { .. } | MiFailure::TooLarge { .. } => Some("bad-response"),
            _ => None,
        }
    }
}
