//! The cache-then-lock-then-acquire sequence every token goes through.
//!
//! Fresh cached token → served with no lock and no network. Otherwise take
//! the identity's lock, look again (another process may have just filled it),
//! and only then ask the source. If the source fails while the cached token
//! is still valid, serve that instead: an Entra outage must not break git.
//! When the source fails for reasons of the service (an outage, not a bad
//! secret), the failure is left beside the lock so that the processes queued
//! behind this one report it at once instead of each retrying in turn.

use crate::cache::Fingerprint;
use crate::identity::{self, AcquireCx, Resolved};
use crate::sys::secret::Secret;
use crate::sys::time::now;
use crate::token::error::Error;
use crate::token::lock;
use crate::token::outage::{self, Failure};
use crate::token::{AccessToken, Freshness};

/// A fresh-enough token for `identity`.
pub fn get(identity: &Resolved, cx: &AcquireCx) -> Result<AccessToken, Error> {
    if !identity.cacheable() {
        cx.trace.decision(format_args!(
            "{}: tokens of this type are not cached; requesting one",
            identity.name
        ));
        return Ok(identity.acquire(cx)?);
    }
    let fp = identity.fingerprint_for(cx);
    let cached = lookup(&fp, cx);
    if let Some(t) = &cached
        && t.freshness(now(), cx.margin) == Freshness::Fresh
    {
        cx.trace.decision(format_args!(
            "cache hit ({}) for {}: expires {}",
            cx.store.name(),
            identity.name,
            crate::sys::time::rfc3339(t.expires_on)
        ));
        return Ok(t.clone());
    }
    let _guard = lock_for(identity, &fp, cx)?;
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
    // `doctor` asks again: it is run to see what happens now.
    if cx.replay_failures
        && let Ok(Some((count, last))) = outage::refusals(cx.lock_dir, &fp, now())
        && count >= outage::REFUSALS_TO_STOP
    {
        return Err(Error::Refused {
            identity: identity.name.clone(),
            count,
            wait: (outage::REFUSAL_WINDOW_SECS - now().saturating_sub(last)).max(1),
        });
    }
    let replayed = cx
        .replay_failures
        .then(|| recent_failure(&fp, cx))
        .flatten();
    let acquired = match replayed {
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
            cx.trace.detail(format_args!("{}", cx.interactivity));
            let acquired = identity.acquire(cx);
            remember(&fp, cx, &acquired);
            acquired.map_err(Error::from)
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
                    crate::sys::time::rfc3339(t.expires_on)
                ));
                Ok(t)
            }
            _ => Err(e),
        },
    }
}

/// The identity's lock; a wait is announced to the person at the terminal.
fn lock_for(identity: &Resolved, fp: &Fingerprint, cx: &AcquireCx) -> Result<lock::Guard, Error> {
    if let Some(cache_dir) = cx.cache_dir {
        crate::cache::check_lock_dir(cx.lock_dir, cache_dir, cx.trace);
    }
    let mut notice = |path: &std::path::Path| {
        cx.prompt.say(format_args!(
            "waiting for another git process that is getting a token for identity '{}' (lock {})",
            identity.name,
            path.display()
        ));
    };
    lock::acquire(cx.lock_dir, fp, cx.trace, &mut notice).map_err(|timeout| Error::Lock {
        identity: identity.name.clone(),
        timeout,
    })
}

/// What `erase` did with a token git reports as rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum Erased {
    /// It was the cached token, and is gone.
    Dropped,
    /// The cached token is another (newer) one: kept.
    Kept,
    /// Nothing is cached for the identity.
    NotCached,
}

