//! What we say to git and ask of it: the credential protocol on stdin and
//! stdout (`protocol`), and git's own configuration, read and written by
//! running `git config` (`config`).

pub(crate) mod config;
pub mod protocol;
