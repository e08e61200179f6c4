//! Traced cold `get`s: running them (file store emptied before each) and splitting each into
//! phases by the helper's own trace (`GIT_CREDENTIAL_ENTRA_TRACE=1`), for the cold tables.

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fmt_ms;
use crate::measure::{Stats, field, ms, run_timed};
use crate::support::TestEnv;

/// Variable that prints the first trace of each series to the bench's stderr.
const SHOW_TRACE: &str = "GIT_CREDENTIAL_ENTRA_BENCH_SHOW_TRACE";

/// The columns of a phase row after its label, in the order [`row`] fills them.
pub const COLUMNS: [&str; 8] = [
    "total",
    "process start",
    "config + cache check",
    "assertion",
    "git's network settings",
    "HTTP client set-up",
    "token request",
    "the rest (store, answer, exit)",
];

/// Phases of one traced cold `get`, in ms.
pub struct Split {
    /// Spawn → the trace's zero (exec, loader, runtime, argument parsing).
    start: f64,
    /// Config, route, cache lookup and lock, to the "cache miss" line.
    cache: f64,
    /// Loading the certificate and signing, or the CI's OIDC request (as the trace times it).
    assertion: Option<f64>,
    /// Whether `assertion` is a request's time (whole ms) rather than signing's.
    assertion_is_request: bool,
    /// Reading git's `http.*` settings for the remote (the trace's own figure).
    git_settings: Option<f64>,
    /// Building the HTTP clients (the trace's own figures, summed).
    setup: Option<f64>,
    /// The token request itself, as the trace times it (whole ms).
    request: Option<f64>,
    /// Everything else: storing the token, answering git, exiting.
    rest: f64,
    /// Spawn → reap.
    total: f64,
}

/// A series of traced cold `get`s.
pub struct Series {
    /// How many returned a token.
    pub good: usize,
    /// Spawn → reap of each run.
    pub times: Vec<Duration>,
    /// The runs whose trace could be split.
    pub splits: Vec<Split>,
}

/// Runs `n` cold `get`s of `request` in `env` (after `clear` each), traced; `label` names the
/// series when the first trace is shown.
pub fn traced_gets(
    label: &str,
    env: &TestEnv,
    request: &str,
    n: usize,
    clear: &dyn Fn(&TestEnv),
) -> Series {
    let mut series = Series {
        good: 0,
        times: Vec::with_capacity(n),
        splits: Vec::with_capacity(n),
    };
    for _ in 0..n {
        clear(env);
        let mut cmd = env.helper();
        cmd.arg("get")
            .env("GIT_CREDENTIAL_ENTRA_TRACE", "1")
            .stderr(Stdio::piped());
        let run = run_timed(&mut cmd, request.as_bytes());
        if std::env::var_os(SHOW_TRACE).is_some() && series.good == 0 {
            eprintln!("{label}:\n{}", run.stderr);
        }
        series.good += usize::from(run.ok && field(&run.stdout, "password").is_some());
        series.times.push(run.elapsed);
        if let Some(split) = split(&run.stderr, run.spawned_at, ms(run.elapsed)) {
            series.splits.push(split);
        }
    }
    series
}

/// The cells of [`COLUMNS`] for `splits` (not empty): the median of each phase, "—" for a
/// phase some run lacks.
pub fn row(splits: &[Split]) -> Vec<String> {
    // The trace times requests in whole milliseconds: say so rather than show 0.00 ms.
    let whole = |v: f64| {
        if v < 1.0 {
            "< 1 ms".to_string()
        } else {
            format!("{v:.1} ms")
        }
    };
    let med = |f: &dyn Fn(&Split) -> Option<f64>, whole_ms: bool| -> String {
        let v: Vec<f64> = splits.iter().filter_map(f).collect();
        if v.len() < splits.len() {
            return "—".to_string();
        }
        let m = Stats::median_of(&v);
        if whole_ms { whole(m) } else { fmt_ms(m) }
    };
    let oidc = splits.iter().any(|s| s.assertion_is_request);
    vec![
        med(&|s| Some(s.total), false),
        med(&|s| Some(s.start), false),
        med(&|s| Some(s.cache), false),
        med(&|s| s.assertion, oidc),
        med(&|s| s.git_settings, false),
        med(&|s| s.setup, false),
        med(&|s| s.request, true),
        med(&|s| Some(s.rest), false),
    ]
}