/// Drops the cached token of `identity` if it is the `rejected` one. Done
/// under the lock, so a token another process stores meanwhile is not dropped.
pub fn erase(
    identity: &Resolved,
    rejected: &Secret<String>,
    cx: &AcquireCx,
) -> Result<Erased, Error> {
    // Nothing of an uncached type is stored, so there is no lock to take either.
    if !identity.cacheable() {
        return Ok(Erased::NotCached);
    }
    let fp = identity.fingerprint_for(cx);
    let _guard = lock_for(identity, &fp, cx)?;
    match lookup(&fp, cx) {
        Some(cached) if cached.token == *rejected => {
            match outage::record_refusal(cx.lock_dir, &fp, cached.obtained, now()) {
                Ok(0) => {}
                Ok(n) => cx.trace.decision(format_args!(
                    "erase: Azure DevOps refused {n} new token(s) of '{}' in a row",
                    identity.name
                )),
                Err(e) => cx.trace.detail(format_args!("refusal record: {e}")),
            }
            cx.store.delete(&fp).map_err(|cause| Error::Store {
                context: format!(
                    "could not drop the rejected token of identity '{}' from the {} cache",
                    identity.name,
                    cx.store.name()
                ),
                cause,
            })?;
            Ok(Erased::Dropped)
        }
        Some(_) => Ok(Erased::Kept),
        None => Ok(Erased::NotCached),
    }
}

