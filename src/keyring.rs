//! The OS keyrings through keyring-core: Secret Service and keyutils on
//! Linux, Keychain on macOS, Credential Manager on Windows.
//!
//! One wrapper for both users: the token cache (`cache/keyring.rs`, account =
//! the fingerprint) and the secret store (`secrets.rs`, account =
//! `secret:{fingerprint}`). Every item has the service `git-credential-entra`.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use crate::cache::StoreError;
use crate::env::Env;
use crate::secret::Secret;

/// Keyring service name for every item this helper stores.
pub const SERVICE: &str = "git-credential-entra";

/// A keyring-core credential store.
pub struct KeyringStore {
    store: Arc<CredentialStore>,
    name: &'static str,
    /// Windows Credential Manager caps a blob at 2560 bytes (1280 UTF-16 units).
    max_chars: Option<usize>,
}

fn failure(e: KeyringError) -> StoreError {
    // keyring-core's Display never includes the stored value.
    StoreError(e.to_string())
}

impl KeyringStore {
    /// The platform's own keyring, probed once: it must answer a lookup.
    pub fn os(env: &Env) -> Result<KeyringStore, StoreError> {
        let store = Self::platform(env)?;
        // Opening a Secret Service store already opened a session with the
        // daemon, so it answered; a lookup would only add a round trip.
        if store.name != "secret-service" {
            store.probe()?;
        }
        Ok(store)
    }

    /// A lookup that must answer "found" or "not found", nothing else.
    fn probe(&self) -> Result<(), StoreError> {
        self.get("probe").map(|_| ())
    }

    #[cfg(target_os = "linux")]
    fn platform(env: &Env) -> Result<KeyringStore, StoreError> {
        // Without a session bus, libdbus would try X11 autolaunch: don't.
        let bus = env.get("DBUS_SESSION_BUS_ADDRESS").is_some()
            || env
                .dir("XDG_RUNTIME_DIR")
                .is_some_and(|d| d.join("bus").exists());
        if !bus {
            return Err(StoreError(
                "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)".into(),
            ));
        }
        let store = dbus_secret_service_keyring_store::Store::new().map_err(failure)?;
        Ok(KeyringStore {
            store,
            name: "secret-service",
            max_chars: None,
        })
    }

    #[cfg(target_os = "macos")]
    fn platform(_: &Env) -> Result<KeyringStore, StoreError> {
        let store = apple_native_keyring_store::keychain::Store::new().map_err(failure)?;
        Ok(KeyringStore {
            store,
            name: "keychain",
            max_chars: None,
        })
    }

    #[cfg(windows)]
    fn platform(_: &Env) -> Result<KeyringStore, StoreError> {
        let store = windows_native_keyring_store::Store::new().map_err(failure)?;
        Ok(KeyringStore {
            store,
            name: "credential-manager",
            max_chars: Some(1280),
        })
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    fn platform(_: &Env) -> Result<KeyringStore, StoreError> {
        Err(StoreError("no OS keyring on this platform".into()))
    }

    /// The Linux kernel key retention service (session keyring).
    pub fn keyutils() -> Result<KeyringStore, StoreError> {
        #[cfg(target_os = "linux")]
        {
            let store = linux_keyutils_keyring_store::Store::new().map_err(failure)?;
            let s = KeyringStore {
                store,
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

    fn entry(&self, account: &str) -> Result<Entry, StoreError> {
        self.store.build(SERVICE, account, None).map_err(failure)
    }

    /// Reads the item `account`: a token entry or a secret, so never plain text.
    pub fn get(&self, account: &str) -> Result<Option<Secret<String>>, StoreError> {
        match self.entry(account)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(failure(e)),
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
        self.entry(account)?.set_password(value).map_err(failure)
    }

    /// Removes the item `account`; absent is fine.
    pub fn remove(&self, account: &str) -> Result<(), StoreError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(failure(e)),
        }
    }
}
