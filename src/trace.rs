//! Decisions and timings, for `-v`, `-vv` and `GIT_CREDENTIAL_ENTRA_TRACE`.
//!
//! Callers pass `format_args!`; tokens and secrets are `Secret` values whose
//! `Debug` is `***` and which have no `Display`, so a trace line cannot carry
//! one unless a caller calls `expose()` into it — which no caller does.

use std::cell::RefCell;
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::env::Env;

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

/// Where trace lines go, and how much.
pub struct Trace {
    level: u8,
    sink: RefCell<Option<Box<dyn Write>>>,
    start: Instant,
}

impl Trace {
    /// `-v` count plus `GIT_CREDENTIAL_ENTRA_TRACE` (`1`/`true` → stderr, an absolute path → append there).
    pub fn new(verbosity: u8, env: &Env) -> Trace {
        let start = Instant::now();
        let (level, sink): (u8, Option<Box<dyn Write>>) = match setting(env.get(VAR)) {
            Ok(Setting::Off) => (verbosity, None),
            Ok(Setting::Stderr) => (2, None),
            Ok(Setting::File(path)) => {
                let mut options = OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(f) => (2.max(verbosity), Some(Box::new(f) as Box<dyn Write>)),
                    Err(e) => {
                        eprintln!(
                            "git-credential-entra: cannot open trace file {path}: {e}; tracing to stderr"
                        );
                        (2, None)
                    }
                }
            }
            Err(problem) => {
                eprintln!("git-credential-entra: {problem}");
                (verbosity, None)
            }
        };
        let sink = match sink {
            Some(s) => Some(s),
            None if level > 0 => Some(Box::new(std::io::stderr()) as Box<dyn Write>),
            None => None,
        };
        Trace {
            level,
            sink: RefCell::new(sink),
            start,
        }
    }

    /// A trace that prints nothing.
    #[cfg(test)]
    pub fn off() -> Trace {
        Trace {
            level: 0,
            sink: RefCell::new(None),
            start: Instant::now(),
        }
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
        if let Some(sink) = self.sink.borrow_mut().as_mut() {
            let ms = self.start.elapsed().as_secs_f64() * 1000.0;
            // A trace that cannot be written must not fail the request.
            let _ = writeln!(sink, "git-credential-entra [{ms:8.1} ms] {args}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
