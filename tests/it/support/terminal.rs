//! Running the helper on a real terminal (`script` allocates one), for the
//! behaviour that depends on a person at a keyboard: prompts, hidden input,
//! pasted addresses.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::TestEnv;

/// `command` (a shell command line; `HELPER` stands for the helper binary)
/// run by `script` on a new terminal, with the helper's isolated environment.
pub fn on_a_terminal(env: &TestEnv, command: &str) -> Command {
    on_a_terminal_as(env.helper(), command)
}

/// `command` run by `script` on a new terminal, `HELPER` standing for
/// `helper`'s program and arguments, in `helper`'s environment.
pub fn on_a_terminal_as(helper: Command, command: &str) -> Command {
    let bin = std::iter::once(helper.get_program())
        .chain(helper.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.env_clear();
    for (k, v) in helper.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.args(["-qec", &command.replace("HELPER", &bin), "/dev/null"]);
    cmd
}

/// A command running on a terminal, and everything the terminal has shown.
pub struct Screen {
    child: Child,
    stdin: Option<ChildStdin>,
    shown: Arc<Mutex<String>>,
    reader: JoinHandle<()>,
}

impl Screen {
    /// Starts `command` (see [`on_a_terminal`]).
    pub fn start(env: &TestEnv, command: &str) -> Screen {
        Screen::spawn(on_a_terminal(env, command))
    }

    /// Starts a command made by [`on_a_terminal_as`].
    pub fn spawn(mut script: Command) -> Screen {
        let mut child = script
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn script");
        let shown = Arc::new(Mutex::new(String::new()));
        let reader = {
            let shown = shown.clone();
            let mut stdout = child.stdout.take().expect("piped");
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    shown
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        let stdin = child.stdin.take();
        Screen {
            child,
            stdin,
            shown,
            reader,
        }
    }

    /// What the terminal has shown so far.
    pub fn shown(&self) -> String {
        self.shown.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits up to 30 s for a screen `done` accepts; `None` on time-out.
    pub fn wait_for(&self, done: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.shown();
            if done(&s) {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `bytes` on the terminal.
    pub fn type_in(&mut self, bytes: &[u8]) {
        self.stdin
            .as_mut()
            .expect("the terminal is open")
            .write_all(bytes)
            .expect("type");
    }

    /// Ends the input, as a person pressing nothing more would.
    pub fn close_input(&mut self) {
        drop(self.stdin.take());
    }

    /// Waits (at most 30 s) for the command to end; its status and the screen.
    pub fn finish(mut self) -> (ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the command on the terminal did not finish: {}",
                self.shown()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(self.stdin.take());
        let shown = self.shown.clone();
        self.reader.join().expect("reader");
        let shown = shown.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (status, shown)
    }
}
