//! The one retry loop for token endpoints, with a [`Policy`] per kind of
//! endpoint (Entra, managed identity, the CI platforms' OIDC endpoints,
//! Key Vault).
//!
//! One budget covers the whole operation: every attempt and every wait. An
//! attempt may use only what is left of it, and no wait — whatever a server's
//! `Retry-After` says — takes the operation past it. Reading and judging an
//! answer stays with the caller, which knows what a body may hold.
//!
//! One exception, for a status whose end the endpoint documents (IMDS answers
//! 410 while it updates, "available within 70 seconds"): once it is seen, the
//! operation may last until one attempt has been made after that window,
//! even past a shorter budget — giving up earlier would fail a request that
//! is known to succeed moments later.

use std::time::{Duration, Instant};

use crate::sys::trace::Trace;

// Each endpoint's policy, named in one place: the token requests use
// them, the lock's patience is derived from them, and the tests and
// benches state their bounds from them.

/// Total time one token request may take: every attempt and every wait.
const ENTRA_BUDGET: Duration = Duration::from_secs(30);
/// Attempts within the budget.
const ENTRA_ATTEMPTS: u32 = 6;
/// Longest single attempt: Entra answers in well under a second, so an
/// attempt this slow is a hung connection, and a third of the budget is
/// left for the attempts after it.
const ENTRA_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// An attempt with less time than this left would only time out.
const ENTRA_MIN_ATTEMPT: Duration = Duration::from_secs(2);

/// Retries for Entra's token endpoint: throttling and outages (honouring
/// `Retry-After`), timeouts and dropped connections, with backoff.
pub const ENTRA: Policy = Policy {
    name: "entra",
    statuses: &[(429, 429), (500, 599)],
    budget: ENTRA_BUDGET,
    max_attempts: ENTRA_ATTEMPTS,
    attempt_timeout: ENTRA_ATTEMPT_TIMEOUT,
    min_attempt: ENTRA_MIN_ATTEMPT,
    first_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(16),
    honour_retry_after: true,
    retry_transport: true,
    window: None,
};

/// How long IMDS answers 410 while it updates: "available within 70
/// seconds" (Microsoft's IMDS documentation).
pub const IMDS_UPDATE_WINDOW: Duration = Duration::from_secs(70);

/// Retries for managed-identity endpoints; the budget is the identity's.
/// Enough attempts for [`IMDS_UPDATE_WINDOW`] at the longest backoff: the
/// budget, not the count, is what ends an outage.
pub const MANAGED_IDENTITY: Policy = Policy {
    name: "managed identity",
    statuses: &[(404, 404), (410, 410), (429, 429), (500, 599)],
    budget: Duration::from_secs(30),
    max_attempts: 16,
    attempt_timeout: Duration::from_secs(10),
    min_attempt: Duration::from_millis(500),
    first_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(8),
    honour_retry_after: true,
    retry_transport: true,
    window: Some((410, IMDS_UPDATE_WINDOW)),
};

/// Retries for the OIDC endpoints: throttling and outages, honouring
/// `Retry-After`, within a budget short enough for a CI step.
pub const OIDC: Policy = Policy {
    name: "oidc",
    statuses: &[(429, 429), (500, 599)],
    budget: Duration::from_secs(10),
    max_attempts: 4,
    attempt_timeout: crate::net::http::REQUEST_TIMEOUT,
    min_attempt: Duration::from_secs(1),
    first_backoff: Duration::from_millis(500),
    max_backoff: Duration::from_secs(4),
    honour_retry_after: true,
    retry_transport: true,
    window: None,
};

/// Retries for reading a secret from Key Vault: throttling and outages,
/// honouring `Retry-After`, as for the OIDC endpoints.
pub const KEY_VAULT: Policy = Policy {
    name: "key vault",
    ..OIDC
};

/// When and how often to try again.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Names the endpoint in trace lines (`entra`).
    pub name: &'static str,
    /// Inclusive status ranges worth another attempt.
    pub statuses: &'static [(u16, u16)],
    /// Total time for every attempt and every wait.
    pub budget: Duration,
    /// Attempts within the budget.
    pub max_attempts: u32,
    /// Longest single attempt (less when less of the budget is left).
    pub attempt_timeout: Duration,
    /// An attempt with less time than this left would only time out.
    pub min_attempt: Duration,
    /// Wait after the first failure; doubled after each further one.
    pub first_backoff: Duration,
    /// The doubling stops here.
    pub max_backoff: Duration,
    /// Whether a server's `Retry-After` (seconds) replaces the backoff.
    pub honour_retry_after: bool,
    /// Whether an answer that never (fully) arrived is tried again.
    pub retry_transport: bool,
    /// A status the endpoint answers for a documented time at most, and that
    /// time: once the status is seen, the operation lasts (past the budget if
    /// need be) until one attempt after the window (see [`Policy::deadline`]).
    pub window: Option<(u16, Duration)>,
}

/// What the loop gives one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// 1 for the first.
    pub number: u32,
    /// The time this attempt may take: min(attempt timeout, budget left).
    pub timeout: Duration,
    /// When the whole operation began.
    pub started: Instant,
}

