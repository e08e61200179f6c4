//! The top of the program: one invocation from the command line to an exit
//! code. `cli` is the command-line surface, `run` dispatches it, `verbs`
//! answers git (get, store, erase, capability), `session` is what every
//! command of one invocation shares, `unrouted` what a failure says when
//! no route matched, and `manual` what `--help` and the man page say about
//! the config, the environment and the files.

pub mod cli;
pub(crate) mod error;
pub mod manual;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod unrouted;
pub(crate) mod verbs;

pub use run::run;
