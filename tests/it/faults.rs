//! Fault injection: what the helper does when the endpoints, the network or
//! the keyring misbehave (issue 13, item 2). Each fault maps to the tests
//! that prove its outcome — success within the retry bound, or one clear
//! error within it — and that no cache entry is harmed: a good cached token
//! is still served during the fault, a bad token is never cached, `cache
//! list` stays sane, and once the fault clears the next `get` fetches a
//! fresh token. Every bound is stated from the product's own constants
//! (`git_credential_entra::net::retry`), plus [`SLACK`] for starting processes.
//!
//! | fault | test | bound | measured (loaded 2-core machine) |
//! |---|---|---|---|
//! | Entra 429 with `Retry-After` | `transport::throttled_with_retry_after` | the `Retry-After` wait, then success; a wait past [`ENTRA`]`.budget` fails at once | 3 s wait: served in 3.6 s; 300 s: failed in 0.2 s |
//! | Entra 500/503 bursts | `transport::server_error_bursts` | success after the backoffs ([`ENTRA`]`.backoff`); a lasting outage fails within `budget` after `max_attempts` | 500, 503: served in 3.6 s; lasting: failed in 0.2 s |
//! | a hanging connection | `transport::a_hanging_connection` | one attempt ends at [`ENTRA`]`.attempt_timeout` and the next succeeds; hanging for good fails within `budget` | once: served in 11.4 s; for good: failed in 30.2 s, cached token served in 30.1 s |
//! | a connection reset | `transport::connection_resets` | success after the backoffs; reset for good: one error, or the cached token, within `budget` | twice: served in 3.6 s; for good: 15.2 s |
//! | a truncated JSON body | `answers::truncated_bodies` | cut by the connection: retried, success; stalled: the attempt timeout, then success; complete but cut short: one error at once, not retried | cut: 1.7 s; stalled once: 11.1 s, for good: failed in 30.9 s; short JSON: failed in 0.1 s |
//! | a 200 with a non-JWT token | `answers::tokens_that_are_not_jwts` | an opaque token is served and cached for its `expires_in`; one a bearer header cannot carry is one error at once | served in 0.8 s; refused in 0.3 s |
//! | a token already expired on arrival | `answers::tokens_expired_on_arrival`, `answers::a_token_azure_devops_finds_expired_is_erased` | `expires_in` ≤ 0 (or a past `expires_on`): one error at once, never cached; a token whose own `exp` is past: git's `erase` drops it | refused in 0.3–0.5 s |
//! | clock skew of ±10 min vs the token's `iat` | `answers::clock_skew_of_ten_minutes_either_way` | expiry from `expires_in` on our clock, whatever the claims say | served in 0.3 s |
//! | IMDS 410 for 60 s | `imds::imds_updating_for_a_minute` | [`MANAGED_IDENTITY`]`.deadline`: from the first 410, [`IMDS_UPDATE_WINDOW`] + `max_backoff` + `min_attempt` (78.5 s), past the 30 s budget, and a process waiting for the lock waits it out; longer: one error | two gets at once: both served in 63.5 s, one token; longer: failed in 71.1 s |
//! | the keyring daemon stops answering | `keyring::a_keyring_daemon_that_stops_answering` | every D-Bus call ends within the Secret Service client's 2 s call timeout, opening a session on a frozen bus within the helper's 3 s; the token is served, and cached once the daemon answers again | frozen mid-run: 4.3 s (2 s of Entra latency); frozen: 2.4 s; front hit: 14 ms; bus frozen: 3.1 s |
//!
//! Related, elsewhere: an outage shared by waiting processes
//! (`robustness::an_outage_is_shared_by_every_waiting_process`,
//! `robustness::a_success_ends_the_shared_outage`), answers over 1 MiB
//! (`robustness::answers_over_one_mib_are_refused`), IMDS 410 twice, 429,
//! and no endpoint at all (`mi_imds`), a corrupt cache entry
//! (`caching::file_store_is_private_holds_no_refresh_token_and_heals`), a
//! locked keyring (`keyring_locked`), and `kill -9` of lock holders (`soak`).

mod answers;
mod front;
mod imds;
mod keyring;
mod transport;

use std::time::{Duration, Instant};

pub use git_credential_entra::net::retry::{ENTRA, IMDS_UPDATE_WINDOW, MANAGED_IDENTITY};

use crate::support::world::{World, token_of};
use crate::support::{RunOutput, assert_no_leak};

