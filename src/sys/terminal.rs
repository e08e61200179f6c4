//! Reading a secret that a person pastes at the terminal, without echoing it.
//!
//! Echo is off only while one line is read, and the terminal's settings are
//! restored afterwards whether the read worked or failed. A signal that ends
//! the process mid-prompt (Ctrl-C, a closed terminal) would leave the shell
//! without echo, so while echo is off a handler for those signals restores the
//! settings first and then lets the signal take its usual course.
//!
//! On Windows the same holds for the console: `ENABLE_ECHO_INPUT` is cleared
//! from the console's input mode while the line is read, and a console control
//! handler (Ctrl-C, Ctrl-Break, a closed window) restores the mode first.
//!
//! Written by hand rather than with `rpassword`: it restores echo when the
//! read ends, but not when a signal ends the process mid-prompt, which is
//! the case this module exists for.

use std::io::{self, Read, Write};

use crate::sys::secret::Secret;

/// Longest secret read from the terminal, as from a pipe.
const MAX_SECRET: usize = 64 * 1024;

#[cfg(unix)]
use unix::EchoOff;
#[cfg(windows)]
use windows::EchoOff;

/// Prompts on `prompt_out`, reads one line from `input` (the terminal
/// `console`) with echo off, and returns it without its line end.
#[cfg(any(unix, windows))]
pub fn read_hidden_line(
    input: &mut dyn Read,
    console: Console,
    prompt_out: &mut dyn Write,
) -> io::Result<Secret<String>> {
    let echo_off = EchoOff::new(console)?;
    // Only now: text typed before echo went off was already shown.
    write!(prompt_out, "paste the secret, then Enter: ")?;
    prompt_out.flush()?;
    let line = read_line(input);
    drop(echo_off);
    // The Enter was not echoed either; end the prompt's line.
    let _ = writeln!(prompt_out);
    line
}

/// The console handle behind stdin, for [`read_hidden_line`].
#[cfg(unix)]
pub fn stdin_console() -> Console {
    0
}

/// The console handle behind stdin, for [`read_hidden_line`].
#[cfg(windows)]
pub fn stdin_console() -> Console {
    use std::os::windows::io::AsRawHandle;
    std::io::stdin().as_raw_handle()
}

/// A terminal (unix: a file descriptor; Windows: a console input handle).
#[cfg(unix)]
pub type Console = std::os::fd::RawFd;
/// A terminal (unix: a file descriptor; Windows: a console input handle).
#[cfg(windows)]
pub type Console = std::os::windows::io::RawHandle;

fn read_line(input: &mut dyn Read) -> io::Result<Secret<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte: nothing past the line is taken from the terminal.
    while line.len() <= MAX_SECRET {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => {
                line.push(b'\n');
                break;
            }
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let text = String::from_utf8(line)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the secret is not UTF-8"))?;
    Ok(Secret::from_text(text))
}

#[cfg(unix)]
mod unix {
    use std::cell::UnsafeCell;
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::RawFd;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// Signals that end a process while a person is at the prompt.
    const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    /// The settings to restore from a signal handler, which can take no lock.
    struct Saved(UnsafeCell<MaybeUninit<libc::termios>>);
    // SAFETY: written only by the prompt that claimed SAVED_FD (FREE ->
    // CLAIMED), before it publishes its descriptor; read only by the handler
    // once a descriptor is published.
    unsafe impl Sync for Saved {}
    static SAVED: Saved = Saved(UnsafeCell::new(MaybeUninit::uninit()));
    static SAVED_FD: AtomicI32 = AtomicI32::new(FREE);
    const FREE: i32 = -1;
    const CLAIMED: i32 = -2;

    extern "C" fn restore_then_die(signal: libc::c_int) {
        let fd = SAVED_FD.load(Ordering::SeqCst);
        // SAFETY: tcsetattr and raise are async-signal-safe; SAVED is
        // initialised whenever a descriptor is published. The handler was
        // installed with SA_RESETHAND, so the re-raised signal takes its
        // default action once this handler returns.
        unsafe {
            if fd >= 0 {
                libc::tcsetattr(fd, libc::TCSANOW, (*SAVED.0.get()).as_ptr());
            }
            libc::raise(signal);
        }
    }

