//! git-credential-entra as a library: the binary's modules, with the parsers
//! public so fuzz targets and benches can drive them without a process.
//!
//! The binary (`main.rs`) only parses the command line and calls [`run`].

pub mod app;
pub mod azure_devops;
mod cache;
mod commands;
pub mod config;
mod context;
pub mod entra;
pub mod git;
mod identity;
mod keyring;
pub mod net;
pub mod sys;
pub mod token;

/// Tests' absolute paths, written unix-style: on Windows `/etc/x` becomes
/// `C:\etc\x`, so the same test checks the same rule on both.
#[cfg(test)]
pub(crate) fn abs(unix_path: &str) -> String {
    if cfg!(windows) {
        format!("C:{}", unix_path.replace('/', "\\"))
    } else {
        unix_path.to_string()
    }
}

pub use app::run;
