//! Plain types and operating-system helpers that every other room may use
//! and that import nothing of ours above them: the environment snapshot and
//! our directories (`env`), private files and trust checks (`files`),
//! programs found on PATH and run with a deadline (`program`), secrets that
//! cannot be printed (`secret`), the terminal (`terminal`), text made safe
//! for it (`text`), time (`time`), the trace (`trace`) and Windows ACLs.

pub mod env;
pub(crate) mod files;
pub(crate) mod interactivity;
pub(crate) mod program;
pub(crate) mod prompt;
pub mod secret;
pub(crate) mod terminal;
pub(crate) mod text;
pub(crate) mod time;
pub mod trace;
#[cfg(windows)]
pub(crate) mod windows_acl;
