//! The Secret Service (gnome-keyring, KWallet, KeePassXC) spoken to through
//! dbus-secret-service directly rather than through keyring-core's store,
//! which unlocks a locked collection by starting the service's unlock prompt
//! and waiting for a person without bound, and never says it was locked.
//!
//! Here a lookup's one `SearchItems` call already tells an unlocked item from
//! a locked one, so serving a cached item costs no extra round trip. Only
//! when nothing unlocked matched, and prompts are forbidden, is the default
//! collection asked whether it is locked (once per process); a locked one is
//! then skipped — its items are left alone and nothing is written there —
//! and the caller's fallback (the kernel keyring) is used instead.
//!
//! Items keep keyring-core's attributes (`service`, `username`) and label, so
//! items written by earlier versions are still found.
//!
//! Every call is bounded: each method call by the client's own 2 s timeout,
//! and opening the session by [`CONNECT_TIMEOUT`] — libdbus waits without
//! end for a bus daemon that accepted the connection but never answers (one
//! that is stopped or hung), so the opening runs on a thread of its own that
//! is abandoned when it takes too long.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use dbus_secret_service::{EncryptionType, Error as SsError, Item, SecretService};

use super::StoreError;
use crate::sys::secret::Secret;

/// How long an allowed unlock prompt may wait for its person.
const PROMPT_SECONDS: u64 = 300;
/// How long opening a session may take: the bus answers `Hello` itself at
/// once, and the keyring's `OpenSession` has the 2 s of any call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Content type of every item written (keyring-core's, for compatibility).
const CONTENT_TYPE: &str = "application/octet-stream";

