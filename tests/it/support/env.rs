//! `TestEnv`: an isolated world per test (home, XDG dirs, git config) and a runner for the helper
//! and git that enforces a deadline. Everything it captures goes through the leak scanner
//! (support/scan.rs): every command's stdout and stderr, and on drop every file under its root.

use std::ffi::OsStr;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long any one command may run before it is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// The result of [`TestEnv::run`]; output decoded as lossy UTF-8.
#[derive(Debug)]
pub struct RunOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

/// A temporary directory tree standing in for one user's machine.
pub struct TestEnv {
    /// The temporary root; deleted on drop.
    pub root: tempfile::TempDir,
    /// Extra variables for every command, in insertion order.
    extra: Vec<(String, String)>,
    /// Files the test planted with secrets in them, exempt from the file scan.
    planted: Mutex<Vec<PathBuf>>,
}

impl TestEnv {
    /// Creates home/, config/, cache/, runtime/ (mode 0700) and an empty home/.gitconfig.
    pub fn new() -> TestEnv {
        let root = tempfile::Builder::new()
            .prefix("gce-it-")
            .tempdir()
            .expect("create the test root");
        for d in ["home", "config", "cache", "runtime"] {
            std::fs::create_dir_all(root.path().join(d)).expect("create an isolated directory");
        }
        // XDG_RUNTIME_DIR must be private to its owner, and helpers may check that.
        super::chmod(&root.path().join("runtime"), 0o700);
        std::fs::write(root.path().join("home/.gitconfig"), "").expect("create home/.gitconfig");
        TestEnv {
            root,
            extra: Vec::new(),
            planted: Mutex::new(Vec::new()),
        }
    }

    /// The temporary root.
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// The helper's default config file: `$XDG_CONFIG_HOME/git-credential-entra/config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.path().join("config/git-credential-entra/config.json")
    }

    /// Writes `json` to [`TestEnv::config_path`], creating its directory. Both
    /// get modes others cannot write, whatever the umask: the helper refuses
    /// a config others could change.
    pub fn write_config(&self, json: &str) {
        let p = self.config_path();
        let dir = p.parent().expect("config path has a parent");
        std::fs::create_dir_all(dir).expect("create the config directory");
        super::chmod(dir, 0o755);
        std::fs::write(&p, json).expect("write config.json");
        super::chmod(&p, 0o644);
    }

    /// Marks `file` (or a directory) as planted by the test (a secret file, a
    /// federated token file, a fake tool's state): it holds what the test put
    /// there, so the scan on drop skips it.
    pub fn planted(&self, file: &Path) {
        let mut planted = self.planted.lock().unwrap_or_else(|e| e.into_inner());
        planted.push(file.to_path_buf());
    }

    /// Scans every file under the root now (as drop does): panics, naming the
    /// file and the kind of value, when one holds a value it may not.
    pub fn assert_files_clean(&self) {
        let planted = self.planted.lock().unwrap_or_else(|e| e.into_inner());
        let store = self.path().join("cache/git-credential-entra/tokens");
        super::scan::assert_files_clean(self.path(), &store, &planted);
    }

    /// Adds (or replaces) a variable in the environment of every command built afterwards.
    pub fn set_env(&mut self, k: &str, v: &str) {
        self.extra.retain(|(key, _)| key != k);
        self.extra.push((k.to_owned(), v.to_owned()));
    }

    /// The helper binary under test, with the isolated environment; run by
    /// `GIT_CREDENTIAL_ENTRA_TEST_RUNNER` when set (`qemu-aarch64` for the
    /// arm64 build on an x86_64 machine, see `tests/it/static_build.rs`).
    pub fn helper(&self) -> Command {
        let mut cmd = match std::env::var_os(TEST_RUNNER_VAR).filter(|r| !r.is_empty()) {
            Some(runner) => {
                let mut cmd = Command::new(runner);
                cmd.arg(helper_bin());
                cmd
            }
            None => Command::new(helper_bin()),
        };
        self.isolate(&mut cmd);
        cmd
    }

    /// A git binary (`"git"`, `"/usr/bin/git"`, ...) with the isolated environment, run in the root.
    pub fn git(&self, git: &str) -> Command {
        self.command(git)
    }

    /// Any program (a shell running a documented pipeline) with the isolated environment, run in the root.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.isolate(&mut cmd);
        cmd.current_dir(self.path());
        cmd
    }

    /// Runs `git` with `args` in the root and panics with its output if it fails.
    pub fn git_ok(&self, git: &str, args: &[&str]) -> RunOutput {
        let out = self.run(self.git(git).args(args), b"");
        assert!(
            out.status.success(),
            "{git} {args:?} failed ({}):\n--- stdout\n{}--- stderr\n{}",
            out.status,
            out.stdout,
            out.stderr
        );
        out
    }

    /// Runs `cmd` with `stdin`, enforcing the deadline, and asserts its stderr leaks no secret.
    pub fn run(&self, cmd: &mut Command, stdin: &[u8]) -> RunOutput {
        self.run_within(cmd, stdin, DEADLINE)
    }

    /// [`TestEnv::run`] with its own deadline, for a command that may
    /// legitimately take longer (a nested cargo that may have to compile).
    pub fn run_within(&self, cmd: &mut Command, stdin: &[u8], deadline: Duration) -> RunOutput {
        let program = Path::new(cmd.get_program())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        // Separate threads for each pipe so a chatty child can never deadlock against us.
        let mut pipe_in = child.stdin.take().expect("stdin is piped");
        let input = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            // A child that exits without reading stdin is not an error here.
            let _ = pipe_in.write_all(&input);
        });
        let reader = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let out = reader(Box::new(child.stdout.take().expect("stdout is piped")));
        let err = reader(Box::new(child.stderr.take().expect("stderr is piped")));
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("poll child") {
                break s;
            }
            if started.elapsed() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{program} did not finish within {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let _ = writer.join();
        let stdout = out.join().expect("stdout reader thread");
        let stderr = err.join().expect("stderr reader thread");
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        check_output(&program, &args, &stdout, &stderr);
        RunOutput {
            status,
            stdout,
            stderr,
        }
    }

    /// Applies the isolated environment: nothing inherited except PATH and a D-Bus session.
    /// In particular no proxy (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, ...) and no CA or TLS
    /// setting (`SSL_CERT_FILE`, `GIT_SSL_CAINFO`, `GIT_SSL_NO_VERIFY`, ...) of the machine
    /// running the tests reaches git or the helper: only what a test sets with `set_env`.
    fn isolate(&self, cmd: &mut Command) {
        let p = self.path();
        clear_env(cmd, &p.join("home"))
            .env("XDG_CONFIG_HOME", p.join("config"))
            .env("XDG_CACHE_HOME", p.join("cache"))
            .env("XDG_RUNTIME_DIR", p.join("runtime"))
            .env("GIT_CONFIG_GLOBAL", p.join("home/.gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            // A managed identity must never reach the real IMDS from a test:
            // unless a test points it at a fake, it finds nothing listening.
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        // The Secret Service keyring is reached over the session bus, if the machine has one.
        if let Some(v) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", v);
        }
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
    }
}

