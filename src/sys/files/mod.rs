//! Small private files of our own: the one place that creates 0700
//! directories, decides whether a file or directory found on disk may be
//! trusted ([`distrust`]), reads a file only when it is a regular file we
//! own that nobody else can write (never following a symlink or blocking on
//! a FIFO),
//! and replaces a file atomically and durably with a 0600 one.
//!
//! Git runs the helper in repositories nobody vetted and the cache directory
//! may sit where others can write, so anything read back from disk (failure
//! records, remembered probes, notices) goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// Creates `dir` (and parents) and makes sure `dir` itself is 0700 and ours.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = fs::symlink_metadata(dir)?;
        // Who may write it is settled by the chmod below.
        let distrusted = distrust(&meta, Kind::Dir, Writers::OURS)
            .filter(|why| !matches!(why, Distrust::Writable { .. }));
        if distrusted.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not a directory owned by you", dir.display()),
            ));
        }
        if meta.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// What a file or directory found on disk must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Directories are checked on Unix only (Windows profiles are private).
#[cfg_attr(not(unix), allow(dead_code))]
pub enum Kind {
    File,
    Dir,
    /// Either (its kind is checked elsewhere, with words of its own).
    Any,
}

/// Who, besides us, may own or write what we trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writers {
    /// root may own it (a config in /etc), as ssh allows.
    pub root: bool,
    /// Others may write a sticky directory (like /tmp): they may add
    /// files there but not replace ours.
    pub sticky_dir: bool,
}

impl Writers {
    /// Only we may own and write it.
    pub const OURS: Writers = Writers {
        root: false,
        sticky_dir: false,
    };
}

/// Why a file or directory someone else may have planted is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distrust {
    /// It is not of the kind expected ("a directory", "a regular file").
    NotA(&'static str),
    /// Someone else owns it.
    Owner { owner: u32, me: u32 },
    /// Group or others may write it (`mode`, the permission bits).
    Writable { mode: u32 },
}

impl std::fmt::Display for Distrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distrust::NotA(kind) => write!(f, "it is not {kind}"),
            Distrust::Owner { owner, me } => {
                write!(f, "it is owned by uid {owner}, not by you (uid {me})")
            }
            Distrust::Writable { mode } => {
                write!(f, "group or others can write it (mode {mode:03o})")
            }
        }
    }
}

impl From<Distrust> for io::Error {
    fn from(d: Distrust) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, d.to_string())
    }
}

/// The one trust check of what we read back from disk: why `meta` (of a
/// file already opened, or of a path not followed) is not to be trusted,
/// or `None` when it is of `kind`, owned by us (or root when `writers`
/// allows) and writable by nobody else. On Windows only the kind is
/// checked: a user's profile directories are private there.
pub fn distrust(meta: &fs::Metadata, kind: Kind, writers: Writers) -> Option<Distrust> {
    match kind {
        Kind::File if !meta.is_file() => return Some(Distrust::NotA("a regular file")),
        Kind::Dir if !meta.is_dir() => return Some(Distrust::NotA("a directory")),
        _ => {}
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = current_uid();
        let owner = meta.uid();
        if owner != me && !(writers.root && owner == 0) {
            return Some(Distrust::Owner { owner, me });
        }
        let mode = meta.mode();
        let sticky = writers.sticky_dir && meta.is_dir() && mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !sticky {
            return Some(Distrust::Writable { mode: mode & 0o777 });
        }
    }
    #[cfg(not(unix))]
    let _ = writers;
    None
}

/// Words for a failed `O_NOFOLLOW` open: a symbolic link is refused, not broken.
pub fn nofollow_failure(e: &io::Error) -> String {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return "it is a symbolic link, which is not followed".into();
    }
    e.to_string()
}

/// Opens `path` for reading only when it is a regular file of ours that
/// group and others cannot write; a symlink or FIFO is refused, not followed
/// or waited on.
pub fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if let Some(why) = distrust(&file.metadata()?, Kind::File, Writers::OURS) {
        return Err(why.into());
    }
    Ok(file)
}

/// Opens `path` to append to, creating it 0600: only a regular file of
/// ours, never through a symlink (another user could plant one pointing at
/// our `.bashrc` in a shared directory) and never waiting on a FIFO.
pub fn open_append_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO without a reader fails at once (ENXIO) instead of blocking.
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    // Appended to, never read back: only its kind and owner matter.
    match distrust(&file.metadata()?, Kind::File, Writers::OURS) {
        Some(Distrust::Writable { .. }) | None => Ok(file),
        Some(why) => Err(why.into()),
    }
}

