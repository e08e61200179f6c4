//! Decisions and timings, for `-v`, `-vv` and `GIT_CREDENTIAL_ENTRA_TRACE`.
//!
//! Callers pass `format_args!`; tokens and secrets are `Secret` values whose
//! `Debug` is `***` and which have no `Display`, so a trace line cannot carry
//! one unless a caller calls `expose()` into it — which no caller does.
//!
//! Every line carries the time since the trace started (monotonic, in ms with
//! microsecond digits), and a full trace opens with the wall-clock time that
//! clock started at, so an operator can subtract one line from another to
//! time a step, and line the helper's trace up with git's own
//! (`GIT_TRACE2_EVENT` stamps events with the same UTC clock).

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::sys::env::Env;
use crate::sys::files::open_append_private;

const VAR: &str = "GIT_CREDENTIAL_ENTRA_TRACE";

/// What `GIT_CREDENTIAL_ENTRA_TRACE` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Setting<'a> {
    /// No trace beyond `-v`.
    Off,
    /// The full trace on stderr.
    Stderr,
    /// The full trace appended to this absolute path.
    File(&'a str),
}

/// Reads the variable. A relative path is refused: git runs helpers inside
/// the repository, so it would write the trace into the worktree.
fn setting(value: Option<&str>) -> Result<Setting<'_>, String> {
    let Some(value) = value else {
        return Ok(Setting::Off);
    };
    match value.to_ascii_lowercase().as_str() {
        "0" | "false" | "no" | "off" => Ok(Setting::Off),
        "1" | "2" | "true" | "yes" | "on" => Ok(Setting::Stderr),
        _ if Path::new(value).is_absolute() => Ok(Setting::File(value)),
        _ => Err(format!(
            "{VAR}={value:?} is neither 1, true, yes, on, 2 (trace to stderr), 0, false, no, off, nor an absolute path, so nothing is traced (a relative path would be written inside the repository git runs this helper in). Fix: set it to 1, or to an absolute file path"
        )),
    }
}

/// Where trace lines go, and how much; and the one stream for the person
/// (stderr), which every notice, prompt and final error line of the
/// invocation shares, so that tests can read them from a buffer.
pub struct Trace {
    level: u8,
    /// The trace file, when `GIT_CREDENTIAL_ENTRA_TRACE` names one;
    /// otherwise trace lines go to `stderr`.
    file: RefCell<Option<Box<dyn Write>>>,
    stderr: Stderr,
    start: Instant,
}

/// The person's stream (stderr), one per invocation: clones share it, so
/// the cache's notices, prompts and the final line come out in order on
/// whatever stream `run` was given.
#[derive(Clone)]
pub struct Stderr(std::rc::Rc<RefCell<Box<dyn Write>>>);

