//! Secrets this helper keeps for the user (a service principal's client
//! secret today; certificate passwords and refresh tokens next): only ever in
//! the OS keyring, else the kernel keyring — never in the file store, which
//! may hold access tokens only.
//!
//! The keyring is opened on first use, so resolving an identity or serving a
//! cached token never talks to it.

use std::cell::OnceCell;

use crate::keyring::{KeyringStore, StoreError};
use crate::sys::env::Env;
use crate::sys::interactivity::Interactivity;

/// The secret store, opened lazily.
pub struct Secrets<'a> {
    env: &'a Env,
    interactivity: Interactivity,
    store: OnceCell<Result<KeyringStore, StoreError>>,
}

impl<'a> Secrets<'a> {
    /// A store for the user of `env`; nothing is opened yet. A locked
    /// keyring is unlocked only when `interactivity` allows a dialog.
    pub fn new(env: &'a Env, interactivity: Interactivity) -> Secrets<'a> {
        Secrets {
            env,
            interactivity,
            store: OnceCell::new(),
        }
    }

    /// The keyring, opened once: the OS keyring, else keyutils.
    pub fn keyring(&self) -> Result<&KeyringStore, StoreError> {
        self.store
            .get_or_init(|| {
                KeyringStore::os(self.env, true, self.interactivity)
                    .or_else(|_| KeyringStore::keyutils())
            })
            .as_ref()
            .map_err(StoreError::clone)
    }
}
