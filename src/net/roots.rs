//! The CA certificates outbound requests trust: the system's, plus what git
//! was told to trust (`http.sslCAInfo`, `http.sslCAPath` and their
//! variables), added rather than replacing (see `net::settings` for why).
//!
//! On Linux the system's roots are read from the one bundle file the
//! distribution keeps (found as OpenSSL finds it), not from the directory
//! of certificates beside it: one file read and parsed in about a
//! millisecond against a few hundred files and ten. Only when there is no
//! bundle, or `SSL_CERT_DIR` asks for a directory, are directories read.
//! On Windows and macOS the platform verifier asks the OS store itself
//! (schannel's view on Windows, as `http.sslBackend=schannel` asks of git).

use std::path::Path;

use reqwest::Certificate;

use crate::net::settings::{CaSource, Network};
use crate::sys::files;

/// The most of one certificate file that is read: the largest system
/// bundles are about 250 KiB.
const MAX_FILE: u64 = 8 * 1024 * 1024;
/// The most files read from a certificate directory.
const MAX_DIR_FILES: usize = 4096;

/// Which roots a client trusts.
pub enum Roots {
    /// Exactly these (Linux: the system bundle plus git's).
    Only(Vec<Certificate>),
    /// The OS store's, plus these (Windows, macOS, and Linux without a
    /// bundle file).
    System(Vec<Certificate>),
}

/// A CA file or directory git names that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootsError {
    /// The file or directory.
    pub source: CaSource,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for RootsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the CA certificates at {} (set by {}) {}. Fix: point it at a PEM file of CA certificates (your proxy's CA), e.g. `git config --global http.sslCAInfo /path/to/ca.pem`, or unset it",
            self.source.path.display(),
            self.source.origin,
            self.problem
        )
    }
}

impl std::error::Error for RootsError {}

/// The roots for `network`.
pub fn load(network: &Network) -> Result<Roots, RootsError> {
    let mut extra = Vec::new();
    if let Some(info) = &network.ca_info {
        let found = read_bundle(&info.path).map_err(|problem| RootsError {
            source: info.clone(),
            problem,
        })?;
        extra.extend(found);
    }
    if let Some(dir) = &network.ca_path {
        extra.extend(read_dir(dir)?);
    }
    Ok(match system_bundle(network) {
        Some(mut system) => {
            system.append(&mut extra);
            Roots::Only(system)
        }
        None => Roots::System(extra),
    })
}

/// The system's bundle file, parsed; `None` where the OS store is asked
/// instead (or no bundle file is found).
#[cfg(all(unix, not(target_os = "macos")))]
fn system_bundle(network: &Network) -> Option<Vec<Certificate>> {
    let file = match &network.system_file {
        Some(file) => file.clone(),
        // Only SSL_CERT_DIR: the person wants a directory read; the
        // platform verifier reads it.
        None if network.system_dir => return None,
        None => openssl_probe::probe().cert_file?,
    };
    read_bundle(&file).ok()
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn system_bundle(_: &Network) -> Option<Vec<Certificate>> {
    None
}

/// Every certificate of the PEM file at `path`; a file without any is an
/// error (a DER file, a key, the wrong file).
fn read_bundle(path: &Path) -> Result<Vec<Certificate>, String> {
    // System bundles are symbolic links into the distribution's store.
    let (file, _) = files::open_regular(path, files::Links::Follow)
        .map_err(|e| format!("cannot be read ({e})"))?;
    let bytes = files::read_at_most(file, MAX_FILE).map_err(|e| format!("cannot be read ({e})"))?;
    let certs = Certificate::from_pem_bundle(&bytes)
        .map_err(|_| "is not a PEM file of certificates".to_string())?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The certificates of every PEM file in the directory (`http.sslCAPath`);
/// files that hold none (keys, CRLs, README) are passed over as OpenSSL does.
fn read_dir(dir: &CaSource) -> Result<Vec<Certificate>, RootsError> {
    let entries = std::fs::read_dir(&dir.path).map_err(|e| RootsError {
        source: dir.clone(),
        problem: format!("cannot be listed ({e})"),
    })?;
    let mut certs = Vec::new();
    for entry in entries.flatten().take(MAX_DIR_FILES) {
        if let Ok(found) = read_bundle(&entry.path()) {
            certs.extend(found);
        }
    }
    if certs.is_empty() {
        return Err(RootsError {
            source: dir.clone(),
            problem: "holds no PEM certificate".into(),
        });
    }
    Ok(certs)
}