/// The text of a private file of at most `max` bytes; `Ok(None)` when it
/// does not exist. A larger file, or one that is not ours, is an error.
pub fn read_private(path: &Path, max: u64) -> io::Result<Option<String>> {
    let file = match open_private(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bytes = read_at_most(file, max)?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Whether opening a file the user or the platform names may follow a
/// symbolic link at its last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Followed: a certificate or secret mounted by Kubernetes is a link
    /// into its `..data` directory.
    Follow,
    /// Refused: the file's place is its authority (the Arc agent's key
    /// directory), so a link there could only be someone's trick.
    Refuse,
}

/// Opens `path` once, for reading, without waiting on a FIFO, and returns
/// it with its metadata when it is a regular file. Everything checked
/// afterwards (size, mode, contents) is of the file opened, so a link
/// swapped after a check on the path cannot slip another file in.
pub fn open_regular(path: &Path, links: Links) -> io::Result<(File, fs::Metadata)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let no_follow = if links == Links::Refuse {
            libc::O_NOFOLLOW
        } else {
            0
        };
        options.custom_flags(libc::O_NONBLOCK | no_follow);
    }
    let file = options
        .open(path)
        .map_err(|e| explain_open_failure(path, e, links))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(NOT_REGULAR));
    }
    Ok((file, meta))
}

const NOT_REGULAR: &str = "it is not a regular file (a directory, device or pipe)";

/// `open`'s error, worded for what the path is: a directory (which Windows
/// cannot open as a file at all), or a refused link (the OS says "too many
/// levels of symbolic links").
fn explain_open_failure(path: &Path, e: io::Error, links: Links) -> io::Error {
    let meta = match links {
        Links::Refuse => fs::symlink_metadata(path),
        Links::Follow => fs::metadata(path),
    };
    if meta.is_ok_and(|m| m.is_dir()) {
        return io::Error::other(NOT_REGULAR);
    }
    match links {
        Links::Refuse => io::Error::new(e.kind(), nofollow_failure(&e)),
        Links::Follow => e,
    }
}

/// All of `file` when it holds at most `max` bytes; an error when more,
/// found without reading past `max + 1`.
pub fn read_at_most(file: File, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::other(format!("it is larger than {max} bytes")));
    }
    Ok(bytes)
}

/// Replaces `dir/name` with `bytes` at once, the one atomic write of the
/// helper: a new 0600 temporary file (never through a symbolic link, never
/// an existing file), written, then renamed over the old one, so a reader
/// never sees half of it. `dir` must exist.
///
/// Nothing is flushed to disk (no fsync): everything written here can be
/// made again (cached access tokens, a remembered tenant or probe, an
/// outage record), every reader checks what it reads and takes a damaged
/// file for a miss, and the flushes cost a fifth of a millisecond on every
/// cold `get` (measured: 0.95 → 1.13 ms for storing and answering).
pub fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // Left over from a process that died here with our pid.
    let _ = fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| fs::rename(&tmp, dir.join(name)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Refuses a file holding a secret or a private key (`what` names it) when
/// group or others may read or write it, as ssh refuses such keys; on
/// Windows, when its ACL grants that to Everyone, Users or Authenticated Users.
pub fn refuse_if_shared(path: &Path, meta: &std::fs::Metadata, what: &str) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let shown = path.display();
            return Err(format!(
                "{shown} ({what}) is readable or writable by others (mode {mode:03o}). Fix: chmod 600 {shown}"
            ));
        }
    }
    #[cfg(windows)]
    {
        let _ = meta;
        let shown = path.display();
        match super::windows_acl::shared_with(path) {
            Ok(None) => {}
            Ok(Some(group)) => {
                return Err(format!(
                    "{shown} ({what}) is readable or writable by {group} (its access control list says so). Fix: icacls \"{shown}\" /inheritance:r /grant:r \"%USERNAME%:F\""
                ));
            }
            Err(e) => return Err(format!("{shown} ({what}): {e}")),
        }
    }
    #[cfg(not(any(unix, windows)))]
    let _ = (path, meta, what);
    Ok(())
}

#[cfg(test)]
mod tests;
