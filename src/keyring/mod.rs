//! The OS keyrings through keyring-core: Secret Service and keyutils on
//! Linux, Keychain on macOS, Credential Manager on Windows.
//!
//! One wrapper for both users: the token cache (`cache/keyring_store.rs`, account =
//! the fingerprint) and the secret store (`keyring/secrets.rs`, account =
//! `secret:{fingerprint}`). Every item has the service `git-credential-entra`.

pub(crate) mod secrets;

#[cfg(target_os = "linux")]
use std::cell::OnceCell;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use crate::sys::env::Env;
use crate::sys::interactivity::Interactivity;
use crate::sys::secret::Secret;

/// A failure of a store, worded for a trace line.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

// Its Display is its message; it has no deeper cause.
impl std::error::Error for StoreError {}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keyring service name for every item this helper stores.
pub const SERVICE: &str = "git-credential-entra";

#[cfg(target_os = "linux")]
mod secret_service;

/// An OS keyring.
pub struct KeyringStore {
    backend: Backend,
    name: &'static str,
    /// Windows Credential Manager caps a blob at 2560 bytes (1280 UTF-16 units).
    max_chars: Option<usize>,
}

enum Backend {
    /// A keyring-core credential store.
    Core(Arc<CredentialStore>),
    /// The Secret Service, and the kernel keyring to use instead when its
    /// locked collection is skipped (opened then; `None` when not wanted).
    #[cfg(target_os = "linux")]
    SecretService {
        store: secret_service::Store,
        fallback: Option<OnceCell<Result<Box<KeyringStore>, StoreError>>>,
    },
}

fn failure(e: KeyringError) -> StoreError {
    // keyring-core's Display never includes the stored value.
    StoreError(e.to_string())
}

impl KeyringStore {
    /// The platform's own keyring, probed once: it must answer a lookup.
    ///
    /// When prompts are forbidden (contract §7), a locked Secret Service
    /// collection is skipped rather than unlocked: with `fallback`, the
    /// kernel keyring is used instead (as `auto` would); without it, reads
    /// and writes fail, so nothing is kept there.
    pub fn os(
        env: &Env,
        fallback: bool,
        interactivity: Interactivity,
    ) -> Result<KeyringStore, StoreError> {
        let store = Self::platform(env, fallback, interactivity)?;
        // Opening a Secret Service store already opened a session with the
        // daemon, so it answered; a lookup would only add a round trip.
        if store.name != "secret-service" {
            store.probe()?;
        }
        Ok(store)
    }

    /// Whether the OS keyring would be the Secret Service: Linux with a
    /// D-Bus session bus. Says so without talking to the bus.
    pub fn secret_service_likely(env: &Env) -> bool {
        cfg!(target_os = "linux")
            && (env.get("DBUS_SESSION_BUS_ADDRESS").is_some()
                || env
                    .dir("XDG_RUNTIME_DIR")
                    .is_some_and(|d| d.join("bus").exists()))
    }

    /// A lookup that must answer "found" or "not found", nothing else.
    fn probe(&self) -> Result<(), StoreError> {
        self.get("probe").map(|_| ())
    }

    #[cfg(target_os = "linux")]
    fn platform(
        env: &Env,
        fallback: bool,
        interactivity: Interactivity,
    ) -> Result<KeyringStore, StoreError> {
        // Without a session bus, libdbus would try X11 autolaunch: don't.
        if !Self::secret_service_likely(env) {
            return Err(StoreError(
                "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)".into(),
            ));
        }
        let forbidden = match interactivity {
            Interactivity::Allowed => None,
            // `always` approves device code from a log, not a keyring's
            // unlock dialog on a screen nobody may be watching.
            Interactivity::Always => {
                Some("GIT_CREDENTIAL_ENTRA_INTERACTIVE is always, which allows device code only")
            }
            Interactivity::Forbidden(why) => Some(why),
        };
        let store = secret_service::Store::connect(forbidden)?;
        Ok(KeyringStore {
            backend: Backend::SecretService {
                store,
                fallback: fallback.then(OnceCell::new),
            },
            name: "secret-service",
            max_chars: None,
        })
    }

