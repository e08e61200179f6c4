//! Programs the helper starts (`az`, `git`, a browser or its opener).
//!
//! Git runs us inside a repository nobody vetted, so a program is looked up
//! only in the absolute directories of PATH: an empty entry, `.` or any
//! relative one would find a program the repository ships. A program given
//! as a path (`$BROWSER=/opt/firefox/firefox`) must be absolute for the
//! same reason.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys::env::Env;

/// `name` in an absolute directory of PATH.
pub fn find(env: &Env, name: &str) -> Option<PathBuf> {
    let path = env.get("PATH")?;
    std::env::split_paths(&OsString::from(path))
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| candidates(name).map(move |file| dir.join(file)))
        .find(|candidate| is_executable(candidate))
}

/// A program named by the user (`$BROWSER`'s first word): an absolute path
/// as given, a bare name through [`find`]; a relative path is refused.
pub fn resolve(env: &Env, program: &str) -> Result<PathBuf, String> {
    let path = Path::new(program);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    if path.components().count() > 1 {
        return Err(format!(
            "{program} is a relative path, which would run a program of the repository git runs in; give its absolute path"
        ));
    }
    find(env, program).ok_or_else(|| format!("{program} is not in an absolute directory of PATH"))
}

/// The file names `name` may have: Windows runs `git` as `git.exe`.
fn candidates(name: &str) -> impl Iterator<Item = String> + '_ {
    let extensions: &[&str] = if cfg!(windows) && Path::new(name).extension().is_none() {
        &[".exe", ".cmd", ".bat"]
    } else {
        &[""]
    };
    extensions.iter().map(move |ext| format!("{name}{ext}"))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Runs `program args` with a deadline; its trimmed stdout when it succeeds.
pub fn run_bounded(program: &Path, args: &[&str], limit: Duration) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                child
                    .stdout
                    .take()?
                    .take(4096)
                    .read_to_string(&mut out)
                    .ok()?;
                return status.success().then(|| out.trim().to_string());
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn programs_are_found_only_in_absolute_path_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let abs = dir.path().join("bin");
        std::fs::create_dir(&abs).expect("bin");
        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).expect("plain");
        std::fs::write(plain.join("tool"), "not executable").expect("write");
        let env = |path: &str| Env::from_pairs([("PATH", path)]);
        let none = format!("::.:bin:{}", plain.display());
        assert_eq!(
            find(&env(&none), "tool"),
            None,
            "relative, empty, not executable"
        );
        let script = abs.join("tool");
        std::fs::write(&script, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let some = format!("{none}:{}", abs.display());
        assert_eq!(find(&env(&some), "tool"), Some(script.clone()));
        assert_eq!(find(&Env::from_pairs([]), "tool"), None);

        assert_eq!(resolve(&env(&some), "tool"), Ok(script));
        assert_eq!(
            resolve(&env(&some), "/opt/b/browser"),
            Ok(PathBuf::from("/opt/b/browser"))
        );
        let relative = resolve(&env(&some), "bin/tool").expect_err("relative path");
        assert!(relative.contains("relative path"), "{relative}");
        let missing = resolve(&env(&none), "tool").expect_err("not on PATH");
        assert!(missing.contains("absolute directory of PATH"), "{missing}");
    }
}
