//! The token cache shared by every helper process: fingerprints, the entry
//! size limit, and the stores behind one trait. What an entry holds and when
//! it is fresh is `token`'s business.
//!
//! An entry holds one access token, its expiry, when it was received and when
//! Entra asked us to refresh it — never a refresh token or a secret. A store
//! that fails is a cache miss with a trace line, never a failed `get`.

pub mod file;
mod front;
mod keyring_store;
pub mod notice;

use std::fmt;
use std::path::Path;

use ring::digest;

use crate::sys::env::Env;
use crate::sys::interactivity::Interactivity;
use crate::sys::secret::Secret;
use crate::sys::trace::Trace;

use crate::keyring::KeyringStore;
pub use crate::keyring::StoreError;
pub use file::FileStore;
use notice::{Notice, Notices};

/// Which backend to use (`GIT_CREDENTIAL_ENTRA_CACHE`, config `cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// OS keyring → keyutils → file, the first that works.
    Auto,
    /// The OS keyring (Keychain, Credential Manager, Secret Service).
    Keyring,
    /// The Linux kernel key retention service.
    Keyutils,
    /// A 0600 file per entry in a 0700 directory.
    File,
    /// No cache: every `get` asks Entra.
    None,
}

impl CacheMode {
    /// Parses a mode name.
    pub fn parse(s: &str) -> Option<CacheMode> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => CacheMode::Auto,
            "keyring" => CacheMode::Keyring,
            "keyutils" => CacheMode::Keyutils,
            "file" => CacheMode::File,
            "none" => CacheMode::None,
            _ => return None,
        })
    }
}

/// A stable, non-secret name for a principal's tokens: two config names for
/// the same principal share it, different principals never do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Hashes the parts that decide which token Entra would issue.
    pub fn of(
        kind: &str,
        authority: &str,
        tenant: &str,
        principal: &str,
        resource: &str,
    ) -> Fingerprint {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in ["v1", kind, authority, tenant, principal, resource] {
            ctx.update(part.to_ascii_lowercase().trim_end_matches('/').as_bytes());
            ctx.update(b"\0");
        }
        let hex: String = ctx.finish().as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Fingerprint(hex)
    }

    /// From a stored name, when it has the right shape.
    pub fn parse(s: &str) -> Option<Fingerprint> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Fingerprint(s.to_string()))
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The largest stored entry. Readers refuse anything longer and writers
/// refuse to write it, so an entry is never written only to be a miss forever.
pub const MAX_ENTRY_BYTES: usize = crate::token::MAX_STORED_BYTES;

/// Refuses an entry that a reader would refuse.
pub fn check_entry_size(data: &Secret<String>) -> Result<(), StoreError> {
    let len = data.expose().len();
    if len > MAX_ENTRY_BYTES {
        return Err(StoreError(format!(
            "the entry is {len} bytes, more than the {MAX_ENTRY_BYTES} a reader accepts; not stored"
        )));
    }
    Ok(())
}

/// One place tokens can be kept.
pub trait TokenStore {
    /// Short name for traces and `cache list` (`secret-service`, `file`, …).
    fn name(&self) -> &'static str;
    /// The stored text for `fp`, if any.
    fn load(&self, fp: &Fingerprint) -> Result<Option<Secret<String>>, StoreError>;
    /// Stores (replaces) the entry for `fp`.
    fn save(&self, fp: &Fingerprint, data: &Secret<String>) -> Result<(), StoreError>;
    /// Removes the entry for `fp`; absent is fine.
    fn delete(&self, fp: &Fingerprint) -> Result<(), StoreError>;
    /// Every fingerprint stored, when the store can enumerate them.
    fn list(&self) -> Option<Vec<Fingerprint>> {
        None
    }
}

/// The `none` backend.
pub struct NoStore;

impl TokenStore for NoStore {
    fn name(&self) -> &'static str {
        "none"
    }
    fn load(&self, _: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &Fingerprint, _: &Secret<String>) -> Result<(), StoreError> {
        Ok(())
    }
    fn delete(&self, _: &Fingerprint) -> Result<(), StoreError> {
        Ok(())
    }
    fn list(&self) -> Option<Vec<Fingerprint>> {
        Some(Vec::new())
    }
}

