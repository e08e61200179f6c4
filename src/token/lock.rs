//! The one place that takes file locks: one lock file per fingerprint, so
//! that many git processes missing the cache at once cause one token request.
//!
//! Lock files hold nothing, are never deleted (deleting one that another
//! process has open would let two processes "hold" it), and are released by
//! the kernel when a process dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::cache::Fingerprint;
use crate::sys::files::private_dir;
#[cfg(unix)]
use crate::sys::files::{self, Kind, Writers};
use crate::sys::trace::Trace;

/// How long to wait before telling the user why we wait.
pub const NOTICE_AFTER: Duration = Duration::from_secs(2);
/// Time a holder may need beyond its token request: reading a secret,
/// building the HTTP client, saving the token.
const HOLDER_OVERHEAD: Duration = Duration::from_secs(15);
/// The longest a holder's token request takes with default settings: a
/// managed identity riding out an IMDS update (see `net::retry`), which
/// outlasts Entra's 30 s budget.
const LONGEST_REQUEST: Duration = longest(
    crate::net::retry::ENTRA.budget,
    crate::net::retry::IMDS_UPDATE_WINDOW
        .saturating_add(crate::net::retry::MANAGED_IDENTITY.max_backoff)
        .saturating_add(crate::net::retry::MANAGED_IDENTITY.min_attempt),
);
/// How long to wait in all before giving up: the holder's retry budget bounds
/// its whole token request, so waiting longer only hides what went wrong —
/// and giving up sooner would fail a process whose holder is about to succeed.
pub const GIVE_UP_AFTER: Duration = LONGEST_REQUEST.saturating_add(HOLDER_OVERHEAD);

const fn longest(a: Duration, b: Duration) -> Duration {
    if a.as_millis() >= b.as_millis() { a } else { b }
}

/// Held while this process acquires a token; dropping it unlocks.
#[derive(Debug)]
pub struct Guard {
    _file: Option<File>,
}

/// A lock that could not be taken in time.
#[derive(Debug)]
pub struct LockTimeout {
    /// The lock file.
    pub path: PathBuf,
}

impl std::fmt::Display for LockTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the lock {} stayed held by another process",
            self.path.display()
        )
    }
}

impl std::error::Error for LockTimeout {}

/// Takes the lock for `fp` in `dir`. Calls `notice` once if waiting takes
/// longer than [`NOTICE_AFTER`]. Where locking is impossible (no directory,
/// a filesystem without locks) it degrades to no locking with a trace line:
/// a duplicate token request is better than a failed git command.
pub fn acquire(
    dir: &Path,
    fp: &Fingerprint,
    trace: &Trace,
    notice: &mut dyn FnMut(&Path),
) -> Result<Guard, LockTimeout> {
    acquire_with(dir, fp, trace, notice, NOTICE_AFTER, GIVE_UP_AFTER)
}

fn acquire_with(
    dir: &Path,
    fp: &Fingerprint,
    trace: &Trace,
    notice: &mut dyn FnMut(&Path),
    notice_after: Duration,
    give_up_after: Duration,
) -> Result<Guard, LockTimeout> {
    let path = dir.join(format!("{fp}.lock"));
    let file = match open(dir, &path) {
        Ok(f) => f,
        Err(e) => {
            trace.detail(format_args!(
                "lock: cannot open {}: {e}; continuing without a lock",
                path.display()
            ));
            return Ok(Guard { _file: None });
        }
    };
    match file.try_lock() {
        Ok(()) => return Ok(Guard { _file: Some(file) }),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => {
            trace.detail(format_args!(
                "lock: {} cannot be locked ({e}); continuing without a lock",
                path.display()
            ));
            return Ok(Guard { _file: None });
        }
    }
    trace.detail(format_args!(
        "lock: {} is held by another process; waiting",
        path.display()
    ));
    // A blocking lock wakes the moment the holder finishes; a thread gives it
    // a deadline. If we give up, the process exits and the thread with it.
    let waiter = file.try_clone();
    let (tx, rx) = mpsc::channel();
    let waiter = match waiter {
        Ok(w) => w,
        Err(e) => {
            trace.detail(format_args!("lock: {e}; continuing without a lock"));
            return Ok(Guard { _file: None });
        }
    };
    std::thread::spawn(move || {
        let _ = tx.send(waiter.lock());
    });
    let result = match rx.recv_timeout(notice_after) {
        Ok(r) => r,
        Err(_) => {
            notice(&path);
            rx.recv_timeout(give_up_after.saturating_sub(notice_after))
                .map_err(|_| LockTimeout { path: path.clone() })?
        }
    };
    match result {
        Ok(()) => Ok(Guard { _file: Some(file) }),
        Err(e) => {
            trace.detail(format_args!(
                "lock: waiting on {} failed ({e}); continuing without a lock",
                path.display()
            ));
            Ok(Guard { _file: None })
        }
    }
}

