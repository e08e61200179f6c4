//! Where a workload identity's federated token (the `client_assertion`)
//! comes from, and why getting one failed.
//!
//! These tokens live minutes (AADSTS700024 when one is used late), so one is
//! fetched for every exchange and never kept: a Kubernetes token file is
//! read again each time (the kubelet rotates it), and the CI platforms'
//! endpoints are asked again each time.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::sys::secret::Secret;
use crate::token::AccessToken;

use super::AcquireCx;

mod error;
mod oidc;

pub use error::{FederationError, MAX_ASSERTION_BYTES};

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