/// Picks the backend: env beats config beats `auto`. A forced backend that
/// cannot work degrades to no cache, never to a failure. That, `auto`
/// keeping tokens in files, and a lock directory that cannot be created are
/// said once on stderr (see [`notice`]), not only in the trace.
pub fn open(
    env: &Env,
    config_mode: Option<CacheMode>,
    cache_dir: &Path,
    trace: &Trace,
    interactivity: Interactivity,
) -> Box<dyn TokenStore> {
    let chosen = env.get("GIT_CREDENTIAL_ENTRA_CACHE");
    let mode = match chosen {
        Some(v) => CacheMode::parse(v).unwrap_or_else(|| {
            trace.say(format_args!("GIT_CREDENTIAL_ENTRA_CACHE={v} is not one of auto, keyring, keyutils, file, none; using auto"));
            CacheMode::Auto
        }),
        None => config_mode.unwrap_or(CacheMode::Auto),
    };
    let notices = Notices::new(cache_dir, trace.stderr());
    let tokens = cache_dir.join("tokens");
    let file = || Box::new(FileStore::new(tokens.clone())) as Box<dyn TokenStore>;
    let usable = |store: Result<KeyringStore, StoreError>, what: &str| {
        store
            .map_err(|e| trace.detail(format_args!("cache: {what} unusable: {e}")))
            .ok()
            .map(|s| Box::new(s) as Box<dyn TokenStore>)
    };
    let store: Box<dyn TokenStore> = match mode {
        CacheMode::None => Box::new(NoStore),
        CacheMode::File => file(),
        CacheMode::Keyring | CacheMode::Keyutils => {
            forced(mode, chosen, env, &notices, trace, interactivity)
        }
        CacheMode::Auto => {
            if KeyringStore::secret_service_likely(env)
                && let Some(kernel) = usable(KeyringStore::keyutils(), "keyutils")
            {
                // The Secret Service behind a kernel-keyring front, opened
                // only when the front misses; see `front`.
                notices.clear(Notice::FileStore);
                let (env, tokens, notices) = (env.clone(), tokens.clone(), notices.clone());
                Box::new(front::Front::new(
                    kernel,
                    Box::new(move || {
                        let os = KeyringStore::os(&env, true, interactivity)?;
                        let file = Box::new(FileStore::new(tokens.clone()));
                        Ok(Box::new(keyring_store::spill(
                            Box::new(os),
                            file,
                            notices.clone(),
                        )))
                    }),
                ))
            } else if let Some(os) = usable(KeyringStore::os(env, true, interactivity), "keyring") {
                notices.clear(Notice::FileStore);
                Box::new(keyring_store::spill(os, file(), notices.clone()))
            } else if let Some(kernel) = usable(KeyringStore::keyutils(), "keyutils") {
                notices.clear(Notice::FileStore);
                kernel
            } else {
                notices.say(Notice::FileStore, format_args!(
                    "no OS keyring is usable here, so access tokens are cached in private files under {} (never refresh tokens or secrets). Fix: to keep them in a keyring, run git where one answers (on Linux: a Secret Service such as gnome-keyring); to keep none, set GIT_CREDENTIAL_ENTRA_CACHE=none",
                    tokens.display()
                ));
                file()
            }
        }
    };
    trace.detail(format_args!("cache: using the {} store", store.name()));
    store
}

/// The keyring backend the user forced, or no cache — announced, since then
/// every git command asks Entra — when it cannot work here.
fn forced(
    mode: CacheMode,
    chosen: Option<&str>,
    env: &Env,
    notices: &Notices,
    trace: &Trace,
    interactivity: Interactivity,
) -> Box<dyn TokenStore> {
    let (opened, kind, what, remedy) = if mode == CacheMode::Keyring {
        (
            KeyringStore::os(env, false, interactivity),
            Notice::KeyringUnusable,
            "the OS keyring",
            "make it reachable (on Linux: a Secret Service such as gnome-keyring on the D-Bus session bus)",
        )
    } else {
        (
            KeyringStore::keyutils(),
            Notice::KeyutilsUnusable,
            "the kernel keyring (keyutils)",
            "allow keyctl in this environment",
        )
    };
    let e = match opened {
        Ok(store) => {
            notices.clear(kind);
            return Box::new(store);
        }
        Err(e) => e,
    };
    trace.detail(format_args!("cache: {what} unusable: {e}"));
    let (source, instead) = match chosen {
        Some(v) => (
            format!("GIT_CREDENTIAL_ENTRA_CACHE={v}"),
            "set GIT_CREDENTIAL_ENTRA_CACHE=auto",
        ),
        None => (
            "the config file's \"cache\"".to_string(),
            "set \"cache\": \"auto\" in the config file",
        ),
    };
    notices.say(kind, format_args!(
        "{source} asks for {what}, which is unusable here ({e}); no token is cached, so every git command asks Entra for a new one. Fix: {remedy}, or {instead}"
    ));
    Box::new(NoStore)
}

/// Without a lock directory every process that misses the cache asks Entra
/// on its own: worth a notice, since it multiplies token requests.
/// Called on a cache miss, before the lock is taken (a cached `get` takes no
/// lock, so it need not pay for this check).
pub fn check_lock_dir(dir: &Path, cache_dir: &Path, trace: &Trace) {
    let notices = Notices::new(cache_dir, trace.stderr());
    match crate::sys::files::private_dir(dir) {
        Ok(()) => notices.clear(Notice::LockDir),
        Err(e) => {
            trace.detail(format_args!("lock: cannot create {}: {e}", dir.display()));
            notices.say(Notice::LockDir, format_args!(
                "cannot create the lock directory {dir} ({e}), so git commands running at the same time each ask Entra for a token. Fix: make {dir} a directory you own (mode 700), or set XDG_RUNTIME_DIR (or HOME) to a directory you own",
                dir = dir.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests;