/// Time beyond a product bound for starting processes, building the HTTP
/// client and the cache on a machine that runs many tests at once.
pub const SLACK: Duration = Duration::from_secs(10);

/// The default refresh margin (contract §7), in seconds.
const MARGIN: i64 = 300;

/// `get` for the standard request, timed; `-v` so decisions are on stderr.
/// Starts `get` with `args` in the background, git's request already written.
pub fn spawn_get(w: &World, args: &[&str]) -> std::process::Child {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = w
        .env
        .helper()
        .arg("get")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the helper");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(w.request().as_bytes())
        .expect("write the request");
    child
}

pub fn timed_get(w: &World) -> (RunOutput, Duration) {
    let started = Instant::now();
    let out = w.helper(&["get", "-v"], &w.request());
    let took = started.elapsed();
    report(&out, took);
    (out, took)
}

/// Puts how a faulty `get` ended, and how long it took, in the test's
/// output (`--nocapture` shows the figures).
pub fn report(out: &RunOutput, took: Duration) {
    eprintln!(
        "{}: get {} in {took:.1?}",
        std::thread::current().name().unwrap_or("a fault"),
        if out.status.success() {
            "served"
        } else {
            "failed"
        }
    );
}

/// The one error line of a failed `get` (after `quit=1` on stdout), which
/// must name the identity and say what to do.
pub fn one_error(out: &RunOutput) -> String {
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("git-credential-entra:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error: {}", out.stderr);
    let line = errors[0].to_string();
    assert!(
        line.contains("identity 'ci'") && line.contains("Fix:"),
        "{line}"
    );
    line
}

/// The `cache list` row of the standard identity.
pub fn cache_row(w: &World) -> String {
    row_of(w, "ci")
}

/// The `cache list` row of identity `name` (`cache list` itself must work
/// and show no token).
pub fn row_of(w: &World, name: &str) -> String {
    let list = w.helper(&["cache", "list"], "");
    assert!(list.status.success(), "{}", list.stderr);
    assert_no_leak("cache list", &list.stdout);
    list.stdout
        .lines()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|names| names.split(',').any(|n| n == name))
        })
        .unwrap_or_else(|| panic!("a row for {name}: {}", list.stdout))
        .to_string()
}

/// Asserts that nothing is cached for the standard identity.
pub fn assert_not_cached(w: &World) {
    let row = cache_row(w);
    assert!(row.contains("not cached"), "{row}");
}

/// Forgets the failure a `get` left beside the lock for the processes
/// behind it, as 30 s passing would: the next `get` asks the endpoint again.
pub fn forget_failures(w: &World) {
    let dir = w.env.path().join("runtime/git-credential-entra");
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|x| x == "failed") {
            std::fs::remove_file(entry.path()).expect("remove a failure record");
        }
    }
}

/// A fresh token is fetched, served and cached: the token Entra issued last.
pub fn fresh_token(w: &World) -> String {
    let requests = w.token_requests();
    let (out, _) = timed_get(w);
    assert!(out.status.success(), "{}", out.stderr);
    let token = token_of(&out.stdout);
    assert!(w.token_requests() > requests, "Entra was asked");
    assert_eq!(w.entra.issued_tokens().last(), Some(&token));
    assert!(cache_row(w).contains("fresh"));
    token
}

/// The cache checks an Entra fault ends with. Once the fault is gone
/// (`clear`), a fresh token is cached; aged until a refresh is due, it is
/// still served while the fault is back (`inject`) and Entra cannot give a
/// new one, and its entry stays intact; when the fault clears again, the
/// next `get` replaces it with a fresh token.
pub fn cache_survives(w: &World, inject: impl Fn(&World), clear: impl Fn(&World)) {
    clear(w);
    forget_failures(w);
    let good = fresh_token(w);
    // Standard lifetime 3599 s: half the margin left, so a refresh is due.
    w.age_cache(3599 - MARGIN / 2);
    assert!(cache_row(w).contains("refresh due"));
    inject(w);
    let (out, took) = timed_get(w);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), good, "the cached token is served");
    assert!(
        out.stderr.contains("serving the cached token"),
        "{}",
        out.stderr
    );
    assert!(took <= ENTRA.budget + SLACK, "{took:?}");
    assert!(cache_row(w).contains("refresh due"), "the entry is intact");
    clear(w);
    forget_failures(w);
    let fresh = fresh_token(w);
    assert_ne!(fresh, good);
}
