//! The human commands, one file per command group. Each takes the
//! invocation's [`Session`](crate::app::session::Session) and its own stdio.

pub mod cache;
pub mod completions;
pub mod configure;
pub mod doctor;
pub mod identities;
pub mod login;
pub mod manpage;
pub mod secret;
pub mod token;