/// What a lookup found for an account.
enum Found<'a> {
    /// Nothing matched.
    Nothing,
    /// An unlocked item.
    Unlocked(Item<'a>),
    /// Only items whose collection is locked.
    Locked(Vec<Item<'a>>),
}

/// A Secret Service session and the interactivity it runs under.
pub struct Store {
    ss: SecretService,
    /// Why prompts are forbidden, when they are.
    forbidden: Option<&'static str>,
    /// Whether the default collection is locked, asked at most once.
    default_locked: OnceCell<bool>,
}

fn failure(what: &str, e: SsError) -> StoreError {
    // dbus-secret-service's errors never carry a secret.
    StoreError(format!("Secret Service: {what}: {e}"))
}

/// The answer when a locked collection is skipped.
pub fn locked(why: &str) -> StoreError {
    StoreError(format!(
        "the Secret Service's default collection is locked, and unlocking it would prompt, which is not allowed here ({why}); skipped"
    ))
}

impl Store {
    /// Opens a session with the service. `forbidden` says why no prompt may
    /// start; then every prompt is refused at once instead of waiting.
    pub fn connect(forbidden: Option<&'static str>) -> Result<Store, StoreError> {
        let seconds = if forbidden.is_some() {
            0
        } else {
            PROMPT_SECONDS
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("secret-service-connect".into())
            .spawn(move || {
                // The receiver is gone when we gave up; nothing to tell then.
                let _ = tx.send(SecretService::connect_with_max_prompt_timeout(
                    EncryptionType::Dh,
                    seconds,
                ));
            })
            .map_err(|e| StoreError(format!("Secret Service: cannot start a thread: {e}")))?;
        let ss = match rx.recv_timeout(CONNECT_TIMEOUT) {
            Ok(opened) => opened.map_err(|e| failure("cannot open a session", e))?,
            Err(_) => {
                return Err(StoreError(format!(
                    "Secret Service: the D-Bus session bus did not answer within {} s (its daemon may be stopped or hung)",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        Ok(Store {
            ss,
            forbidden,
            default_locked: OnceCell::new(),
        })
    }

    fn find(&self, account: &str) -> Result<Found<'_>, StoreError> {
        let attributes = HashMap::from([("service", super::SERVICE), ("username", account)]);
        let mut found = self
            .ss
            .search_items(attributes)
            .map_err(|e| failure("search failed", e))?;
        if found.unlocked.len() > 1 {
            return Err(StoreError(format!(
                "Secret Service: {} items match {account}; remove the extra ones (e.g. with seahorse)",
                found.unlocked.len()
            )));
        }
        Ok(match found.unlocked.pop() {
            Some(item) => Found::Unlocked(item),
            None if found.locked.is_empty() => Found::Nothing,
            None => Found::Locked(found.locked),
        })
    }

    /// The default collection's lock state, asked once: only when nothing
    /// unlocked matched, so a cached item never pays for it.
    fn default_is_locked(&self) -> Result<bool, StoreError> {
        if let Some(&l) = self.default_locked.get() {
            return Ok(l);
        }
        let l = match self.ss.get_default_collection() {
            Ok(c) => c
                .is_locked()
                .map_err(|e| failure("cannot read the default collection", e))?,
            // No default collection: nothing to skip; writing will say so.
            Err(SsError::NoResult) => false,
            Err(e) => return Err(failure("cannot read the default alias", e)),
        };
        Ok(*self.default_locked.get_or_init(|| l))
    }

    /// Whether this session must skip the service: prompts are forbidden and
    /// what the call needs is locked. `Some(why)` then.
    fn skip(&self, found: &Found<'_>) -> Result<Option<&'static str>, StoreError> {
        let Some(why) = self.forbidden else {
            return Ok(None);
        };
        Ok(match found {
            Found::Unlocked(_) => None,
            Found::Locked(_) => Some(why),
            Found::Nothing => self.default_is_locked()?.then_some(why),
        })
    }

    fn unlock(&self, items: &[Item<'_>]) -> Result<(), StoreError> {
        let refs: Vec<&Item<'_>> = items.iter().collect();
        self.ss
            .unlock_all(&refs)
            .map_err(|e| failure("the unlock prompt did not unlock the item", e))
    }

    /// Reads `account`; `Err(Skipped)` when a locked collection was skipped.
    pub fn get(&self, account: &str) -> Result<Option<Secret<String>>, Access> {
        let found = self.find(account)?;
        if let Some(why) = self.skip(&found)? {
            return Err(Access::Skipped(why));
        }
        let item = match found {
            Found::Nothing => return Ok(None),
            Found::Unlocked(item) => item,
            Found::Locked(mut items) => {
                self.unlock(&items)?;
                match items.pop() {
                    Some(item) => item,
                    None => return Ok(None),
                }
            }
        };
        let bytes = item
            .get_secret()
            .map_err(|e| failure("cannot read the item", e))?;
        String::from_utf8(bytes)
            .map(|s| Some(Secret::new(s)))
            .map_err(|_| Access::Failed(StoreError("Secret Service: the item is not text".into())))
    }

    /// Writes `account`, creating the item in the default collection.
    pub fn set(&self, account: &str, value: &str) -> Result<(), Access> {
        let found = self.find(account)?;
        if let Some(why) = self.skip(&found)? {
            return Err(Access::Skipped(why));
        }
        let write = |item: &Item<'_>| {
            item.set_secret(value.as_bytes(), CONTENT_TYPE)
                .map_err(|e| Access::Failed(failure("cannot write the item", e)))
        };
        match found {
            Found::Unlocked(item) => write(&item),
            Found::Locked(items) => {
                self.unlock(&items)?;
                items.first().map_or(Ok(()), write)
            }
            Found::Nothing => {
                let collection = self
                    .ss
                    .get_default_collection()
                    .map_err(|e| failure("no default collection to keep the item in", e))?;
                if collection
                    .is_locked()
                    .map_err(|e| failure("cannot read the default collection", e))?
                {
                    collection
                        .unlock()
                        .map_err(|e| failure("the unlock prompt did not unlock it", e))?;
                }
                let label = format!("keyring:{account}@{}", super::SERVICE);
                let attributes =
                    HashMap::from([("service", super::SERVICE), ("username", account)]);
                collection
                    .create_item(&label, attributes, value.as_bytes(), true, CONTENT_TYPE)
                    .map(|_| ())
                    .map_err(|e| Access::Failed(failure("cannot create the item", e)))
            }
        }
    }

    /// Removes `account`; absent is fine.
    pub fn remove(&self, account: &str) -> Result<(), Access> {
        let found = self.find(account)?;
        if let Some(why) = self.skip(&found)? {
            return Err(Access::Skipped(why));
        }
        let item = match found {
            Found::Nothing => return Ok(()),
            Found::Unlocked(item) => item,
            Found::Locked(mut items) => {
                self.unlock(&items)?;
                match items.pop() {
                    Some(item) => item,
                    None => return Ok(()),
                }
            }
        };
        item.delete()
            .map_err(|e| Access::Failed(failure("cannot delete the item", e)))
    }
}

/// Why a call did not reach an item.
pub enum Access {
    /// A locked collection was skipped because prompts are forbidden (why).
    Skipped(&'static str),
    /// The service failed.
    Failed(StoreError),
}

impl From<StoreError> for Access {
    fn from(e: StoreError) -> Access {
        Access::Failed(e)
    }
}
