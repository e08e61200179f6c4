//! The one leak scanner: every value that must stay hidden is registered here
//! with its kind, and everything the suite captures is checked against it.
//!
//! What is checked (by [`TestEnv`](super::TestEnv)): the stdout and stderr of
//! every command it runs, and, when it is dropped, every file under its root
//! (home, XDG dirs, repositories, trace files). Fake servers register what
//! they issue and receive, so a test need not remember to.
//!
//! The rules, by kind: client secrets, refresh tokens, client assertions (and
//! other secrets: passwords, sign-in codes) are never anywhere. An access
//! token may appear only in the answer git asked for (the `password=` or
//! `credential=` line of `get`, `git credential fill`), in the output of the
//! `token` command, and in the file token store: a 0600 regular file in a
//! 0700 directory (README, Security).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a registered value is, which decides where it may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A client secret, password or sign-in code: never anywhere.
    Secret,
    /// A refresh token: never anywhere (it lives only in the OS keyring).
    RefreshToken,
    /// A client assertion (signed JWT or federated token): never anywhere.
    Assertion,
    /// An access token: only in the answer, `token`'s output and the file store.
    AccessToken,
}

/// Where captured text came from, which decides what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// stderr, traces, panic messages, ordinary files: nothing registered.
    Anywhere,
    /// A credential answer on stdout: access tokens on `password=` and
    /// `credential=` lines only.
    Answer,
    /// The output of `git-credential-entra token`: access tokens.
    TokenOutput,
    /// A token store entry that keeps the store rules: access tokens.
    Store,
}

/// Every value registered in this process; shared by all tests running in parallel.
static REGISTRY: Mutex<Vec<(Kind, String)>> = Mutex::new(Vec::new());

/// Shorter values would match ordinary text by accident and make the check meaningless.
pub const MIN_LEN: usize = 8;

/// Records `value` as `kind`. Values shorter than [`MIN_LEN`] are refused:
/// a test that registers one by hand has made a mistake.
pub fn register(kind: Kind, value: &str) {
    assert!(
        value.chars().count() >= MIN_LEN,
        "sensitive values must be at least {MIN_LEN} chars to be checkable (got {})",
        value.chars().count()
    );
    register_seen(kind, value);
}

/// Records a value a fake server saw or issued; one too short to check
/// (an empty or scripted placeholder) is skipped rather than refused.
pub fn register_seen(kind: Kind, value: &str) {
    if value.chars().count() < MIN_LEN {
        return;
    }
    // A test that panicked while holding the lock must not break every later check.
    let mut all = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    match all.iter_mut().find(|(_, v)| v == value) {
        // Registered twice (say a sign-in code also echoed): the stricter kind wins.
        Some((k, _)) if *k == Kind::AccessToken => *k = kind,
        Some(_) => {}
        None => all.push((kind, value.to_owned())),
    }
}

/// The first registered value `text` may not hold at `place`, if any.
pub fn find_leak(text: &str, place: Place) -> Option<(Kind, String)> {
    // In an answer only the credential lines may carry an access token.
    let outside_answer: String;
    let strict_text = match place {
        Place::Answer => {
            outside_answer = text
                .lines()
                .filter(|l| !l.starts_with("password=") && !l.starts_with("credential="))
                .collect::<Vec<_>>()
                .join("\n");
            outside_answer.as_str()
        }
        _ => text,
    };
    let basic = basic_credentials(text);
    let all = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    all.iter()
        .find(|(kind, v)| match (kind, place) {
            (Kind::AccessToken, Place::TokenOutput | Place::Store) => false,
            (Kind::AccessToken, _) => {
                strict_text.contains(v.as_str()) || basic.contains(v.as_str())
            }
            _ => text.contains(v.as_str()) || basic.contains(v.as_str()),
        })
        .cloned()
}

/// The decoded `user:password` of every `Basic <base64>` in `text`: a Basic
/// `Authorization` header (git before 2.46, git-lfs always) carries the token
/// base64-encoded, where a plain search would miss it.
fn basic_credentials(text: &str) -> String {
    use base64::Engine as _;
    // ASCII lowercasing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut decoded = String::new();
    for (at, word) in lower.match_indices("basic ") {
        let encoded = text[at + word.len()..]
            .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
            .next()
            .unwrap_or_default();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) {
            decoded.push_str(&String::from_utf8_lossy(&bytes));
            decoded.push('\n');
        }
    }
    decoded
}

/// Panics, naming `what` and the kind but not the value, if `text` holds a
/// value it may not hold at `place`.
pub fn assert_clean(what: &str, text: &str, place: Place) {
    if let Some((kind, v)) = find_leak(text, place) {
        // Only a prefix and the length: the panic message itself ends up in test output.
        let prefix: String = v.chars().take(4).collect();
        panic!(
            "{what} leaks a registered {kind:?}: {prefix}... ({} chars)",
            v.chars().count()
        );
    }
}

/// Which [`Place`] a command's stdout is, from its program name and arguments.
pub fn stdout_place(program: &str, args: &[String]) -> Place {
    // The Windows `.exe` runs under Wine, a foreign static build under its
    // emulator (GIT_CREDENTIAL_ENTRA_TEST_RUNNER): the program is the first argument.
    let runner = std::env::var(super::env::TEST_RUNNER_VAR).unwrap_or_default();
    let runner = runner.rsplit('/').next().unwrap_or_default();
    if (matches!(program, "wine" | "wine64") || (!runner.is_empty() && program == runner))
        && let Some((exe, rest)) = args.split_first()
    {
        let name = exe.rsplit(['/', '\\']).next().unwrap_or(exe);
        return stdout_place(name, rest);
    }
    let has = |word: &str| args.iter().any(|a| a == word);
    if program.starts_with("git-credential-entra") {
        if has("get") {
            return Place::Answer;
        }
        if has("token") {
            return Place::TokenOutput;
        }
    } else if program == "git" && has("credential") && has("fill") {
        return Place::Answer;
    }
    Place::Anywhere
}

/// Checks every regular file under `root`: each may hold an access token
/// only when it is a token store entry kept by the store rules, and nothing
/// else registered at all. `inputs` are files (or directories) the test
/// itself planted (a secret file, a federated token file, a fake tool's
/// canned answers): they hold what the test put there.
pub fn assert_files_clean(root: &Path, store: &Path, inputs: &[PathBuf]) {
    for file in walk(root) {
        if inputs.iter().any(|p| file.starts_with(p)) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let place = if file.starts_with(store) && keeps_store_rules(&file) {
            Place::Store
        } else {
            Place::Anywhere
        };
        assert_clean(&format!("file {}", file.display()), &text, place);
    }
}

/// A 0600 regular file of ours, in a 0700 directory of ours.
#[cfg(unix)]
fn keeps_store_rules(file: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let private = |p: &Path, mode: u32| {
        std::fs::symlink_metadata(p).is_ok_and(|m| {
            m.permissions().mode() & 0o777 == mode
                && m.uid() == my_uid()
                && (m.is_dir() == (mode == 0o700))
        })
    };
    file.parent().is_some_and(|dir| private(dir, 0o700)) && private(file, 0o600)
}

/// A regular file: Windows has no modes, and the store there relies on the
/// profile's ACLs (README, Platforms).
#[cfg(not(unix))]
fn keeps_store_rules(file: &Path) -> bool {
    file.is_file()
}

/// The uid this test process runs as.
#[cfg(unix)]
fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

/// Every regular file under `dir` (links are not followed).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files.extend(walk(&p)),
            Ok(t) if t.is_file() => files.push(p),
            _ => {}
        }
    }
    files
}
