//! Programs the helper starts (`az`, `git`, a browser or its opener).
//!
//! Git runs us inside a repository nobody vetted, so a program is looked up
//! only in the absolute directories of PATH: an empty entry, `.` or any
//! relative one would find a program the repository ships. A program given
//! as a path (`$BROWSER=/opt/firefox/firefox`) must be absolute for the
//! same reason.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
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

/// How long a program may run and how much of its output is read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Past it the program (and on Unix everything it started) is killed.
    pub deadline: Duration,
    /// More on stdout than this is [`RunError::TooMuchOutput`].
    pub max_stdout: u64,
    /// Stderr past this is dropped (it only ever feeds a message).
    pub max_stderr: u64,
}

/// How a program run by [`run`] ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a program run by [`run`] has no [`Finished`].
#[derive(Debug)]
pub enum RunError {
    /// It could not be started.
    Spawn(io::Error),
    /// It (or something holding its pipes) outlived the deadline.
    TimedOut,
    /// It printed more than `max_stdout` bytes.
    TooMuchOutput(u64),
}

/// Runs `command` (its arguments, environment and directory set by the
/// caller; never a shell) to its end: `input` on its stdin (none: stdin is
/// empty), both pipes drained on their own threads so a full pipe never
/// stalls it, and at the deadline it is killed, on Unix with its whole
/// process group, since `az` is a script that starts Python and a process
/// left behind would hold the pipes open.
pub fn run(
    command: &mut Command,
    input: Option<&[u8]>,
    limits: Limits,
) -> Result<Finished, RunError> {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let deadline = Instant::now() + limits.deadline;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        let input = input.to_vec();
        // A program that never reads must not block us: the write has its
        // own thread, and the deadline bounds the rest.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = child.stdout.take().map(|p| reader(p, limits.max_stdout));
    let stderr = child.stderr.take().map(|p| reader(p, limits.max_stderr));
    // The pipes close when the program ends (or the deadline passes): waiting
    // on them wakes us at once, where polling for its exit would sleep past
    // it (a `git config` takes about a millisecond).
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| match rx {
        None => Ok(Vec::new()),
        Some(rx) => rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| RunError::TimedOut),
    };
    let (stdout, stderr) = match (collect(stdout), collect(stderr)) {
        (Ok(out), Ok(err)) => (out, err),
        _ => {
            stop(&mut child);
            return Err(RunError::TimedOut);
        }
    };
    // Its pipes are closed, so it has ended or is about to; a program that
    // closed them and lives on is still bounded by the deadline.
    let mut pause = Duration::from_micros(50);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Ok(None) | Err(_) => {
                stop(&mut child);
                return Err(RunError::TimedOut);
            }
        }
    };
    if stdout.len() as u64 > limits.max_stdout {
        return Err(RunError::TooMuchOutput(limits.max_stdout));
    }
    let mut stderr = stderr;
    stderr.truncate(usize::try_from(limits.max_stderr).unwrap_or(usize::MAX));
    Ok(Finished {
        status,
        stdout,
        stderr,
    })
}

/// Reads up to `max + 1` bytes on a thread (one past tells "too much"),
/// then drains the rest so the program never blocks on a full pipe.
fn reader(pipe: impl Read + Send + 'static, max: u64) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut pipe = pipe;
        let mut buf = Vec::new();
        let _ = (&mut pipe)
            .take(max.saturating_add(1))
            .read_to_end(&mut buf);
        let _ = io::copy(&mut pipe, &mut io::sink());
        let _ = tx.send(buf);
    });
    rx
}

/// Kills `child` and its process group, and reaps it.
fn stop(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill has no memory effects; the group is the one the child
        // leads (process_group(0) in `run`), so nothing else is signalled.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `command` and leaves it running (a browser outlives the sign-in):
/// no input, and nothing it prints reaches ours (git reads our stdout).
pub fn start(command: &mut Command) -> io::Result<()> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
}

/// Runs `program args` with a deadline; its trimmed stdout (at most 4 KiB)
/// when it succeeds.
pub fn run_bounded(program: &Path, args: &[&str], limit: Duration) -> Option<String> {
    let limits = Limits {
        deadline: limit,
        max_stdout: 4096,
        max_stderr: 0,
    };
    let done = run(Command::new(program).args(args), None, limits).ok()?;
    done.status
        .success()
        .then(|| String::from_utf8_lossy(&done.stdout).trim().to_string())
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

    fn limits(deadline_ms: u64) -> Limits {
        Limits {
            deadline: Duration::from_millis(deadline_ms),
            max_stdout: 16,
            max_stderr: 4,
        }
    }

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn a_run_reads_its_input_and_bounds_what_it_prints() {
        let done = run(&mut Command::new("/bin/cat"), Some(b"in"), limits(10_000)).expect("cat");
        assert!(done.status.success());
        assert_eq!(done.stdout, b"in");
        let done = run(
            &mut sh("echo out; echo errors >&2; exit 3"),
            None,
            limits(10_000),
        )
        .expect("sh");
        assert_eq!(
            (done.status.code(), &done.stdout[..]),
            (Some(3), &b"out\n"[..])
        );
        assert_eq!(done.stderr, b"erro", "stderr cut at its bound");
        // Far more than a pipe holds: drained, not a stall, and refused.
        let much = run(&mut sh("head -c 1000000 /dev/zero"), None, limits(10_000));
        assert!(matches!(much, Err(RunError::TooMuchOutput(16))), "{much:?}");
        let missing = run(
            &mut Command::new("/nonexistent/program"),
            None,
            limits(10_000),
        );
        assert!(matches!(missing, Err(RunError::Spawn(_))), "{missing:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn at_the_deadline_the_whole_process_group_is_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("pid");
        // The grandchild holds the pipes open: the deadline must end it too.
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let started = Instant::now();
        let r = run(&mut sh(&script), None, limits(300));
        assert!(matches!(r, Err(RunError::TimedOut)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "bounded");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("pid")
            .trim()
            .parse()
            .expect("number");
        // Killed (and reaped by the shell's init or a zombie): signal 0 fails
        // or the process is a zombie, never a live sleep.
        let gone = (0..200).any(|_| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            let dead = stat.is_empty() || state == Some("Z");
            if !dead {
                std::thread::sleep(Duration::from_millis(10));
            }
            dead
        });
        assert!(gone, "the grandchild {pid} outlived the deadline");
    }

    #[test]
    fn a_started_program_is_left_running_without_our_output() {
        let started = Instant::now();
        start(&mut sh("sleep 5")).expect("started");
        assert!(started.elapsed() < Duration::from_secs(4), "not waited for");
        assert!(start(&mut Command::new("/nonexistent/program")).is_err());
    }
}