    /// Echo off on a terminal until dropped.
    pub struct EchoOff {
        fd: RawFd,
        saved: libc::termios,
        old_actions: Vec<(libc::c_int, libc::sigaction)>,
    }

    impl EchoOff {
        pub fn new(fd: RawFd) -> io::Result<EchoOff> {
            let mut saved = MaybeUninit::<libc::termios>::uninit();
            // SAFETY: tcgetattr fills the struct when it returns 0.
            if unsafe { libc::tcgetattr(fd, saved.as_mut_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: initialised by the successful tcgetattr above.
            let saved = unsafe { saved.assume_init() };
            if SAVED_FD
                .compare_exchange(FREE, CLAIMED, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return Err(io::Error::other("echo is already off for another prompt"));
            }
            // SAFETY: this prompt holds the claim, and no handler reads SAVED
            // before the descriptor is published on the next line.
            unsafe { (*SAVED.0.get()).write(saved) };
            SAVED_FD.store(fd, Ordering::SeqCst);
            let mut echo_off = EchoOff {
                fd,
                saved,
                old_actions: Vec::new(),
            };
            for signal in SIGNALS {
                // SAFETY: a zeroed sigaction is valid; the handler only calls
                // async-signal-safe functions.
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = restore_then_die as extern "C" fn(libc::c_int) as usize;
                    action.sa_flags = libc::SA_RESETHAND;
                    libc::sigemptyset(&mut action.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(signal, &action, &mut old) == 0 {
                        echo_off.old_actions.push((signal, old));
                    }
                }
            }
            let mut quiet = saved;
            quiet.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL);
            // SAFETY: `quiet` is a valid termios derived from the current one.
            if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
                // Drop restores the handlers (and the unchanged settings).
                return Err(io::Error::last_os_error());
            }
            Ok(echo_off)
        }
    }

    impl Drop for EchoOff {
        fn drop(&mut self) {
            // SAFETY: restores settings read by tcgetattr and the handlers
            // sigaction returned.
            unsafe {
                libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved);
                for (signal, old) in &self.old_actions {
                    libc::sigaction(*signal, old, std::ptr::null_mut());
                }
            }
            SAVED_FD.store(FREE, Ordering::SeqCst);
        }
    }
}

#[cfg(windows)]
mod windows {
    use std::io;
    use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
    use windows_sys::Win32::Foundation::HANDLE;
    use windows_sys::Win32::System::Console::{
        ENABLE_ECHO_INPUT, GetConsoleMode, SetConsoleCtrlHandler, SetConsoleMode,
    };
    use windows_sys::core::BOOL;

    /// The console whose mode a control handler restores (null: none), and
    /// that mode; atomics because the handler runs on its own thread.
    static SAVED_HANDLE: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(std::ptr::null_mut());
    static SAVED_MODE: AtomicU32 = AtomicU32::new(0);

    unsafe extern "system" fn restore_then_go_on(_ctrl: u32) -> BOOL {
        let handle = SAVED_HANDLE.load(Ordering::SeqCst);
        if !handle.is_null() {
            // SAFETY: the handle stays open while it is published.
            unsafe { SetConsoleMode(handle, SAVED_MODE.load(Ordering::SeqCst)) };
        }
        // Not handled: the next handler (the default one ends the process) runs.
        0
    }

    /// Echo off on a console until dropped.
    pub struct EchoOff {
        handle: HANDLE,
        saved: u32,
    }

    impl EchoOff {
        pub fn new(handle: HANDLE) -> io::Result<EchoOff> {
            let mut saved = 0u32;
            // SAFETY: GetConsoleMode writes one u32; it fails on a non-console handle.
            if unsafe { GetConsoleMode(handle, &mut saved) } == 0 {
                return Err(io::Error::last_os_error());
            }
            SAVED_MODE.store(saved, Ordering::SeqCst);
            if SAVED_HANDLE
                .compare_exchange(
                    std::ptr::null_mut(),
                    handle,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_err()
            {
                return Err(io::Error::other("echo is already off for another prompt"));
            }
            // SAFETY: registers a handler that only calls SetConsoleMode.
            unsafe { SetConsoleCtrlHandler(Some(restore_then_go_on), 1) };
            let echo_off = EchoOff { handle, saved };
            // SAFETY: a mode derived from the console's current one.
            if unsafe { SetConsoleMode(handle, saved & !ENABLE_ECHO_INPUT) } == 0 {
                // Drop unregisters the handler (and restores the unchanged mode).
                return Err(io::Error::last_os_error());
            }
            Ok(echo_off)
        }
    }

