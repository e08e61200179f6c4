//! The cache-then-lock-then-acquire sequence every token goes through.
//!
//! Fresh cached token → served with no lock and no network. Otherwise take
//! the identity's lock, look again (another process may have just filled it),
//! and only then ask the source. If the source fails while the cached token
//! is still valid, serve that instead: an Entra outage must not break git.
//! When the source fails for reasons of the service (an outage, not a bad
//! secret), the failure is left beside the lock so that the processes queued
//! behind this one report it at once instead of each retrying in turn.

use crate::cache::{Fingerprint, TokenStore};
use crate::env::Env;
use crate::error::Error;
use crate::failure::{self, Failure};
use crate::identity::Resolved;
use crate::lock;
use crate::timefmt::now;
use crate::token::{AccessToken, Freshness};
use crate::trace::Trace;

/// Everything a token request needs besides the identity.
pub struct Ctx<'a> {
    /// Environment snapshot.
    pub env: &'a Env,
    /// Trace sink.
    pub trace: &'a Trace,
    /// The token store.
    pub store: &'a dyn TokenStore,
    /// Lock directory.
    pub lock_dir: &'a std::path::Path,
    /// Configured refresh margin.
    pub margin: i64,
}

/// A fresh-enough token for `identity`.
pub fn get(
    identity: &Resolved,
    cx: &Ctx,
    notice: &mut dyn FnMut(&std::path::Path),
) -> Result<AccessToken, Error> {
    let fp = identity.fingerprint();
    let cached = lookup(&fp, cx);
    if let Some(t) = &cached
        && t.freshness(now(), cx.margin) == Freshness::Fresh
    {
        cx.trace.decision(format_args!(
            "cache hit ({}) for {}: expires {}",
            cx.store.name(),
            identity.name,
            crate::timefmt::rfc3339(t.expires_on)
        ));
        return Ok(t.clone());
    }
    let _guard =
        lock::acquire(cx.lock_dir, &fp, cx.trace, notice).map_err(|timeout| Error::Lock {
            identity: identity.name.clone(),
            timeout,
        })?;
    let cached = lookup(&fp, cx).or(cached);
    if let Some(t) = &cached
        && t.freshness(now(), cx.margin) == Freshness::Fresh
    {
        cx.trace.decision(format_args!(
            "cache hit after waiting for the lock, for {}",
            identity.name
        ));
        return Ok(t.clone());
    }
    let acquired = match recent_failure(&fp, cx) {
        Some(failure) => Err(Error::RecentFailure {
            identity: identity.name.clone(),
            failure,
            now: now(),
        }),
        None => {
            cx.trace.decision(format_args!(
                "cache miss for {}: requesting a token",
                identity.name
            ));
            let acquired = identity.acquire(cx.env, cx.trace);
            remember(&fp, cx, &acquired);
            acquired
        }
    };
    match acquired {
        Ok(token) => {
            if let Err(e) = cx.store.save(&fp, &token.to_json()) {
                cx.trace.decision(format_args!(
                    "cache: could not store the token ({}): {e}",
                    cx.store.name()
                ));
            }
            Ok(token)
        }
        Err(e) => match cached {
            Some(t) if t.freshness(now(), cx.margin) != Freshness::Expired => {
                cx.trace.decision(format_args!(
                    "acquiring failed, serving the cached token, valid until {}: {e}",
                    crate::timefmt::rfc3339(t.expires_on)
                ));
                Ok(t)
            }
            _ => Err(e),
        },
    }
}

/// A failure another process had for `fp` moments ago, to be reported
/// instead of running a retry cycle of our own against a failing service.
fn recent_failure(fp: &Fingerprint, cx: &Ctx) -> Option<Failure> {
    match failure::recent(cx.lock_dir, fp, now()) {
        Ok(Some(f)) => {
            cx.trace.decision(format_args!(
                "not requesting a token: another process's request failed ({}) {} s ago",
                f.kind,
                now().saturating_sub(f.at)
            ));
            Some(f)
        }
        Ok(None) => None,
        Err(why) => {
            cx.trace
                .detail(format_args!("failure record ignored: {why}"));
            None
        }
    }
}

/// Leaves a failure of the service for the processes queued behind us, or
/// removes an old one once the service works again.
fn remember(fp: &Fingerprint, cx: &Ctx, acquired: &Result<AccessToken, Error>) {
    let done = match acquired {
        Ok(_) => failure::clear(cx.lock_dir, fp),
        Err(e) => match e.shareable() {
            Some((kind, message)) => failure::record(
                cx.lock_dir,
                fp,
                &Failure {
                    kind: kind.to_string(),
                    message,
                    at: now(),
                },
            ),
            None => Ok(()),
        },
    };
    if let Err(e) = done {
        cx.trace.detail(format_args!(
            "failure record in {}: {e}",
            cx.lock_dir.display()
        ));
    }
}

/// The cached entry for `fp`; unreadable or corrupt entries are misses.
pub fn lookup(fp: &Fingerprint, cx: &Ctx) -> Option<AccessToken> {
    match cx.store.load(fp) {
        Ok(Some(text)) => {
            let t = AccessToken::from_json(text.expose());
            if t.is_none() {
                cx.trace.decision(format_args!(
                    "cache: the entry {fp} is unreadable; it will be replaced"
                ));
            }
            t
        }
        Ok(None) => None,
        Err(e) => {
            cx.trace.decision(format_args!(
                "cache: reading {fp} from {} failed: {e}",
                cx.store.name()
            ));
            None
        }
    }
}
