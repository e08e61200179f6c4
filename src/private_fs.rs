//! Small private files of our own: the one place that creates 0700
//! directories, reads a file only when it is a regular file we own that
//! nobody else can write (never following a symlink or blocking on a FIFO),
//! and replaces a file atomically with a 0600 one.
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
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = fs::symlink_metadata(dir)?;
        if !meta.is_dir() || meta.uid() != current_uid() {
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
    let meta = regular_and_ours(&file)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o022 != 0 {
            return Err(io::Error::other("writable by group or others"));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
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
    regular_and_ours(&file)?;
    Ok(file)
}

/// The metadata of an opened file that is a regular file owned by us.
fn regular_and_ours(file: &File) -> io::Result<fs::Metadata> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != current_uid() {
            return Err(io::Error::other("owned by another user"));
        }
    }
    Ok(meta)
}

/// The text of a private file of at most `max` bytes; `Ok(None)` when it
/// does not exist. A larger file, or one that is not ours, is an error.
pub fn read_private(path: &Path, max: u64) -> io::Result<Option<String>> {
    let file = match open_private(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    file.take(max + 1).read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(Some(text))
}

/// Replaces `dir/name` with `bytes` at once (a 0600 temporary file, then a
/// rename), so a reader never sees half of it. `dir` must exist.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_are_read_back_and_others_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("p");
        private_dir(&d).expect("private dir");
        write_private(&d, "x", b"hello").expect("write");
        assert_eq!(
            read_private(&d.join("x"), 16).expect("read").as_deref(),
            Some("hello")
        );
        assert!(read_private(&d.join("x"), 2).is_err(), "over the limit");
        assert_eq!(read_private(&d.join("none"), 16).expect("absent"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::os::unix::fs::symlink(d.join("x"), d.join("link")).expect("symlink");
            assert!(
                read_private(&d.join("link"), 16).is_err(),
                "symlinks are not followed"
            );
            fs::set_permissions(d.join("x"), fs::Permissions::from_mode(0o666)).expect("chmod");
            assert!(
                read_private(&d.join("x"), 16).is_err(),
                "others could write it"
            );
        }
    }

    #[test]
    fn appending_creates_a_private_file_and_refuses_links_and_fifos() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("trace.log");
        open_append_private(&log)
            .and_then(|mut f| f.write_all(b"one\n"))
            .expect("created");
        open_append_private(&log)
            .and_then(|mut f| f.write_all(b"two\n"))
            .expect("appended");
        assert_eq!(fs::read_to_string(&log).expect("read"), "one\ntwo\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&log).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let target = dir.path().join("bashrc");
            fs::write(&target, "mine\n").expect("target");
            std::os::unix::fs::symlink(&target, dir.path().join("planted")).expect("symlink");
            assert!(open_append_private(&dir.path().join("planted")).is_err());
            assert_eq!(fs::read_to_string(&target).expect("read"), "mine\n");
            let fifo = dir.path().join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("no NUL");
            // SAFETY: a valid NUL-terminated path and a mode.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            assert!(
                open_append_private(&fifo).is_err(),
                "no reader: refused at once"
            );
        }
    }
}
