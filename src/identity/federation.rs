//! Where a workload identity's federated token (the `client_assertion`)
//! comes from, and why getting one failed.
//!
//! These tokens live minutes (AADSTS700024 when one is used late), so one is
//! fetched for every exchange and never kept: a Kubernetes token file is
//! read again each time (the kubelet rotates it), and the CI platforms'
//! endpoints are asked again each time.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sys::secret::Secret;
use crate::token::AccessToken;

use super::AcquireCx;
use super::oidc;

/// Largest federated token accepted: they are a few KiB; anything bigger is
/// not one (and must not fill the memory).
pub const MAX_ASSERTION_BYTES: u64 = 64 * 1024;

/// Where the assertion comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionSource {
    /// A token file (Kubernetes' projected service-account token).
    File(PathBuf),
    /// GitHub Actions' OIDC endpoint, for `audience`.
    GithubActions { audience: String },
    /// Azure Pipelines' OIDC endpoint, for a service connection.
    AzurePipelines { service_connection_id: String },
}

impl AssertionSource {
    /// Where the token comes from, for messages.
    pub fn describe(&self) -> String {
        match self {
            AssertionSource::File(p) => format!("federated token file {}", p.display()),
            AssertionSource::GithubActions { audience } => {
                format!("GitHub Actions OIDC token for {audience}")
            }
            AssertionSource::AzurePipelines {
                service_connection_id,
            } => {
                format!("Azure Pipelines OIDC token of service connection {service_connection_id}")
            }
        }
    }

    /// A fresh assertion: never cached, fetched for this exchange only.
    pub fn fetch(&self, cx: &AcquireCx) -> Result<Secret<String>, FederationError> {
        match self {
            AssertionSource::File(path) => read_token_file(path),
            AssertionSource::GithubActions { audience } => oidc::github_actions(cx, audience),
            AssertionSource::AzurePipelines {
                service_connection_id,
            } => oidc::azure_pipelines(cx, service_connection_id),
        }
    }
}

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
        /// or the endpoint's TLS certificate is not trusted here.
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
            FederationError::Transport {
                endpoint, detail, ..
            } => write!(
                f,
                "could not reach {endpoint}: {detail}. Fix: check network access from the job (proxy settings: HTTPS_PROXY, NO_PROXY) and retry"
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

/// Reads a token file again (it rotates): a regular file (symlinks are
/// followed: Kubernetes projects tokens through them) of at most
/// [`MAX_ASSERTION_BYTES`], surrounding white space dropped.
pub fn read_token_file(path: &Path) -> Result<Secret<String>, FederationError> {
    let shown = path.display();
    let fail = |problem: String| FederationError::File { problem };
    let unreadable = |e: std::io::Error| {
        fail(format!(
            "cannot read the federated token file {shown}: {e}. Fix: check token_file (or AZURE_FEDERATED_TOKEN_FILE); on AKS the pod needs the label azure.workload.identity/use: \"true\" and a service account annotated with azure.workload.identity/client-id"
        ))
    };
    let not_regular = || {
        fail(format!(
            "the federated token file {shown} is not a regular file. Fix: point token_file at the token itself"
        ))
    };
    // Checked before opening: opening a FIFO would wait for a writer.
    if !std::fs::metadata(path).map_err(unreadable)?.is_file() {
        return Err(not_regular());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Should it be swapped for a FIFO after the check, opening still returns at once.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(unreadable)?;
    if !file.metadata().map_err(unreadable)?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(MAX_ASSERTION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read the federated token file {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_ASSERTION_BYTES {
        return Err(fail(format!(
            "the federated token file {shown} is larger than {} KiB, so it is not a token. Fix: point token_file at the token itself",
            MAX_ASSERTION_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        fail(format!(
            "the federated token file {shown} is not text, so it is not a token. Fix: point token_file at the token itself"
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(fail(format!(
            "the federated token file {shown} is empty. Fix: check that whatever writes it (the kubelet on AKS) is running; it is read again on every token request"
        )));
    }
    AccessToken::check_token(token).map_err(|why| {
        fail(format!(
            "the federated token file {shown} does not hold a token ({}). Fix: point token_file at the token itself",
            why.replace("access_token", "content")
        ))
    })?;
    Ok(Secret::new(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(path: &Path) -> String {
        match read_token_file(path) {
            Err(FederationError::File { problem }) => {
                assert!(problem.contains(&path.display().to_string()), "{problem}");
                problem
            }
            other => panic!("{} must be refused, got {other:?}", path.display()),
        }
    }

    #[test]
    fn token_files_are_read_again_each_time_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "eyJhbGciOi.first.sig\n").expect("write");
        assert_eq!(
            read_token_file(&path).expect("read").expose(),
            "eyJhbGciOi.first.sig"
        );
        std::fs::write(&path, "eyJhbGciOi.second.sig").expect("rotate");
        assert_eq!(
            read_token_file(&path).expect("read").expose(),
            "eyJhbGciOi.second.sig"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_token_files_are_followed() {
        // Kubernetes projects the token as token -> ..data/token -> ..2024_x/token.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("..2024_01")).expect("mkdir");
        std::fs::write(dir.path().join("..2024_01/token"), "a.b.c").expect("write");
        std::os::unix::fs::symlink("..2024_01", dir.path().join("..data")).expect("link");
        std::os::unix::fs::symlink("..data/token", dir.path().join("token")).expect("link");
        let token = read_token_file(&dir.path().join("token")).expect("followed");
        assert_eq!(token.expose(), "a.b.c");
    }

    #[test]
    fn unusable_token_files_are_named_with_a_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        let text = problem(&missing);
        assert!(
            text.contains(&missing.display().to_string()) && text.contains("Fix:"),
            "{text}"
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n  \n").expect("write");
        assert!(problem(&empty).contains("is empty"));
        assert!(problem(dir.path()).contains("not a regular file"));
        let big = dir.path().join("big");
        std::fs::write(&big, "a".repeat(MAX_ASSERTION_BYTES as usize + 1)).expect("write");
        assert!(problem(&big).contains("larger than 64 KiB"));
        let odd = dir.path().join("odd");
        std::fs::write(&odd, "a.b c").expect("write");
        assert!(problem(&odd).contains("does not hold a token"));
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("write");
        assert!(problem(&binary).contains("not text"));
    }
}
