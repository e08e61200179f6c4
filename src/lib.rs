//! git-credential-entra as a library: the binary's modules, with the parsers
//! public so fuzz targets and benches can drive them without a process.
//!
//! The binary (`main.rs`) only parses the command line and calls [`run`].

pub mod app;
pub mod azure_devops;
pub mod cli;
pub mod config;
pub mod entra;
pub mod env;
pub mod jwt;
pub mod protocol;
pub mod retry;
pub mod secret;
pub mod tenant;
pub mod token;

mod cache;
mod commands;
mod error;
mod failure;
mod gitconfig;
mod http;
mod identity;
mod keyring;
mod lock;
mod net;
mod private_fs;
mod program;
mod run;
mod secrets;
mod session;
mod terminal;
mod text;
mod timefmt;
mod tokens;
mod trace;
#[cfg(windows)]
mod windows_acl;

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

pub use run::run;
