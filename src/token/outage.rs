//! A principal's last failed token request, kept beside its lock file for a
//! short time; and the new tokens Azure DevOps refused in a row.
//!
//! During an outage every git process queued on the lock would otherwise run
//! its own full retry cycle, one after another, and most would end by giving
//! up on the lock instead of naming the outage. The holder that failed
//! leaves what went wrong here; whoever takes the lock next within
//! [`FAILURE_TTL_SECS`] reports the same failure at once, and a success
//! removes it. Only our own private regular file is believed.
//!
//! git gives up after one refused credential, but git-lfs (3.7 and before)
//! calls `reject` and asks again without end: for an identity Azure DevOps
//! will not accept, every round would be an `erase` and a new token from
//! Entra, hundreds a minute. So `erase` counts the refused tokens that were
//! new (obtained within [`REFUSAL_WINDOW_SECS`]); from the second in a row,
//! `get` answers with that fact instead of asking Entra, until the window
//! since the last refusal has passed. One refusal is let through: `erase`
//! also forgets the organization's tenant, and a token from the right
//! tenant may well be accepted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::Fingerprint;
use crate::sys::files::{read_private, write_private};
use crate::sys::text::sanitize;

/// How long a failure is reported instead of asking again.
pub const FAILURE_TTL_SECS: i64 = 30;
/// Records are a few hundred bytes; anything bigger is not ours.
const MAX_RECORD_BYTES: u64 = 16 * 1024;
const FORMAT_VERSION: u32 = 1;

/// A failure another process (or this one) just had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What failed, for traces (`unavailable`, `transport`, …).
    pub kind: String,
    /// The user-facing message, without the identity's name: the same
    /// principal can be configured under several names.
    pub message: String,
    /// When it happened, seconds since the epoch.
    pub at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    v: u32,
    kind: String,
    message: String,
    at: i64,
}

fn path(dir: &Path, fp: &Fingerprint) -> PathBuf {
    dir.join(format!("{fp}.failed"))
}

/// Leaves `failure` for `fp` in `dir`, replacing any older one at once
/// (temporary file + rename), so a reader never sees half a record.
pub fn record(dir: &Path, fp: &Fingerprint, failure: &Failure) -> io::Result<()> {
    let text = serde_json::to_string(&Stored {
        v: FORMAT_VERSION,
        kind: failure.kind.clone(),
        message: failure.message.clone(),
        at: failure.at,
    })
    .map_err(io::Error::other)?;
    write_private(dir, &format!("{fp}.failed"), text.as_bytes())
}

/// The failure recorded for `fp` when it is younger than
/// [`FAILURE_TTL_SECS`] at `now`. `Err` says why a file that is there was
/// not believed (for the trace); it is then ignored.
pub fn recent(dir: &Path, fp: &Fingerprint, now: i64) -> Result<Option<Failure>, String> {
    let Some(stored) = read::<Stored>(&path(dir, fp), "a failure record", |s| s.v)? else {
        return Ok(None);
    };
    let age = now.saturating_sub(stored.at);
    Ok((0..FAILURE_TTL_SECS).contains(&age).then(|| Failure {
        kind: sanitize(&stored.kind),
        message: sanitize(&stored.message),
        at: stored.at,
    }))
}

/// How recent a refused token must be to count, and how long the count
/// holds after the last refusal.
pub const REFUSAL_WINDOW_SECS: i64 = 60;
/// Refused new tokens in a row from which no new one is requested.
pub const REFUSALS_TO_STOP: u32 = 2;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusals {
    v: u32,
    count: u32,
    last: i64,
}

fn refusals_path(dir: &Path, fp: &Fingerprint) -> PathBuf {
    dir.join(format!("{fp}.refused"))
}

/// How many new tokens of `fp` Azure DevOps refused in a row, the last
/// within [`REFUSAL_WINDOW_SECS`] of `now`, and when the last was.
pub fn refusals(dir: &Path, fp: &Fingerprint, now: i64) -> Result<Option<(u32, i64)>, String> {
    let path = refusals_path(dir, fp);
    let Some(stored) = read::<Refusals>(&path, "a refusal record", |s| s.v)? else {
        return Ok(None);
    };
    let age = now.saturating_sub(stored.last);
    Ok((0..REFUSAL_WINDOW_SECS)
        .contains(&age)
        .then_some((stored.count, stored.last)))
}

/// Counts one more refused token of `fp` that was obtained at `obtained`;
/// an older token (refused after serving a while) starts no count. Returns
/// the count.
pub fn record_refusal(dir: &Path, fp: &Fingerprint, obtained: i64, now: i64) -> io::Result<u32> {
    if now.saturating_sub(obtained) >= REFUSAL_WINDOW_SECS {
        return Ok(0);
    }
    let before = refusals(dir, fp, now).ok().flatten().map_or(0, |(n, _)| n);
    let count = before.saturating_add(1);
    let text = serde_json::to_string(&Refusals {
        v: FORMAT_VERSION,
        count,
        last: now,
    })
    .map_err(io::Error::other)?;
    write_private(dir, &format!("{fp}.refused"), text.as_bytes())?;
    Ok(count)
}

/// The record at `path`, if there is one and it is ours: a private regular
/// file holding `what` in this version's format.
fn read<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    version: impl Fn(&T) -> u32,
) -> Result<Option<T>, String> {
    let Some(text) =
        read_private(path, MAX_RECORD_BYTES).map_err(|e| format!("{}: {e}", path.display()))?
    else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .ok()
        .filter(|s| version(s) == FORMAT_VERSION)
        .map(Some)
        .ok_or_else(|| format!("{} is not {what}", path.display()))
}

