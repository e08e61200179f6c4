//! Skipping a test that needs something this machine lacks: one line on
//! stderr in one format, and one rule, that what CI provides is never skipped
//! there. A skip only ever stands in for "cannot run here": the condition is
//! checked by the caller, and every other failure still fails.

use std::fmt::Display;

/// Whether CI has what a test needs.
#[derive(Clone, Copy, Debug)]
pub enum Ci {
    /// `.ci/run` installs or starts it (a keyring, D-Bus, Chromium, openssl):
    /// under `CI=true` its absence fails the test, so CI cannot skip it silently.
    Provides,
    /// It varies between machines, CI's included (the kernel keyring, IPv6,
    /// the version of git): skipped wherever it is missing.
    MayLack,
}

/// Whether the test, or the part of it `reason` names, can run here: `true`
/// when `available`. Otherwise [`skip`]s it and returns `false`, and the
/// caller returns (or leaves that part out).
#[track_caller]
pub fn skip_unless(available: bool, ci: Ci, reason: impl Display) -> bool {
    if !available {
        skip(ci, reason);
    }
    available
}

/// Says on stderr that the running test is skipped and why: `SKIPPED
/// <test>: <reason>` (the test harness names each test's thread after it).
/// Under `CI=true`, for what CI provides, fails the test instead.
#[track_caller]
pub fn skip(ci: Ci, reason: impl Display) {
    if matches!(ci, Ci::Provides) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI provides what this test needs (see .ci/run), yet: {reason}"
        );
    }
    match std::thread::current().name().filter(|n| *n != "main") {
        Some(test) => eprintln!("SKIPPED {test}: {reason}"),
        None => eprintln!("SKIPPED: {reason}"),
    }
}

/// Whether the Secret Service can be tested here (a D-Bus session bus);
/// in CI it must be.
pub fn secret_service_available() -> bool {
    skip_unless(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        Ci::Provides,
        "no D-Bus session bus, so the Secret Service store is not tested here (run the suite via .ci/run)",
    )
}
