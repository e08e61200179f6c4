//! The OS keyring as a token store, and the `auto` mode's spill of entries
//! the keyring refuses into the file store.

use super::notice::{Notice, Notices};
use super::{Fingerprint, StoreError, TokenStore, check_entry_size};
use crate::keyring::KeyringStore;
use crate::sys::secret::Secret;

impl TokenStore for KeyringStore {
    fn name(&self) -> &'static str {
        self.name_str()
    }
    fn load(&self, fp: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        self.get(fp.as_str())
    }
    fn save(&self, fp: &Fingerprint, data: &Secret<String>) -> Result<(), StoreError> {
        check_entry_size(data)?;
        self.set(fp.as_str(), data.expose())
    }
    fn delete(&self, fp: &Fingerprint) -> Result<(), StoreError> {
        self.remove(fp.as_str())
    }
}

/// A keyring that refuses an entry (Windows' 2560-byte cap, a Secret Service
/// without a default collection) spills it into the file store instead of
/// caching nothing; reads look in the keyring first, then the file store.
/// A spill is said once on stderr: the user chose no file, `auto` did.
pub struct Spill {
    primary: Box<dyn TokenStore>,
    file: Box<dyn TokenStore>,
    notices: Notices,
}

/// The `auto` mode's keyring, with the file store as its fallback.
pub fn spill(primary: Box<dyn TokenStore>, file: Box<dyn TokenStore>, notices: Notices) -> Spill {
    Spill {
        primary,
        file,
        notices,
    }
}

impl TokenStore for Spill {
    fn name(&self) -> &'static str {
        self.primary.name()
    }
    fn load(&self, fp: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        match self.primary.load(fp)? {
            Some(v) => Ok(Some(v)),
            None => self.file.load(fp),
        }
    }
    fn save(&self, fp: &Fingerprint, data: &Secret<String>) -> Result<(), StoreError> {
        match self.primary.save(fp, data) {
            Ok(()) => {
                self.notices.clear(Notice::Spilled);
                self.file.delete(fp)
            }
            Err(refused) => {
                self.primary.delete(fp)?;
                self.file.save(fp, data)?;
                self.notices.say(Notice::Spilled, format_args!(
                    "the {} store refused a token ({refused}), so it is cached in a private file instead. Fix: nothing is needed; to choose the store yourself, set GIT_CREDENTIAL_ENTRA_CACHE to file, or to none to keep no token",
                    self.primary.name()
                ));
                Ok(())
            }
        }
    }
    fn delete(&self, fp: &Fingerprint) -> Result<(), StoreError> {
        self.primary.delete(fp)?;
        self.file.delete(fp)
    }
}