/// Opens (creating) the lock file, refusing one that someone else could have
/// planted: a symbolic link (which could make us create or lock a file of
/// their choosing), a FIFO or other non-file, or a file that is not ours or
/// that group or others can write.
fn open(dir: &Path, path: &Path) -> io::Result<File> {
    private_dir(dir)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        let refused = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, why);
        let file = options
            .open(path)
            .map_err(|e| refused(files::nofollow_failure(&e)))?;
        if let Some(why) = files::distrust(&file.metadata()?, Kind::File, Writers::OURS) {
            return Err(why.into());
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    fn fp() -> Fingerprint {
        Fingerprint::of("app", "https://login.microsoftonline.com", "t", "c", "r")
    }

    #[test]
    fn waiting_is_bounded_by_the_holders_budget() {
        let imds_update = crate::net::retry::MANAGED_IDENTITY.deadline(Some(Duration::ZERO));
        assert!(GIVE_UP_AFTER > crate::net::retry::ENTRA.budget);
        assert!(
            GIVE_UP_AFTER > imds_update,
            "a waiter outlasts an IMDS update"
        );
        assert!(GIVE_UP_AFTER <= imds_update + Duration::from_secs(30));
        let e = crate::token::error::Error::Lock {
            identity: "ci".into(),
            timeout: LockTimeout {
                path: PathBuf::from("x.lock"),
            },
        };
        let said = format!("waiting {} s for the lock", GIVE_UP_AFTER.as_secs());
        assert!(e.to_string().contains(&said), "{e}");
    }

    #[test]
    fn second_holder_waits_notices_and_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let held = acquire(dir.path(), &fp(), &trace, &mut |_| {
            panic!("no wait expected")
        })
        .expect("free lock");
        let mut noticed = None;
        let r = acquire_with(
            dir.path(),
            &fp(),
            &trace,
            &mut |p| noticed = Some(p.to_path_buf()),
            Duration::from_millis(50),
            Duration::from_millis(200),
        );
        let timeout = r.expect_err("held elsewhere");
        assert_eq!(noticed.as_deref(), Some(timeout.path.as_path()));
        assert!(timeout.path.ends_with(format!("{}.lock", fp())));
        drop(held);
        acquire(dir.path(), &fp(), &trace, &mut |_| panic!("free again")).expect("released");
        assert!(timeout.path.exists(), "lock files are never deleted");
    }

    #[test]
    fn waiter_gets_the_lock_when_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let held = acquire(dir.path(), &fp(), &trace, &mut |_| {}).expect("free lock");
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
        });
        acquire_with(
            dir.path(),
            &fp(),
            &trace,
            &mut |_| {},
            Duration::from_secs(5),
            Duration::from_secs(10),
        )
        .expect("acquired after release");
        releaser.join().expect("thread");
    }

    #[cfg(unix)]
    fn lock_path(dir: &Path) -> PathBuf {
        dir.join(format!("{}.lock", fp()))
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_lock_path_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("precious");
        std::fs::write(&target, b"keep me").expect("write");
        std::os::unix::fs::symlink(&target, lock_path(dir.path())).expect("symlink");
        let e = open(dir.path(), &lock_path(dir.path())).expect_err("a symlink is refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let g = acquire(dir.path(), &fp(), &Trace::off(), &mut |_| {}).expect("degrades");
        assert!(g._file.is_none(), "no lock through a symlink");

        let dangling = tempfile::tempdir().expect("tempdir");
        let absent = dangling.path().join("created-by-us");
        std::os::unix::fs::symlink(&absent, lock_path(dangling.path())).expect("symlink");
        assert!(open(dangling.path(), &lock_path(dangling.path())).is_err());
        assert!(
            !absent.exists(),
            "a dangling symlink does not make us create its target"
        );
        assert_eq!(std::fs::read(&target).expect("read"), b"keep me");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_writable_file_at_the_lock_path_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(dir.path());
        let c_path = std::ffi::CString::new(path.to_str().expect("UTF-8")).expect("no NUL");
        // SAFETY: c_path is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
        let e = open(dir.path(), &path).expect_err("a FIFO is refused");
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let g = acquire(dir.path(), &fp(), &Trace::off(), &mut |_| {}).expect("degrades");
        assert!(g._file.is_none());

        std::fs::remove_file(&path).expect("remove the FIFO");
        std::fs::write(&path, b"").expect("plant a file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let e = open(dir.path(), &path).expect_err("a file others can write is refused");
        assert!(e.to_string().contains("mode 666"), "{e}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let g = acquire(dir.path(), &fp(), &Trace::off(), &mut |_| {}).expect("ours");
        assert!(g._file.is_some(), "our own private lock file is used");
    }

    #[test]
    fn unusable_directory_degrades_to_no_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").expect("write");
        let g = acquire(&blocker.join("sub"), &fp(), &Trace::off(), &mut |_| {}).expect("degrades");
        assert!(g._file.is_none());
    }
}