/// How one attempt ended.
#[derive(Debug)]
pub enum Step<T, E> {
    /// An answer, or a failure another attempt cannot fix.
    Done(Result<T, E>),
    /// A status in [`Policy::statuses`], with the server's `Retry-After`.
    Status {
        status: u16,
        failure: E,
        retry_after: Option<Duration>,
    },
    /// No complete answer, of a kind that may go away (a timeout, a reset).
    Transport { failure: E },
}

impl Policy {
    /// Whether `status` is worth another attempt.
    pub fn retries(&self, status: u16) -> bool {
        self.statuses
            .iter()
            .any(|(low, high)| (*low..=*high).contains(&status))
    }

    /// The wait after failed attempt `number` (1-based) when the server says
    /// nothing.
    pub fn backoff(&self, number: u32) -> Duration {
        let doublings = number.saturating_sub(1).min(16);
        self.first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }

    /// The time an attempt may take when `elapsed` of the time allowed
    /// (`deadline`, from the start) is spent.
    fn attempt_time(&self, elapsed: Duration, deadline: Duration) -> Duration {
        self.attempt_timeout.min(deadline.saturating_sub(elapsed))
    }

    /// Whether another attempt after failed attempt `number` and a wait of
    /// `wait` still leaves it time before `deadline` (from `started`).
    pub fn fits(&self, started: Instant, deadline: Duration, wait: Duration, number: u32) -> bool {
        number < self.max_attempts
            && started
                .elapsed()
                .saturating_add(wait)
                .saturating_add(self.min_attempt)
                <= deadline
    }

    /// How long the operation may last, from its start: the budget — or,
    /// when the window's status was first answered `first_seen` into it,
    /// long enough for the longest wait and one attempt after the window.
    pub fn deadline(&self, first_seen: Option<Duration>) -> Duration {
        match (self.window, first_seen) {
            (Some((_, window)), Some(at)) => self.budget.max(
                at.saturating_add(window)
                    .saturating_add(self.max_backoff)
                    .saturating_add(self.min_attempt),
            ),
            _ => self.budget,
        }
    }

