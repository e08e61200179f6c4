//! The token cache shared by every helper process: fingerprints, entries,
//! expiry rules, and the stores behind one trait.
//!
//! An entry holds one access token, its expiry, when it was received and when
//! Entra asked us to refresh it — never a refresh token or a secret. A store
//! that fails is a cache miss with a trace line, never a failed `get`.

pub mod file;
mod keyring;

use std::fmt;
use std::path::Path;

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::secret::Secret;
use crate::trace::Trace;

pub use file::FileStore;
pub use keyring::KeyringStore;

/// Keyring service name for every item this helper stores.
pub const SERVICE: &str = "git-credential-entra";

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

    /// Serialises for a store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Stored {
            v: FORMAT_VERSION,
            access_token: self.token.expose().clone(),
            expires_on: self.expires_on,
            obtained: self.obtained,
            refresh_on: self.refresh_on,
        })
        .expect("a struct of strings and integers always serialises")
    }

    /// Parses a stored entry; `None` for anything corrupt or of another version.
    pub fn from_json(text: &str) -> Option<CachedToken> {
        let s: Stored = serde_json::from_str(text).ok()?;
        (s.v == FORMAT_VERSION && !s.access_token.is_empty() && s.expires_on > s.obtained).then(
            || CachedToken {
                token: Secret::new(s.access_token),
                expires_on: s.expires_on,
                obtained: s.obtained,
                refresh_on: s.refresh_on,
            },
        )
    }
}

/// A failure of a store, worded for a trace line.
#[derive(Debug)]
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
    fn load(&self, fp: &Fingerprint) -> Result<Option<String>, StoreError>;
    /// Stores (replaces) the entry for `fp`.
    fn save(&self, fp: &Fingerprint, data: &str) -> Result<(), StoreError>;
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
    fn load(&self, _: &Fingerprint) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &Fingerprint, _: &str) -> Result<(), StoreError> {
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
/// cannot work degrades to no cache (with a trace line), never to a failure.
pub fn open(
    env: &Env,
    config_mode: Option<CacheMode>,
    cache_dir: &Path,
    trace: &Trace,
) -> Box<dyn TokenStore> {
    let mode = match env.get("GIT_CREDENTIAL_ENTRA_CACHE") {
        Some(v) => CacheMode::parse(v).unwrap_or_else(|| {
            eprintln!("git-credential-entra: GIT_CREDENTIAL_ENTRA_CACHE={v} is not one of auto, keyring, keyutils, file, none; using auto");
            CacheMode::Auto
        }),
        None => config_mode.unwrap_or(CacheMode::Auto),
    };
    let file = || Box::new(FileStore::new(cache_dir.join("tokens"))) as Box<dyn TokenStore>;
    let usable = |store: Result<KeyringStore, StoreError>, what: &str| {
        store
            .map_err(|e| trace.detail(format_args!("cache: {what} unusable: {e}")))
            .ok()
            .map(|s| Box::new(s) as Box<dyn TokenStore>)
    };
    let store = match mode {
        CacheMode::None => Some(Box::new(NoStore) as Box<dyn TokenStore>),
        CacheMode::File => Some(file()),
        CacheMode::Keyring => usable(KeyringStore::os(env), "keyring"),
        CacheMode::Keyutils => usable(KeyringStore::keyutils(), "keyutils"),
        CacheMode::Auto => usable(KeyringStore::os(env), "keyring")
            .map(|os| Box::new(keyring::spill(os, file())) as Box<dyn TokenStore>)
            .or_else(|| usable(KeyringStore::keyutils(), "keyutils"))
            .or_else(|| Some(file())),
    };
    let store = store.unwrap_or_else(|| Box::new(NoStore));
    trace.detail(format_args!("cache: using the {} store", store.name()));
    store
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
