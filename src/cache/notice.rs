//! One-line stderr notices for caching that silently became weaker than
//! asked for: a forced keyring that is not there, tokens landing in files,
//! no lock directory. Each changes how many token requests the machine makes
//! or where tokens sit, so the user hears of it — once, not on every `get`.
//!
//! "Once" is remembered by an empty marker file `{cache}/notices/{kind}`
//! (0600, in a 0700 directory). When the condition goes away the marker is
//! removed, so a comeback is announced again. Without a usable cache
//! directory nothing can be remembered, and the notice is given every time.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::sys::files::private_dir;
use crate::sys::trace::Stderr;

/// The conditions worth a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// `cache: keyring` was asked for, and no OS keyring answers.
    KeyringUnusable,
    /// `cache: keyutils` was asked for, and the kernel keyring refuses.
    KeyutilsUnusable,
    /// `auto` found no keyring at all and keeps tokens in files.
    FileStore,
    /// `auto`'s keyring refused an entry, which went to a file instead.
    Spilled,
    /// The lock directory cannot be created: no single flight.
    LockDir,
}

impl Notice {
    fn marker(self) -> &'static str {
        match self {
            Notice::KeyringUnusable => "keyring-unusable",
            Notice::KeyutilsUnusable => "keyutils-unusable",
            Notice::FileStore => "file-store",
            Notice::Spilled => "spilled",
            Notice::LockDir => "lock-dir",
        }
    }
}

/// Where the markers of given notices live, and the stream they are said on.
#[derive(Clone)]
pub struct Notices {
    dir: PathBuf,
    stderr: Stderr,
}

impl Notices {
    /// Markers in `{cache_dir}/notices`; notices said on `stderr`.
    pub fn new(cache_dir: &Path, stderr: Stderr) -> Notices {
        Notices {
            dir: cache_dir.join("notices"),
            stderr,
        }
    }

    /// Says `message` to the person unless `kind` was already announced.
    pub fn say(&self, kind: Notice, message: fmt::Arguments) {
        if self.first_time(kind) {
            self.stderr.say(message);
        }
    }

    /// Whether `kind` is new; remembers that it is not any more. When the
    /// marker cannot be written the answer is always "new": repeating a
    /// notice beats hiding it.
    pub fn first_time(&self, kind: Notice) -> bool {
        if private_dir(&self.dir).is_err() {
            return true;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(self.dir.join(kind.marker())) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Ok(_) | Err(_) => true,
        }
    }

    /// The condition is gone: forget that it was announced.
    pub fn clear(&self, kind: Notice) {
        // Absent is the usual case; any other failure only means the notice
        // is not repeated if the condition comes back.
        let _ = fs::remove_file(self.dir.join(kind.marker()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_once_until_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let notices = Notices::new(
            &dir.path().join("cache"),
            crate::sys::trace::Trace::off().stderr(),
        );
        assert!(notices.first_time(Notice::LockDir));
        assert!(!notices.first_time(Notice::LockDir), "remembered");
        assert!(notices.first_time(Notice::FileStore), "kinds are separate");
        notices.clear(Notice::LockDir);
        assert!(notices.first_time(Notice::LockDir), "came back: said again");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            let markers = dir.path().join("cache").join("notices");
            assert_eq!(mode(&markers), 0o700);
            assert_eq!(mode(&markers.join("lock-dir")), 0o600);
        }
    }

    #[test]
    fn without_a_usable_cache_directory_it_is_said_every_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"").expect("write");
        let notices = Notices::new(
            &blocker.join("cache"),
            crate::sys::trace::Trace::off().stderr(),
        );
        assert!(notices.first_time(Notice::LockDir));
        assert!(notices.first_time(Notice::LockDir));
    }
}