impl Stderr {
    /// One line for the person: `git-credential-entra: ` and the text, made inert.
    pub fn say(&self, args: fmt::Arguments) {
        let line = crate::sys::text::inert(args);
        let _ = writeln!(self.0.borrow_mut(), "git-credential-entra: {line}");
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

impl Trace {
    /// `-v` count plus `GIT_CREDENTIAL_ENTRA_TRACE` (`1`/`true` → stderr, an
    /// absolute path → append there); `stderr` is the person's stream.
    pub fn new(verbosity: u8, env: &Env, mut stderr: Box<dyn Write>) -> Trace {
        let start = Instant::now();
        let (level, file): (u8, Option<Box<dyn Write>>) = match setting(env.get(VAR)) {
            Ok(Setting::Off) => (verbosity, None),
            Ok(Setting::Stderr) => (2, None),
            Ok(Setting::File(path)) => match open_append_private(Path::new(path)) {
                Ok(f) => (2.max(verbosity), Some(Box::new(f) as Box<dyn Write>)),
                Err(e) => {
                    let _ = writeln!(
                        stderr,
                        "git-credential-entra: {VAR}: cannot use {}: {e}, so nothing is traced there (the trace file must be a regular file of yours, not a link or a pipe). Fix: point {VAR} at a file in a directory only you can write, such as your home",
                        crate::sys::text::escape_controls(path)
                    );
                    (verbosity, None)
                }
            },
            Err(problem) => {
                let _ = writeln!(
                    stderr,
                    "git-credential-entra: {}",
                    crate::sys::text::escape_controls(&problem)
                );
                (verbosity, None)
            }
        };
        let trace = Trace {
            level,
            file: RefCell::new(file),
            stderr: Stderr(std::rc::Rc::new(RefCell::new(stderr))),
            start,
        };
        // Only when it is written: a cached `get` without tracing must not
        // pay for formatting the wall clock.
        if trace.level >= 2 {
            trace.detail(format_args!(
                "trace: clock started at {} (process {}, version {})",
                utc_micros(SystemTime::now()),
                std::process::id(),
                env!("CARGO_PKG_VERSION")
            ));
        }
        trace
    }

    /// A trace that prints nothing, and drops what is said to the person.
    #[cfg(test)]
    pub fn off() -> Trace {
        Trace {
            level: 0,
            file: RefCell::new(None),
            stderr: Stderr(std::rc::Rc::new(RefCell::new(Box::new(std::io::sink())))),
            start: Instant::now(),
        }
    }

    /// The person's stream (stderr), for prompts, notices and final lines.
    pub fn stderr(&self) -> Stderr {
        self.stderr.clone()
    }

    /// One line for the person, whatever the trace level: a notice.
    pub fn say(&self, args: fmt::Arguments) {
        self.stderr.say(args);
    }

    /// A decision (`-v`): route, identity, cache hit or miss.
    pub fn decision(&self, args: fmt::Arguments) {
        self.line(1, args);
    }

    /// A detail (`-vv` / trace): endpoints, statuses, timings.
    pub fn detail(&self, args: fmt::Arguments) {
        self.line(2, args);
    }

    fn line(&self, level: u8, args: fmt::Arguments) {
        if self.level < level {
            return;
        }
        let ms = self.start.elapsed().as_secs_f64() * 1000.0;
        let line = crate::sys::text::inert(args);
        // A trace that cannot be written must not fail the request.
        match self.file.borrow_mut().as_mut() {
            Some(file) => {
                let _ = writeln!(file, "git-credential-entra [{ms:10.3} ms] {line}");
            }
            None => {
                let _ = writeln!(
                    self.stderr.0.borrow_mut(),
                    "git-credential-entra [{ms:10.3} ms] {line}"
                );
            }
        }
    }
}

/// A stream for unit tests that keeps what was written, readable while the
/// [`Trace`] that writes to it lives.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct Captured(std::rc::Rc<RefCell<Vec<u8>>>);

#[cfg(test)]
impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

#[cfg(test)]
impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `2026-11-30T17:08:00.123456Z`: UTC with microseconds, as git's trace2 writes it.
fn utc_micros(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(0);
    let whole = crate::sys::time::rfc3339(secs);
    let date_time = whole.strip_suffix('Z').unwrap_or(&whole);
    format!("{date_time}.{:06}Z", since.subsec_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wall_clock_start_has_microseconds_in_utc() {
        let t = UNIX_EPOCH + Duration::from_micros(1_798_000_000_000_042);
        assert_eq!(utc_micros(t), "2026-12-23T04:26:40.000042Z");
        assert_eq!(utc_micros(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn a_full_trace_opens_with_its_clock_and_stamps_lines_in_microseconds() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("trace.log");
        let path = path.to_str().expect("UTF-8 path");
        let before = SystemTime::now();
        let env = Env::from_pairs([(VAR, path)]);
        let trace = Trace::new(0, &env, Box::new(std::io::sink()));
        trace.decision(format_args!("a decision"));
        drop(trace);
        let text = std::fs::read_to_string(path).expect("the trace file");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        // `git-credential-entra [     0.012 ms] ...`: three decimals, then the text.
        for line in &lines {
            let stamp = line
                .strip_prefix("git-credential-entra [")
                .and_then(|l| l.split_once(" ms] "))
                .map(|(ms, _)| ms.trim())
                .unwrap_or_else(|| panic!("no stamp: {line}"));
            let (_, decimals) = stamp.split_once('.').expect("a fractional stamp");
            assert_eq!(decimals.len(), 3, "{line}");
            assert!(stamp.parse::<f64>().is_ok(), "{line}");
        }
        let started = lines[0]
            .split_once("trace: clock started at ")
            .and_then(|(_, rest)| rest.split_once(' '))
            .map(|(t, _)| t)
            .unwrap_or_else(|| panic!("no start line: {}", lines[0]));
        assert!(lines[0].contains(&format!("process {}", std::process::id())));
        // Both ends are formatted alike, so text order is time order.
        let low = utc_micros(before);
        let high = utc_micros(SystemTime::now());
        assert!(
            low.as_str() <= started && started <= high.as_str(),
            "{started} not in [{low}, {high}]"
        );
        assert!(lines[1].ends_with("] a decision"), "{}", lines[1]);
    }

    #[test]
    fn words_in_any_case_absolute_paths_and_nothing_else() {
        for off in ["0", "false", "No", "OFF"] {
            assert_eq!(setting(Some(off)), Ok(Setting::Off), "{off}");
        }
        for on in ["1", "2", "true", "TRUE", "Yes", "oN"] {
            assert_eq!(setting(Some(on)), Ok(Setting::Stderr), "{on}");
        }
        assert_eq!(setting(None), Ok(Setting::Off));
        let absolute = if cfg!(windows) {
            r"C:\logs\trace.log"
        } else {
            "/var/tmp/trace.log"
        };
        assert_eq!(setting(Some(absolute)), Ok(Setting::File(absolute)));
        for relative in ["trace.log", "./t", "../t", "logs/t", "~/t", "enable"] {
            let problem = setting(Some(relative)).expect_err(relative);
            assert!(problem.contains("absolute path"), "{problem}");
            assert!(!problem.contains('\n'), "one line: {problem}");
        }
    }
}