/// Splits one traced `get` into phases; `None` when the trace lacks a boundary.
fn split(trace: &str, spawned_at: SystemTime, total: f64) -> Option<Split> {
    let lines: Vec<(f64, &str)> = trace
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("git-credential-entra [")?;
            let (stamp, text) = rest.split_once(" ms] ")?;
            Some((stamp.trim().parse().ok()?, text))
        })
        .collect();
    let zero = lines
        .iter()
        .find_map(|(_, t)| t.strip_prefix("trace: clock started at "))
        .and_then(|t| parse_utc_micros(t.split(' ').next()?))?;
    let spawned = spawned_at.duration_since(UNIX_EPOCH).ok()?.as_micros() as i128;
    let start = (zero - spawned) as f64 / 1000.0;
    let miss = lines
        .iter()
        .find(|(_, t)| t.contains("cache miss for") || t.contains("are not cached"))?
        .0;
    // "... in 1207 us" at the end of the signing line.
    let signing = lines
        .iter()
        .filter(|(_, t)| t.contains("client assertion with certificate"))
        .find_map(|(_, t)| micros_after(t, " in "));
    // "network: ... (git's settings read in 85 us)", once; "network: [managed-identity ]HTTP
    // client built in 2345 us", once per client.
    let network = |marker: &str| -> Option<f64> {
        let v: Vec<f64> = lines
            .iter()
            .filter(|(_, t)| t.starts_with("network: "))
            .filter_map(|(_, t)| micros_after(t, marker))
            .collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let git_settings = network("git's settings read in ");
    let setup = network("client built in ");
    // "... -> 200 in 3 ms": each request's own time.
    let (mut oidc, mut token) = (None, None);
    for (_, text) in &lines {
        let Some(took) = text
            .split_once(" -> 200 in ")
            .and_then(|(_, t)| t.strip_suffix(" ms")?.parse::<f64>().ok())
        else {
            continue;
        };
        if text.starts_with("oidc: ") {
            oidc = Some(took);
        } else {
            token = Some(took);
        }
    }
    let traced: f64 = [signing.or(oidc), git_settings, setup, token]
        .iter()
        .flatten()
        .sum();
    Some(Split {
        start,
        cache: miss,
        assertion: signing.or(oidc),
        assertion_is_request: signing.is_none() && oidc.is_some(),
        git_settings,
        setup,
        request: token,
        rest: total - start - miss - traced,
        total,
    })
}

/// The microseconds figure right after the last `marker` of `text` ("... in 85 us", or
/// "... in 85 us)" closing a parenthesis), in ms.
fn micros_after(text: &str, marker: &str) -> Option<f64> {
    let (_, tail) = text.rsplit_once(marker)?;
    let us: f64 = tail
        .strip_suffix(')')
        .unwrap_or(tail)
        .strip_suffix(" us")?
        .parse()
        .ok()?;
    Some(us / 1000.0)
}

/// `2026-11-30T17:08:00.123456Z` as microseconds since the epoch.
fn parse_utc_micros(t: &str) -> Option<i128> {
    let (date, time) = t.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.')?;
    let mut h = hms.split(':').map(|p| p.parse::<i64>());
    let (hh, mm, ss) = (h.next()?.ok()?, h.next()?.ok()?, h.next()?.ok()?);
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(i128::from(secs) * 1_000_000 + frac.parse::<i128>().ok()?)
}