    /// Runs `attempt` until it is done, the policy stops retrying, or the
    /// budget or attempts run out. `finish` turns the last failure into the
    /// final error, given how many attempts were made over how long.
    pub fn run<T, E>(
        &self,
        trace: &Trace,
        mut attempt: impl FnMut(Attempt) -> Step<T, E>,
        finish: impl FnOnce(E, u32, Duration) -> E,
    ) -> Result<T, E> {
        let started = Instant::now();
        let mut number = 0;
        // When the window's status was first answered, from the start.
        let mut first_seen = None;
        loop {
            number += 1;
            let this = Attempt {
                number,
                timeout: self.attempt_time(started.elapsed(), self.deadline(first_seen)),
                started,
            };
            let (failure, wait) = match attempt(this) {
                Step::Done(result) => return result,
                Step::Status {
                    status,
                    failure,
                    retry_after,
                } => {
                    if self.window.is_some_and(|(s, _)| s == status) && first_seen.is_none() {
                        first_seen = Some(started.elapsed());
                    }
                    let wait = retry_after
                        .filter(|_| self.honour_retry_after)
                        .unwrap_or_else(|| self.backoff(number));
                    (failure, wait)
                }
                Step::Transport { failure } if self.retry_transport => {
                    (failure, self.backoff(number))
                }
                Step::Transport { failure } => return Err(failure),
            };
            if !self.fits(started, self.deadline(first_seen), wait, number) {
                return Err(finish(failure, number, started.elapsed()));
            }
            trace.detail(format_args!(
                "{}: attempt {number} failed, retrying in {} s",
                self.name,
                wait.as_secs()
            ));
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Policy = Policy {
        name: "test",
        statuses: &[(429, 429), (500, 599)],
        budget: Duration::from_secs(30),
        max_attempts: 4,
        attempt_timeout: Duration::from_secs(10),
        min_attempt: Duration::from_secs(2),
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        honour_retry_after: true,
        retry_transport: true,
        window: None,
    };

    /// Runs `policy` over scripted steps; returns the result and how many
    /// attempts were made.
    fn script(policy: &Policy, steps: Vec<Step<u16, u16>>) -> (Result<u16, u16>, u32) {
        let mut steps = steps.into_iter();
        let mut made = 0;
        let result = policy.run(
            &Trace::off(),
            |a| {
                made = a.number;
                steps.next().unwrap_or(Step::Done(Ok(0)))
            },
            |failure, attempts, _| failure + 1000 * attempts as u16,
        );
        (result, made)
    }

    fn status(code: u16) -> Step<u16, u16> {
        Step::Status {
            status: code,
            failure: code,
            retry_after: None,
        }
    }

    #[test]
    fn no_wait_takes_us_past_the_budget() {
        let now = Instant::now();
        let budget = QUICK.budget;
        assert!(QUICK.fits(now, budget, Duration::from_secs(1), 1));
        assert!(
            !QUICK.fits(now, budget, Duration::MAX, 1),
            "Retry-After: 18446744073709551615"
        );
        assert!(!QUICK.fits(now, budget, budget, 1));
        assert!(!QUICK.fits(now, budget, budget - QUICK.min_attempt / 2, 1));
        assert!(!QUICK.fits(now, budget, Duration::ZERO, QUICK.max_attempts));
    }

    #[test]
    fn an_attempt_never_outlives_the_budget() {
        let secs = |s| Duration::from_secs(s);
        let budget = QUICK.budget;
        assert_eq!(
            QUICK.attempt_time(Duration::ZERO, budget),
            QUICK.attempt_timeout
        );
        assert_eq!(QUICK.attempt_time(secs(25), budget), secs(5));
        assert_eq!(QUICK.attempt_time(secs(40), budget), Duration::ZERO);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let waits: Vec<u128> = (1..=5).map(|n| QUICK.backoff(n).as_millis()).collect();
        assert_eq!(waits, [1, 2, 4, 4, 4]);
        assert_eq!(QUICK.backoff(u32::MAX), QUICK.max_backoff);
    }

    #[test]
    fn statuses_retry_until_the_attempts_run_out() {
        let (result, made) = script(&QUICK, (0..10).map(|_| status(503)).collect());
        assert_eq!((result, made), (Err(4503), 4), "finish saw 4 attempts");
        let (result, made) = script(&QUICK, vec![status(429), status(500), Step::Done(Ok(7))]);
        assert_eq!((result, made), (Ok(7), 3));
        let (result, made) = script(&QUICK, vec![Step::Done(Err(400))]);
        assert_eq!(
            (result, made),
            (Err(400), 1),
            "a final failure is not retried"
        );
        assert!(QUICK.retries(429) && QUICK.retries(500) && QUICK.retries(599));
        assert!(!QUICK.retries(404) && !QUICK.retries(400) && !QUICK.retries(600));
    }

    #[test]
    fn retry_after_is_honoured_only_when_the_policy_says_so() {
        let long = || Step::Status {
            status: 429,
            failure: 429,
            retry_after: Some(Duration::from_secs(3600)),
        };
        let (result, made) = script(&QUICK, vec![long(), Step::Done(Ok(1))]);
        assert_eq!((result, made), (Err(1429), 1), "an hour does not fit");
        let ignoring = Policy {
            honour_retry_after: false,
            ..QUICK
        };
        let (result, made) = script(&ignoring, vec![long(), Step::Done(Ok(1))]);
        assert_eq!((result, made), (Ok(1), 2), "the backoff is used instead");
    }

    #[test]
    fn transport_failures_retry_only_when_the_policy_says_so() {
        let dropped = || Step::Transport { failure: 1 };
        let (result, made) = script(&QUICK, vec![dropped(), Step::Done(Ok(2))]);
        assert_eq!((result, made), (Ok(2), 2));
        let strict = Policy {
            retry_transport: false,
            ..QUICK
        };
        let (result, made) = script(&strict, vec![dropped(), Step::Done(Ok(2))]);
        assert_eq!((result, made), (Err(1), 1), "returned as it came");
    }

    #[test]
    fn a_documented_window_outlasts_a_shorter_budget_by_one_attempt() {
        let secs = Duration::from_secs;
        let imds = Policy {
            budget: secs(30),
            max_backoff: secs(8),
            min_attempt: Duration::from_millis(500),
            window: Some((410, secs(70))),
            ..QUICK
        };
        assert_eq!(imds.deadline(None), secs(30), "not seen: the budget");
        // Seen 2 s in: the window ends at 72 s; the longest wait may start
        // just before it, and the attempt after it needs its minimum time.
        assert_eq!(
            imds.deadline(Some(secs(2))),
            secs(2 + 70 + 8) + Duration::from_millis(500)
        );
        let long = Policy {
            budget: secs(600),
            ..imds
        };
        assert_eq!(long.deadline(Some(secs(2))), secs(600), "never shorter");
        assert_eq!(QUICK.deadline(Some(secs(2))), QUICK.budget, "no window");
    }

    #[test]
    fn only_the_window_status_extends_the_budget() {
        let tiny = Policy {
            budget: Duration::from_millis(50),
            min_attempt: Duration::from_millis(10),
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(20),
            max_attempts: 100,
            statuses: &[(410, 410), (503, 503)],
            window: Some((410, Duration::from_millis(400))),
            ..QUICK
        };
        // 503s: the 50 ms budget ends it after a few attempts.
        let (result, made) = script(&tiny, (0..100).map(|_| status(503)).collect());
        assert!(result.is_err() && made < 5, "{made}");
        // 410s: tried on for the 400 ms window and one attempt after it.
        let started = Instant::now();
        let (result, made) = script(&tiny, (0..100).map(|_| status(410)).collect());
        assert!(result.is_err(), "{result:?}");
        assert!(started.elapsed() >= Duration::from_millis(400), "{made}");
        assert!(made > 10, "{made}");
        let (result, _) = script(
            &tiny,
            (0..10)
                .map(|_| status(410))
                .chain([Step::Done(Ok(5))])
                .collect(),
        );
        assert_eq!(
            result,
            Ok(5),
            "ten 410s (about 200 ms, within the window) then a token"
        );
    }
}