/// A failure another process had for `fp` moments ago, to be reported
/// instead of running a retry cycle of our own against a failing service.
fn recent_failure(fp: &Fingerprint, cx: &AcquireCx) -> Option<Failure> {
    match outage::recent(cx.lock_dir, fp, now()) {
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
fn remember(fp: &Fingerprint, cx: &AcquireCx, acquired: &Result<AccessToken, identity::Error>) {
    let done = match acquired {
        Ok(_) => outage::clear(cx.lock_dir, fp),
        Err(e) => match e.shareable() {
            Some((kind, message)) => outage::record(
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
pub fn lookup(fp: &Fingerprint, cx: &AcquireCx) -> Option<AccessToken> {
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::cache::FileStore;
    use crate::entra::EntraError;
    use crate::identity::TokenSource;
    use crate::sys::env::Env;
    use crate::sys::prompt::Prompt;
    use crate::sys::trace::Trace;

    /// A source that counts its requests and hands out numbered tokens.
    struct Counting {
        cacheable: bool,
        calls: std::rc::Rc<Cell<u32>>,
    }

    impl TokenSource for Counting {
        fn kind(&self) -> identity::Kind {
            identity::Kind::User
        }
        fn describe(&self) -> String {
            "a counting test source".into()
        }
        fn fingerprint(&self) -> Fingerprint {
            Fingerprint::of("test", "a", "t", "c", "r")
        }
        fn cacheable(&self) -> bool {
            self.cacheable
        }
        fn acquire(&self, _: &AcquireCx) -> Result<AccessToken, identity::Error> {
            self.calls.set(self.calls.get() + 1);
            Ok(AccessToken {
                token: Secret::new(format!("token-{}", self.calls.get())),
                expires_on: now() + 3600,
                obtained: now(),
                refresh_on: None,
            })
        }
    }

    /// Runs `f` with a file store and lock directory in a temporary folder;
    /// `replay` as [`Context::replay_failures`].
    fn with_cx(cacheable: bool, replay: bool, f: impl FnOnce(&Resolved, &AcquireCx, &Cell<u32>)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Env::from_pairs([]);
        let trace = Trace::off();
        let mut err = Vec::new();
        let calls = std::rc::Rc::new(Cell::new(0));
        let identity = Resolved::new(
            "t",
            Box::new(Counting {
                cacheable,
                calls: calls.clone(),
            }),
        );
        let locks = dir.path().join("locks");
        let mut ctx = crate::context::test::context(&env, &trace, Prompt::new(&mut err), &locks);
        ctx.store = Box::new(FileStore::new(dir.path().join("tokens")));
        ctx.cache_dir = Some(dir.path());
        ctx.replay_failures = replay;
        let cx = AcquireCx::new(&ctx, "t", None, None);
        f(&identity, &cx, &calls);
    }

    #[test]
    fn cacheable_tokens_are_served_from_the_cache_and_erased_only_when_rejected() {
        with_cx(true, true, |id, cx, calls| {
            let first = get(id, cx).expect("acquired");
            assert_eq!(get(id, cx).expect("cached"), first);
            assert_eq!(calls.get(), 1);
            let other = Secret::new("token-other".to_string());
            assert_eq!(erase(id, &other, cx).expect("erase"), Erased::Kept);
            assert_eq!(erase(id, &first.token, cx).expect("erase"), Erased::Dropped);
            assert_eq!(
                erase(id, &first.token, cx).expect("erase"),
                Erased::NotCached
            );
            get(id, cx).expect("acquired again");
            assert_eq!(calls.get(), 2);
        });
    }

    /// A source that fails with `failure()` on its first request, then
    /// hands out tokens; counts its requests.
    struct FailsOnce {
        failure: fn() -> EntraError,
        calls: std::rc::Rc<Cell<u32>>,
    }

    impl TokenSource for FailsOnce {
        fn kind(&self) -> identity::Kind {
            identity::Kind::User
        }
        fn describe(&self) -> String {
            "a test source that fails once".into()
        }
        fn fingerprint(&self) -> Fingerprint {
            Fingerprint::of("test", "a", "t", "once", "r")
        }
        fn acquire(&self, _: &AcquireCx) -> Result<AccessToken, identity::Error> {
            self.calls.set(self.calls.get() + 1);
            if self.calls.get() == 1 {
                return Err(identity::Error::Entra {
                    identity: "t".into(),
                    step: "test",
                    source: Box::new((self.failure)()),
                });
            }
            Ok(AccessToken {
                token: Secret::new("token".into()),
                expires_on: now() + 3600,
                obtained: now(),
                refresh_on: None,
            })
        }
    }

    /// Fails once with `failure`, then asks again (`replay: false` as
    /// `doctor` does): how many requests the source saw, and whether the
    /// second `get` reported the first one's failure.
    fn again_after(failure: fn() -> EntraError, replay: bool) -> (u32, bool) {
        let mut result = (0, false);
        with_cx(true, replay, |_, cx, _| {
            let calls = std::rc::Rc::new(Cell::new(0));
            let id = Resolved::new(
                "t",
                Box::new(FailsOnce {
                    failure,
                    calls: calls.clone(),
                }),
            );
            assert!(get(&id, cx).is_err());
            let second = get(&id, cx);
            result = (
                calls.get(),
                matches!(second, Err(Error::RecentFailure { .. })),
            );
        });
        result
    }

    fn outage() -> EntraError {
        EntraError::Unavailable {
            status: 503,
            attempts: 6,
            waited: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn an_outage_is_replayed_but_not_to_doctor() {
        assert_eq!(again_after(outage, true), (1, true), "shared");
        assert_eq!(again_after(outage, false), (2, false), "asked again");
    }

    #[test]
    fn local_failures_are_not_replayed() {
        fn untrusted() -> EntraError {
            EntraError::Transport {
                detail: "invalid peer certificate: UnknownIssuer".into(),
                cause: crate::entra::Cause::Certificate,
            }
        }
        fn refused() -> EntraError {
            EntraError::Rejected {
                status: 401,
                error: "invalid_client".into(),
                codes: vec![7000215],
                summary: None,
                correlation_id: None,
            }
        }
        for failure in [untrusted as fn() -> EntraError, refused] {
            assert_eq!(again_after(failure, true), (2, false), "{}", failure());
        }
    }

    #[test]
    fn sources_that_may_not_be_cached_are_asked_every_time() {
        with_cx(false, true, |id, cx, calls| {
            let a = get(id, cx).expect("acquired");
            let b = get(id, cx).expect("acquired");
            assert_ne!(a, b);
            assert_eq!(calls.get(), 2);
            assert!(cx.store.load(&id.fingerprint()).expect("load").is_none());
        });
    }
}
