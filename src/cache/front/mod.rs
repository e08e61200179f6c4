//! The `auto` mode's fast path on Linux desktops: the kernel keyring
//! (keyutils) as a read-through front cache before the Secret Service.
//!
//! Every Secret Service lookup is a D-Bus round trip to the keyring daemon,
//! and opening its session (a Diffie-Hellman exchange) costs more again: a
//! cached `get` paid both. A keyutils lookup is a system call. So loads ask
//! the kernel keyring first and open the Secret Service only on a miss (then
//! fill the front); saves write both (the Secret Service still holds every
//! token, as the contract says); deletes delete both. A front hit never
//! opens a D-Bus connection at all.
//!
//! Only access tokens pass through here (cache entries, never refresh tokens
//! or secrets), and the kernel keyring keeps them in memory, never on disk.

use std::cell::OnceCell;

use super::{Fingerprint, StoreError, TokenStore};
use crate::sys::secret::Secret;

/// Opens the store behind the front, on first need.
pub type Opener = Box<dyn Fn() -> Result<Box<dyn TokenStore>, StoreError>>;

/// A fast front store before a slower one opened lazily.
pub struct Front {
    front: Box<dyn TokenStore>,
    back: OnceCell<Result<Box<dyn TokenStore>, StoreError>>,
    open_back: Opener,
}

impl Front {
    /// `front` answers first; `open_back` runs at most once, on the first
    /// front miss, save or delete.
    pub fn new(front: Box<dyn TokenStore>, open_back: Opener) -> Front {
        Front {
            front,
            back: OnceCell::new(),
            open_back,
        }
    }

    fn back(&self) -> Result<&dyn TokenStore, StoreError> {
        match self.back.get_or_init(|| (self.open_back)()) {
            Ok(b) => Ok(b.as_ref()),
            Err(e) => Err(StoreError(format!(
                "the OS keyring is unusable ({e}); tokens are kept in the kernel keyring only"
            ))),
        }
    }
}

impl TokenStore for Front {
    fn name(&self) -> &'static str {
        match self.back.get() {
            // An unusable Secret Service leaves the kernel keyring alone,
            // as `auto` did before there was a front.
            Some(Err(_)) => "keyutils",
            _ => "secret-service+keyutils",
        }
    }

    fn load(&self, fp: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        // A front failure is only a slower path: the back still answers.
        if let Ok(Some(v)) = self.front.load(fp) {
            return Ok(Some(v));
        }
        let found = self.back()?.load(fp)?;
        if let Some(v) = &found {
            // Not filling the front only costs the next `get` a round trip.
            let _ = self.front.save(fp, v);
        }
        Ok(found)
    }

    fn save(&self, fp: &Fingerprint, data: &Secret<String>) -> Result<(), StoreError> {
        let front = self.front.save(fp, data);
        match self.back() {
            Ok(back) => back.save(fp, data).and(front),
            Err(_) => front,
        }
    }

    fn delete(&self, fp: &Fingerprint) -> Result<(), StoreError> {
        let front = self.front.delete(fp);
        match self.back() {
            Ok(back) => back.delete(fp).and(front),
            // Nothing can be left behind in a store that never opened.
            Err(_) => front,
        }
    }
}

#[cfg(test)]
mod tests;