    #[cfg(target_os = "macos")]
    fn platform(_: &Env, _: bool, _: Interactivity) -> Result<KeyringStore, StoreError> {
        let store = apple_native_keyring_store::keychain::Store::new().map_err(failure)?;
        Ok(KeyringStore {
            backend: Backend::Core(store),
            name: "keychain",
            max_chars: None,
        })
    }

    #[cfg(windows)]
    fn platform(_: &Env, _: bool, _: Interactivity) -> Result<KeyringStore, StoreError> {
        let store = windows_native_keyring_store::Store::new().map_err(failure)?;
        Ok(KeyringStore {
            backend: Backend::Core(store),
            name: "credential-manager",
            max_chars: Some(1280),
        })
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    fn platform(_: &Env, _: bool, _: Interactivity) -> Result<KeyringStore, StoreError> {
        Err(StoreError("no OS keyring on this platform".into()))
    }

    /// The Linux kernel key retention service (session keyring).
    pub fn keyutils() -> Result<KeyringStore, StoreError> {
        #[cfg(target_os = "linux")]
        {
            let store = linux_keyutils_keyring_store::Store::new().map_err(failure)?;
            let s = KeyringStore {
                backend: Backend::Core(store),
                name: "keyutils",
                max_chars: None,
            };
            s.probe()?;
            Ok(s)
        }
        #[cfg(not(target_os = "linux"))]
        Err(StoreError("keyutils exists only on Linux".into()))
    }

    /// The backend's short name.
    pub fn name_str(&self) -> &'static str {
        self.name
    }

    fn entry(store: &Arc<CredentialStore>, account: &str) -> Result<Entry, StoreError> {
        store.build(SERVICE, account, None).map_err(failure)
    }

    /// Reads the item `account`: a token entry or a secret, so never plain text.
    pub fn get(&self, account: &str) -> Result<Option<Secret<String>>, StoreError> {
        match &self.backend {
            Backend::Core(store) => match Self::entry(store, account)?.get_password() {
                Ok(v) => Ok(Some(Secret::new(v))),
                Err(KeyringError::NoEntry) => Ok(None),
                Err(e) => Err(failure(e)),
            },
            #[cfg(target_os = "linux")]
            Backend::SecretService { store, fallback } => match store.get(account) {
                Ok(v) => Ok(v),
                Err(e) => Self::instead(fallback, e)?.get(account),
            },
        }
    }

    /// Writes the item `account`.
    pub fn set(&self, account: &str, value: &str) -> Result<(), StoreError> {
        if self
            .max_chars
            .is_some_and(|max| value.encode_utf16().count() > max)
        {
            return Err(StoreError(format!(
                "the {} item would exceed its size limit",
                self.name
            )));
        }
        match &self.backend {
            Backend::Core(store) => Self::entry(store, account)?
                .set_password(value)
                .map_err(failure),
            #[cfg(target_os = "linux")]
            Backend::SecretService { store, fallback } => match store.set(account, value) {
                Ok(()) => Ok(()),
                Err(e) => Self::instead(fallback, e)?.set(account, value),
            },
        }
    }

    /// Removes the item `account`; absent is fine.
    pub fn remove(&self, account: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Core(store) => match Self::entry(store, account)?.delete_credential() {
                Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
                Err(e) => Err(failure(e)),
            },
            #[cfg(target_os = "linux")]
            Backend::SecretService { store, fallback } => match store.remove(account) {
                Ok(()) => Ok(()),
                Err(e) => Self::instead(fallback, e)?.remove(account),
            },
        }
    }

    /// The kernel keyring standing in for a skipped Secret Service
    /// collection, or the failure to report.
    #[cfg(target_os = "linux")]
    fn instead(
        fallback: &Option<OnceCell<Result<Box<KeyringStore>, StoreError>>>,
        e: secret_service::Access,
    ) -> Result<&KeyringStore, StoreError> {
        let why = match e {
            secret_service::Access::Failed(e) => return Err(e),
            secret_service::Access::Skipped(why) => why,
        };
        let Some(cell) = fallback else {
            return Err(secret_service::locked(why));
        };
        match cell.get_or_init(|| Self::keyutils().map(Box::new)) {
            Ok(kernel) => Ok(kernel),
            Err(e) => Err(StoreError(format!(
                "{}, and the kernel keyring is unusable too ({e})",
                secret_service::locked(why)
            ))),
        }
    }
}
