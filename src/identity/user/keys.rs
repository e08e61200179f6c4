//! Where a user's tokens are kept: the access token in the cache and the
//! refresh token in the OS keyring, both under one key per identity and
//! tenant. The tenant is part of it, so a token of one tenant is never
//! served for another's organization; the account hint, or else the config
//! name, tells two people (or one person's two accounts) apart.
//!
//! A tenant that was discovered, not configured, is also listed in the
//! keyring beside the refresh tokens, so `logout` finds every sign-in even
//! after `erase` made the helper forget which tenant an organization has.

use crate::cache::{Fingerprint, StoreError};
use crate::identity::{AcquireCx, TokenSource};
use crate::sys::secret::Secret;

use super::User;

/// How many signed-in tenants the keyring lists per identity, at most.
const MAX_TENANTS: usize = 64;

impl User {
    /// The cache key of this user's tokens from `tenant`.
    pub(super) fn key(&self, tenant: &str) -> Fingerprint {
        let principal = match &self.login_hint {
            Some(hint) => format!("{}:account:{hint}", self.client_id),
            None => format!("{}:identity:{}", self.client_id, self.name),
        };
        crate::identity::key(self.kind(), &self.authority, tenant, &principal)
    }

    /// The key of the tokens this request gets (the tenant is discovered
    /// now if needed: git's challenge or a remembered answer, else a probe).
    pub fn fingerprint_in(&self, cx: &AcquireCx) -> Fingerprint {
        self.key(&self.tenant_for(cx))
    }

    /// The keyring account of the refresh token under `fp`.
    pub(super) fn refresh_account(fp: &Fingerprint) -> String {
        format!("refresh:{fp}")
    }

    /// The keyring account listing the discovered tenants signed in to.
    fn tenants_account(&self) -> String {
        format!("tenants:{}", self.key(""))
    }

    /// Keeps the refresh token of this request's tenant.
    pub(super) fn save_refresh(&self, cx: &AcquireCx, rt: &Secret<String>) {
        let tenant = self.tenant_for(cx);
        let saved = cx.secrets.keyring().and_then(|k| {
            k.set(&User::refresh_account(&self.key(&tenant)), rt.expose())?;
            if self.tenant.is_none() {
                let mut tenants = self.listed(k);
                if !tenants.contains(&tenant) && tenants.len() < MAX_TENANTS {
                    tenants.push(tenant);
                    k.set(&self.tenants_account(), &tenants.join("\n"))?;
                }
            }
            Ok(())
        });
        if let Err(e) = saved {
            // Never a file: the person signs in again when this token expires.
            cx.prompt.say(format_args!(
                "identity '{}': no OS keyring could keep the sign-in ({e}), so you will sign in again when this access token expires (in about an hour). Fix: run a Secret Service (gnome-keyring, KeePassXC) in your session",
                cx.identity
            ));
        } else {
            cx.trace.decision(format_args!(
                "{}: refresh token kept in the OS keyring",
                cx.identity
            ));
        }
    }

    /// The discovered tenants the keyring lists as signed in to.
    fn listed(&self, keyring: &crate::keyring::KeyringStore) -> Vec<String> {
        match keyring.get(&self.tenants_account()) {
            Ok(Some(text)) => text
                .expose()
                .lines()
                .filter(|t| !t.is_empty())
                .take(MAX_TENANTS)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every key this identity may have tokens under: its configured or
    /// default tenant's, every remembered organization's tenant's, and
    /// every tenant the keyring lists.
    pub fn signed_in_keys(&self, cx: &AcquireCx) -> Vec<Fingerprint> {
        let mut all = self.fingerprints(cx.cache_dir);
        if self.tenant.is_none()
            && let Ok(k) = cx.secrets.keyring()
        {
            for tenant in self.listed(k) {
                let fp = self.key(&tenant);
                if !all.contains(&fp) {
                    all.push(fp);
                }
            }
        }
        all
    }

    /// Removes the refresh tokens of every tenant; whether one was there.
    pub fn forget(&self, cx: &AcquireCx) -> Result<bool, StoreError> {
        let keys = self.signed_in_keys(cx);
        let keyring = cx.secrets.keyring()?;
        let mut had = false;
        for fp in keys {
            let account = User::refresh_account(&fp);
            if keyring.get(&account)?.is_some() {
                had = true;
                keyring.remove(&account)?;
            }
        }
        keyring.remove(&self.tenants_account())?;
        Ok(had)
    }
}