/// Removes the record for `fp`; absent is fine.
pub fn clear(dir: &Path, fp: &Fingerprint) -> io::Result<()> {
    match fs::remove_file(path(dir, fp)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint::of("app", "https://login.microsoftonline.com", "t", "c", "r")
    }

    fn failure(at: i64) -> Failure {
        Failure {
            kind: "unavailable".into(),
            message: "Entra answered HTTP 503 (service unavailable) 6 time(s) over 5 s".into(),
            at,
        }
    }

    #[test]
    fn a_record_is_reported_while_fresh_and_removed_by_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(recent(dir.path(), &fp(), 1000), Ok(None));
        record(dir.path(), &fp(), &failure(1000)).expect("record");
        assert_eq!(recent(dir.path(), &fp(), 1000), Ok(Some(failure(1000))));
        assert_eq!(
            recent(dir.path(), &fp(), 1000 + FAILURE_TTL_SECS - 1),
            Ok(Some(failure(1000)))
        );
        assert_eq!(recent(dir.path(), &fp(), 1000 + FAILURE_TTL_SECS), Ok(None));
        assert_eq!(recent(dir.path(), &fp(), 990), Ok(None), "from the future");
        assert_eq!(recent(dir.path(), &fp(), i64::MIN), Ok(None));
        let other = Fingerprint::of("app", "https://login.microsoftonline.com", "t", "d", "r");
        assert_eq!(recent(dir.path(), &other, 1000), Ok(None), "per principal");
        record(dir.path(), &fp(), &failure(1010)).expect("replace");
        // Refusals are counted apart, and a success does not clear them.
        assert_eq!(
            record_refusal(dir.path(), &fp(), 995, 1010).expect("count"),
            1
        );
        assert_eq!(recent(dir.path(), &fp(), 1010), Ok(Some(failure(1010))));
        clear(dir.path(), &fp()).expect("clear");
        assert_eq!(recent(dir.path(), &fp(), 1010), Ok(None));
        clear(dir.path(), &fp()).expect("clearing nothing is fine");
        assert_eq!(refusals(dir.path(), &fp(), 1010), Ok(Some((1, 1010))));
        fs::remove_file(refusals_path(dir.path(), &fp())).expect("rm");
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").flatten().collect();
        assert!(names.is_empty(), "no temporary files left: {names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn records_are_private_and_only_private_ones_are_believed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = path(dir.path(), &fp());
        record(dir.path(), &fp(), &failure(1000)).expect("record");
        let mode = fs::metadata(&file).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        fs::set_permissions(&file, fs::Permissions::from_mode(0o622)).expect("chmod");
        let why = recent(dir.path(), &fp(), 1000).expect_err("group-writable");
        assert!(why.contains("group or others can write it"), "{why}");

        fs::remove_file(&file).expect("rm");
        let elsewhere = dir.path().join("elsewhere");
        record(
            dir.path(),
            &Fingerprint::of("x", "y", "z", "w", "v"),
            &failure(1000),
        )
        .expect("record");
        let planted = path(dir.path(), &Fingerprint::of("x", "y", "z", "w", "v"));
        fs::rename(&planted, &elsewhere).expect("move");
        std::os::unix::fs::symlink(&elsewhere, &file).expect("symlink");
        assert!(
            recent(dir.path(), &fp(), 1000).is_err(),
            "symlinks are not followed"
        );
        fs::remove_file(&file).expect("rm");

        let fifo = std::ffi::CString::new(file.to_str().expect("utf8")).expect("c string");
        // SAFETY: a valid NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let why = recent(dir.path(), &fp(), 1000).expect_err("a FIFO, without waiting");
        assert!(why.contains("not a regular file"), "{why}");
        fs::remove_file(&file).expect("rm");

        fs::write(&file, vec![b' '; MAX_RECORD_BYTES as usize + 10]).expect("write");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(recent(dir.path(), &fp(), 1000).is_err(), "too large");
        fs::write(&file, "not json").expect("write");
        assert!(recent(dir.path(), &fp(), 1000).is_err(), "garbage");
    }

    #[test]
    fn refused_new_tokens_are_counted_in_a_row_within_the_window() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let w = REFUSAL_WINDOW_SECS;
        // A token that served a while, then was refused: no count.
        assert_eq!(record_refusal(d, &fp(), 1000 - w, 1000).expect("old"), 0);
        assert_eq!(refusals(d, &fp(), 1000), Ok(None));
        assert_eq!(record_refusal(d, &fp(), 995, 1000).expect("new"), 1);
        assert_eq!(record_refusal(d, &fp(), 1001, 1002).expect("again"), 2);
        assert_eq!(refusals(d, &fp(), 1002 + w - 1), Ok(Some((2, 1002))));
        assert_eq!(refusals(d, &fp(), 1002 + w), Ok(None), "the window passed");
        assert_eq!(
            record_refusal(d, &fp(), 1002 + w, 1002 + w).expect("later"),
            1,
            "a count starts again after the window"
        );
    }

    #[test]
    fn what_a_record_says_is_sanitized() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut hostile = failure(1000);
        hostile.message = "HTTP 503\x1b[2J\nfake line\x07".into();
        record(dir.path(), &fp(), &hostile).expect("record");
        let got = recent(dir.path(), &fp(), 1000)
            .expect("read")
            .expect("fresh");
        assert_eq!(got.message, "HTTP 503 [2J fake line");
    }
}
