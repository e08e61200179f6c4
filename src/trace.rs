//! Decisions and timings, for `-v`, `-vv` and `GIT_CREDENTIAL_ENTRA_TRACE`.
//!
//! Callers pass `format_args!`; tokens and secrets are `Secret` values whose
//! `Debug` is `***` and which have no `Display`, so a trace line cannot carry
//! one unless a caller calls `expose()` into it — which no caller does.

use std::cell::RefCell;
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::time::Instant;

use crate::env::Env;

/// Where trace lines go, and how much.
pub struct Trace {
    level: u8,
    sink: RefCell<Option<Box<dyn Write>>>,
    start: Instant,
}

impl Trace {
    /// `-v` count plus `GIT_CREDENTIAL_ENTRA_TRACE` (`1`/`true` → stderr, a path → append there).
    pub fn new(verbosity: u8, env: &Env) -> Trace {
        let start = Instant::now();
        let (level, sink): (u8, Option<Box<dyn Write>>) = match env
            .get("GIT_CREDENTIAL_ENTRA_TRACE")
        {
            Some("0" | "false" | "no" | "off") | None => (verbosity, None),
            Some("1" | "true" | "yes" | "on" | "2") => (2, None),
            Some(path) => {
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
