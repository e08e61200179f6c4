//! The token cache shared by every helper process: fingerprints, entries,
//! expiry rules, and the stores behind one trait.
//!
//! An entry holds one access token, its expiry, when it was received and when
//! Entra asked us to refresh it — never a refresh token or a secret. A store
//! that fails is a cache miss with a trace line, never a failed `get`.

pub mod file;
mod keyring;
pub mod notice;

use std::fmt;
use std::path::Path;

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::secret::Secret;
use crate::trace::Trace;

use crate::keyring::KeyringStore;
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

/// An access token with the times that decide when to use and refresh it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The token.
    pub token: Secret<String>,
    /// Expiry, seconds since the epoch.
    pub expires_on: i64,
    /// When we received it.
    pub obtained: i64,
    /// `obtained + refresh_in` when Entra sent `refresh_in`.
    pub refresh_on: Option<i64>,
}

const FORMAT_VERSION: u32 = 1;

/// The largest stored entry. Readers refuse anything longer and writers
/// refuse to write it, so an entry is never written only to be a miss forever.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// The longest access token accepted, fresh or cached: an entry holding it
/// (plus a few numbers) fits in [`MAX_ENTRY_BYTES`], and git's 65535-byte
/// line limit leaves room for `credential=`.
pub const MAX_TOKEN_BYTES: usize = MAX_ENTRY_BYTES - 1024;

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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    v: u32,
    access_token: String,
    expires_on: i64,
    obtained: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_on: Option<i64>,
}

/// How fresh a cached token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it.
    Fresh,
    /// Still valid, but past the margin or `refresh_in`: get a new one.
    RefreshDue,
    /// Past its expiry.
    Expired,
}

impl CachedToken {
    /// The one rule for an access token, applied to a fresh token response
    /// and to every cached entry: whatever it lets through can be sent to git
    /// and in an `Authorization: Bearer` header. Tokens are RFC 6750
    /// `b64token`s (JWTs are base64url and dots); anything else — a line
    /// break, a space, a NUL — would make git stop or send a broken header.
    pub fn check_token(token: &str) -> Result<(), &'static str> {
        if token.is_empty() {
            return Err("the access_token is empty");
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err("the access_token is longer than 63 KiB");
        }
        let body = token.trim_end_matches('=');
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
        if body.is_empty() || !body.bytes().all(allowed) {
            return Err("the access_token has characters a bearer token cannot contain");
        }
        Ok(())
    }

    /// The effective margin: min(configured margin, lifetime / 2), so a
    /// short-lived token is still used for half its life.
    /// Saturating: entries come from stores other processes wrote, so the
    /// times may be anything.
    pub fn margin(&self, margin: i64) -> i64 {
        margin
            .max(0)
            .min(self.expires_on.saturating_sub(self.obtained).max(0) / 2)
    }

    /// The rule of contract §7.
    pub fn freshness(&self, now: i64, margin: i64) -> Freshness {
        if now >= self.expires_on {
            Freshness::Expired
        } else if now >= self.expires_on.saturating_sub(self.margin(margin))
            || self.refresh_on.is_some_and(|r| now >= r)
        {
            Freshness::RefreshDue
        } else {
            Freshness::Fresh
        }
    }

    /// `password_expiry_utc` for git: expiry minus the effective margin —
    /// unless that is already past (a still-valid token served during an
    /// outage), when git would drop it as expired: then the real expiry.
    pub fn git_expiry(&self, margin: i64, now: i64) -> i64 {
        let early = self.expires_on.saturating_sub(self.margin(margin));
        if early > now { early } else { self.expires_on }
    }

    /// Serialises for a store; the text holds the token, so it stays a `Secret`.
    pub fn to_json(&self) -> Secret<String> {
        let text = serde_json::to_string(&Stored {
            v: FORMAT_VERSION,
            access_token: self.token.expose().clone(),
            expires_on: self.expires_on,
            obtained: self.obtained,
            refresh_on: self.refresh_on,
        })
        .expect("a struct of strings and integers always serialises");
        Secret::new(text)
    }

    /// Parses a stored entry; `None` for anything corrupt, too large, of
    /// another version, or holding a token a fresh response could not carry.
    pub fn from_json(text: &str) -> Option<CachedToken> {
        if text.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let s: Stored = serde_json::from_str(text).ok()?;
        (s.v == FORMAT_VERSION
            && CachedToken::check_token(&s.access_token).is_ok()
            && s.expires_on > s.obtained)
            .then(|| CachedToken {
                token: Secret::new(s.access_token),
                expires_on: s.expires_on,
                obtained: s.obtained,
                refresh_on: s.refresh_on,
            })
    }
}

/// A failure of a store, worded for a trace line.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
    lock_dir: &Path,
    trace: &Trace,
) -> Box<dyn TokenStore> {
    let chosen = env.get("GIT_CREDENTIAL_ENTRA_CACHE");
    let mode = match chosen {
        Some(v) => CacheMode::parse(v).unwrap_or_else(|| {
            eprintln!("git-credential-entra: GIT_CREDENTIAL_ENTRA_CACHE={v} is not one of auto, keyring, keyutils, file, none; using auto");
            CacheMode::Auto
        }),
        None => config_mode.unwrap_or(CacheMode::Auto),
    };
    let notices = Notices::new(cache_dir);
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
        CacheMode::Keyring | CacheMode::Keyutils => forced(mode, chosen, env, &notices, trace),
        CacheMode::Auto => {
            if let Some(os) = usable(KeyringStore::os(env), "keyring") {
                notices.clear(Notice::FileStore);
                Box::new(keyring::spill(os, file(), notices.clone()))
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
    if mode != CacheMode::None {
        check_lock_dir(lock_dir, &notices, trace);
    }
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
) -> Box<dyn TokenStore> {
    let (opened, kind, what, remedy) = if mode == CacheMode::Keyring {
        (
            KeyringStore::os(env),
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
fn check_lock_dir(dir: &Path, notices: &Notices, trace: &Trace) {
    match file::private_dir(dir) {
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
