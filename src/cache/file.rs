//! The file store: one 0600 file per fingerprint in a 0700 directory,
//! replaced atomically ([`write_private`]) so readers never see half an entry.
//! It only ever holds access tokens: refresh tokens and secrets never go here.
//!
//! Nothing found here is trusted by its name alone: the cache directory may
//! sit where another user can write (`XDG_CACHE_HOME` pointing at a shared
//! disk), so an entry is read only when it and its directory are ours, not
//! writable by group or others, and the entry is a regular file reached
//! without following a symbolic link. Anything else is a miss, traced.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use crate::sys::files::{Kind, Writers, distrust, nofollow_failure};
use crate::sys::files::{private_dir, write_private};

use super::{Fingerprint, MAX_ENTRY_BYTES, StoreError, TokenStore, check_entry_size};
use crate::sys::secret::Secret;

/// Tokens as files under a private directory.
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir` (created 0700 on first write).
    pub fn new(dir: PathBuf) -> FileStore {
        FileStore { dir }
    }

    fn path(&self, fp: &Fingerprint) -> PathBuf {
        self.dir.join(format!("{fp}.json"))
    }
}

/// Opens entry `name` in `dir` for reading, if it exists and may be trusted.
/// The directory is opened first and the entry relative to it, so neither
/// can be swapped between the checks and the read; `O_NONBLOCK` keeps a FIFO
/// planted at the entry's path from hanging the open.
#[cfg(unix)]
fn open_trusted(dir: &Path, name: &str) -> Result<Option<File>, StoreError> {
    use std::fs::OpenOptions;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::fs::OpenOptionsExt;
    let refused =
        |path: &Path, why: String| StoreError(format!("{} is not used: {why}", path.display()));
    let dir_file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refused(dir, nofollow_failure(&e))),
    };
    let meta = dir_file.metadata().map_err(|e| err("inspect", dir, e))?;
    if let Some(why) = distrust(&meta, Kind::Dir, Writers::OURS) {
        return Err(refused(dir, why.to_string()));
    }
    let path = dir.join(name);
    let c_name = std::ffi::CString::new(name)
        .map_err(|_| StoreError(format!("{} is not a file name", path.display())))?;
    // SAFETY: `dir_file` keeps its descriptor open for the whole call and
    // `c_name` is a NUL-terminated string that outlives it.
    let fd = unsafe {
        libc::openat(
            dir_file.as_raw_fd(),
            c_name.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::NotFound => Ok(None),
            _ => Err(refused(&path, nofollow_failure(&e))),
        };
    }
    // SAFETY: `fd` was just returned by openat and nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    let meta = file.metadata().map_err(|e| err("inspect", &path, e))?;
    if let Some(why) = distrust(&meta, Kind::File, Writers::OURS) {
        return Err(refused(&path, why.to_string()));
    }
    Ok(Some(file))
}

#[cfg(not(unix))]
fn open_trusted(dir: &Path, name: &str) -> Result<Option<File>, StoreError> {
    let path = dir.join(name);
    match File::open(&path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err("read", &path, e)),
    }
}

fn err(action: &str, path: &Path, e: io::Error) -> StoreError {
    StoreError(format!("cannot {action} {}: {e}", path.display()))
}

impl TokenStore for FileStore {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&self, fp: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        let path = self.path(fp);
        let Some(mut file) = open_trusted(&self.dir, &format!("{fp}.json"))? else {
            return Ok(None);
        };
        let mut text = String::new();
        // One byte past the limit tells "too large" from "exactly the limit".
        match Read::by_ref(&mut file)
            .take(MAX_ENTRY_BYTES as u64 + 1)
            .read_to_string(&mut text)
        {
            Ok(n) if n > MAX_ENTRY_BYTES => Err(StoreError(format!(
                "{} is larger than {MAX_ENTRY_BYTES} bytes: not an entry of this helper; ignored",
                path.display()
            ))),
            Ok(_) => Ok(Some(Secret::new(text))),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Ok(Some(Secret::new(String::new())))
            }
            Err(e) => Err(err("read", &path, e)),
        }
    }

    fn save(&self, fp: &Fingerprint, data: &Secret<String>) -> Result<(), StoreError> {
        check_entry_size(data)?;
        private_dir(&self.dir).map_err(|e| err("create", &self.dir, e))?;
        let path = self.path(fp);
        write_private(&self.dir, &format!("{fp}.json"), data.expose().as_bytes())
            .map_err(|e| err("write", &path, e))
    }

    fn delete(&self, fp: &Fingerprint) -> Result<(), StoreError> {
        let path = self.path(fp);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err("delete", &path, e)),
        }
    }

    fn list(&self) -> Option<Vec<Fingerprint>> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Some(Vec::new());
        };
        let mut fps: Vec<Fingerprint> = entries
            .flatten()
            .filter_map(|e| Fingerprint::parse(e.file_name().to_str()?.strip_suffix(".json")?))
            .collect();
        fps.sort();
        Some(fps)
    }
}