    impl Drop for EchoOff {
        fn drop(&mut self) {
            // SAFETY: restores the mode GetConsoleMode returned and removes
            // the handler registered in `new`.
            unsafe {
                SetConsoleMode(self.handle, self.saved);
                SetConsoleCtrlHandler(Some(restore_then_go_on), 0);
            }
            SAVED_HANDLE.store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }

    // Echo off at a real console is tested from outside: the black-box
    // Windows test types `secret set` into a pseudo-terminal Wine turns into
    // a console.
    #[cfg(test)]
    mod tests {
        use super::*;
        use std::os::windows::io::AsRawHandle;

        #[test]
        fn a_non_console_is_refused() {
            let file = tempfile::tempfile().expect("temp file");
            assert!(EchoOff::new(file.as_raw_handle()).is_err());
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::mpsc;

    /// Echo settings are process-wide state: one prompt at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A new pseudo-terminal: (the side a terminal emulator holds, the side a program reads).
    fn pty() -> (File, File) {
        // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes
        // at most buf.len() bytes.
        unsafe {
            let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(master >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(master), 0);
            assert_eq!(libc::unlockpt(master), 0);
            let mut buf = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()), 0);
            let name = std::ffi::CStr::from_ptr(buf.as_ptr())
                .to_str()
                .expect("pty name")
                .to_string();
            let slave = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(name)
                .expect("open the pty");
            (File::from_raw_fd(master), slave)
        }
    }

    fn echo_is_on(fd: i32) -> bool {
        // SAFETY: tcgetattr fills the zeroed struct.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut t), 0);
            t.c_lflag & libc::ECHO != 0
        }
    }

    /// Stands for stderr; tells the typist thread when the prompt is out.
    struct Prompt(Vec<u8>, mpsc::Sender<()>);
    impl Write for Prompt {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(buf);
            let _ = self.1.send(());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_pasted_secret_is_not_echoed_and_echo_comes_back() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let (mut master, slave) = pty();
        let fd = slave.as_raw_fd();
        assert!(echo_is_on(fd));
        let (tx, rx) = mpsc::channel();
        let mut typist = master.try_clone().expect("clone");
        let typing = std::thread::spawn(move || {
            rx.recv().expect("the prompt appears");
            typist.write_all(b"pasted-s3cret\n").expect("type");
        });
        let mut prompt = Prompt(Vec::new(), tx);
        let secret = read_hidden_line(&mut &slave, fd, &mut prompt).expect("read");
        typing.join().expect("typist");
        assert_eq!(secret.expose(), "pasted-s3cret");
        assert!(echo_is_on(fd), "echo restored");
        assert!(String::from_utf8_lossy(&prompt.0).contains("paste the secret, then Enter"));

        // Whatever the terminal showed is readable on the master side.
        // SAFETY: fcntl on a descriptor this test owns.
        unsafe {
            let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let mut shown = [0u8; 256];
        let n = master.read(&mut shown).unwrap_or(0);
        assert!(
            !String::from_utf8_lossy(&shown[..n]).contains("s3cret"),
            "the terminal echoed the secret"
        );
    }

    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("gone"))
        }
    }

    #[test]
    fn echo_comes_back_when_reading_fails() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let (_master, slave) = pty();
        let fd = slave.as_raw_fd();
        let (tx, _rx) = mpsc::channel();
        let mut prompt = Prompt(Vec::new(), tx);
        assert!(read_hidden_line(&mut Broken, fd, &mut prompt).is_err());
        assert!(echo_is_on(fd));
    }

    #[test]
    fn a_non_terminal_is_refused_before_prompting() {
        let file = tempfile::tempfile().expect("temp file");
        let (tx, _rx) = mpsc::channel();
        let mut prompt = Prompt(Vec::new(), tx);
        assert!(read_hidden_line(&mut &file, file.as_raw_fd(), &mut prompt).is_err());
        assert!(prompt.0.is_empty());
    }
}
