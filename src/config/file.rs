//! Reading the config file. It decides where secrets are sent, so only a
//! small regular file that nobody but its owner (you or root) can change is
//! used, as ssh does with its config.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

/// The most a config is read: it names identities and routes, nothing bulky.
const MAX_BYTES: u64 = 1024 * 1024;
const TOO_BIG: &str =
    "is larger than 1 MiB, which no config needs. Fix: check that this is the right file";

/// The file's text; `Ok(None)` when it does not exist. The error is the
/// problem, worded to follow the file's name.
pub(super) fn read(path: &Path) -> Result<Option<String>, String> {
    let file = match open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    // What was opened is what is checked: a symlink swapped after a check on
    // the path cannot slip another file in.
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("is not a regular file (a directory, device or pipe is never read as a config). Fix: point --config or GIT_CREDENTIAL_ENTRA_CONFIG at a regular file".into());
    }
    #[cfg(unix)]
    unix::check_writers(path, &meta)?;
    if meta.len() > MAX_BYTES {
        return Err(TOO_BIG.into());
    }
    let mut text = String::new();
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(TOO_BIG.into());
    }
    Ok(Some(text))
}

/// Opens for reading without blocking on a FIFO (it is refused right after).
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

#[cfg(unix)]
mod unix {
    use std::fs::Metadata;
    use std::path::Path;

    use crate::sys::files::{Distrust, Kind, Writers, distrust};

    /// Refuses a file, or the directory it is named in, that someone other
    /// than you or root owns or may write: they could point your identities'
    /// secrets at an authority of their choosing.
    pub(super) fn check_writers(path: &Path, file: &Metadata) -> Result<(), String> {
        check("it", path, file)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let meta = std::fs::metadata(dir)
            .map_err(|e| format!("cannot check its directory {}: {e}", dir.display()))?;
        check(&format!("its directory {}", dir.display()), dir, &meta)
    }

    fn check(what: &str, path: &Path, meta: &Metadata) -> Result<(), String> {
        // In a sticky directory (like /tmp) others may add files but not
        // replace yours, and a file they add fails the owner check.
        let writers = Writers {
            root: true,
            sticky_dir: true,
        };
        match distrust(meta, Kind::Any, writers) {
            None | Some(Distrust::NotA(_)) => Ok(()),
            Some(Distrust::Owner { owner, me }) => Err(format!(
                "{what} belongs to user id {owner}, not to you (user id {me}) or root, so its owner decides where your secrets are sent. Fix: use a copy you own (cp it, then point --config or GIT_CREDENTIAL_ENTRA_CONFIG at the copy)"
            )),
            Some(Distrust::Writable { mode }) => Err(format!(
                "{what} is writable by group or others (mode {mode:03o}), so they could decide where your secrets are sent. Fix: chmod go-w {}",
                path.display()
            )),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::{Path, PathBuf};
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::config::{Config, ConfigError};

    const VALID: &str = r#"{ "hosts": [] }"#;

    /// A private directory holding `config.json` with `text`, mode 0644.
    fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod dir");
        let file = dir.path().join("config.json");
        std::fs::write(&file, text).expect("write config");
        chmod(&file, 0o644);
        (dir, file)
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Loads `path` on another thread, so a loader that blocks fails the test
    /// instead of hanging it.
    fn load(path: &Path) -> Result<Config, ConfigError> {
        let (tx, rx) = mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(Config::load(&path, true, None));
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("loading the config must not block")
    }

    fn refused(path: &Path) -> String {
        let e = load(path).expect_err("must be refused");
        assert_eq!(e.file, path, "the error names the file");
        e.problem
    }

    #[test]
    fn a_private_file_and_a_symlink_to_one_are_read() {
        let (dir, file) = setup(VALID);
        assert!(load(&file).expect("valid").exists);
        let link = dir.path().join("link.json");
        symlink(&file, &link).expect("symlink");
        assert!(load(&link).expect("a symlink to a regular file").exists);
    }

    #[test]
    fn only_regular_files_are_read() {
        let (dir, _) = setup(VALID);
        let fifo = dir.path().join("fifo.json");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("no NUL");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        assert!(refused(&fifo).contains("not a regular file"));
        // A device behind a symlink (the same check keeps /dev/zero out).
        let device = dir.path().join("device.json");
        symlink("/dev/null", &device).expect("symlink");
        assert!(refused(&device).contains("not a regular file"));
        assert!(refused(dir.path()).contains("not a regular file"));
    }

    #[test]
    fn at_most_one_mebibyte_is_read() {
        let mut big = " ".repeat(1024 * 1024);
        big.push_str(VALID);
        let (_dir, file) = setup(&big);
        let problem = refused(&file);
        assert!(problem.contains("1 MiB"), "{problem}");
        let (_dir, file) = setup(&big[big.len() - 1024 * 1024..]);
        load(&file).expect("exactly 1 MiB is fine");
    }

    #[test]
    fn a_config_others_can_write_is_refused() {
        let (dir, file) = setup(VALID);
        for mode in [0o664, 0o646, 0o666] {
            chmod(&file, mode);
            let problem = refused(&file);
            assert!(
                problem.contains(&format!("chmod go-w {}", file.display())),
                "{problem}"
            );
        }
        chmod(&file, 0o640);
        load(&file).expect("group may read");
        for mode in [0o775, 0o757] {
            chmod(dir.path(), mode);
            let problem = refused(&file);
            assert!(
                problem.contains(&format!("chmod go-w {}", dir.path().display())),
                "{problem}"
            );
        }
        // A sticky directory (like /tmp) lets nobody replace a file they do not own.
        chmod(dir.path(), 0o1777);
        load(&file).expect("sticky directory");
    }

    #[test]
    fn a_config_owned_by_someone_else_is_refused() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: giving a file to another user needs root");
            return;
        }
        let (_dir, file) = setup(VALID);
        let c = std::ffi::CString::new(file.to_str().expect("utf8")).expect("no NUL");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::chown(c.as_ptr(), 4242, 4242) }, 0, "chown");
        let problem = refused(&file);
        assert!(problem.contains("4242"), "{problem}");
    }
}