/// Checks a command's captured output with the leak scanner: stderr may hold
/// nothing registered; stdout may hold an access token only where it is the
/// answer asked for. For commands a test spawns itself.
pub fn check_output(program: &str, args: &[String], stdout: &str, stderr: &str) {
    use super::scan::{Place, assert_clean, stdout_place};
    assert_clean(&format!("stderr of {program}"), stderr, Place::Anywhere);
    let place = stdout_place(program, args);
    assert_clean(&format!("stdout of {program}"), stdout, place);
}

impl Drop for TestEnv {
    /// The last look at what the test left behind: every file under the root.
    /// Skipped while a test is already failing (a second panic would abort).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_files_clean();
        }
    }
}

/// Clears `cmd`'s environment but for PATH, with `home` as HOME (and no XDG
/// directory, so they all fall under it) and the C locale.
fn clear_env<'c>(cmd: &'c mut Command, home: &Path) -> &'c mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C")
}

/// `program` with nothing of the machine's environment but PATH, and `home`
/// as HOME: for a program a test starts outside a [`TestEnv`] (a tool making
/// certificates, a private keyring), which may write under HOME (Chromium,
/// dconf, openssl's `.rnd`) and must not write into the real one.
pub fn isolated(program: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    clear_env(&mut cmd, home);
    cmd
}

/// Runs `program args` to learn whether it is here (or its version) in a
/// throwaway HOME, removed afterwards: its stdout when it ran and succeeded.
pub fn probe(program: &str, args: &[&str]) -> Option<String> {
    let home = tempfile::Builder::new()
        .prefix("gce-probe-")
        .tempdir()
        .expect("create a temporary HOME");
    let out = isolated(program, home.path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The variable naming another build of the helper to test black-box (the
/// static release binary `scripts/dist.sh` made, see `.ci/run`).
pub const TEST_BIN_VAR: &str = "GIT_CREDENTIAL_ENTRA_TEST_BIN";
/// The program that runs that build (an emulator), when this machine cannot.
pub const TEST_RUNNER_VAR: &str = "GIT_CREDENTIAL_ENTRA_TEST_RUNNER";

/// The helper binary: `GIT_CREDENTIAL_ENTRA_TEST_BIN` when set; otherwise cargo
/// names it for tests and benches; an example (the demo) finds it in its
/// profile directory, one level above `examples/`.
pub fn helper_bin() -> PathBuf {
    if let Some(p) = std::env::var_os(TEST_BIN_VAR).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_git-credential-entra") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the running program's path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("an example runs from target/PROFILE/examples");
    profile.join(format!(
        "git-credential-entra{}",
        std::env::consts::EXE_SUFFIX
    ))
}
