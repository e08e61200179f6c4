//! The file store: one 0600 file per fingerprint in a 0700 directory,
//! replaced atomically (temp file + rename) so readers never see half an entry.
//! It only ever holds access tokens: refresh tokens and secrets never go here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::{Fingerprint, MAX_ENTRY_BYTES, StoreError, TokenStore, check_entry_size};
use crate::secret::Secret;

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
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        if !meta.is_dir() || meta.uid() != uid {
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

fn err(action: &str, path: &Path, e: io::Error) -> StoreError {
    StoreError(format!("cannot {action} {}: {e}", path.display()))
}

impl TokenStore for FileStore {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&self, fp: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        let path = self.path(fp);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err("read", &path, e)),
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
        let tmp = self.dir.join(format!(".{fp}.{}.tmp", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let _ = fs::remove_file(&tmp); // a leftover of a killed process with our pid
        let write = options.open(&tmp).and_then(|mut f| {
            f.write_all(data.expose().as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = write.and_then(|()| fs::rename(&tmp, &path)) {
            let _ = fs::remove_file(&tmp);
            return Err(err("write", &path, e));
        }
        Ok(())
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
