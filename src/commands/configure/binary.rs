//! This binary as git's config names it (`helper = …`) and as a person
//! types it (the undo and next-step commands `configure` prints), and
//! whether a `helper` value already runs this very file.

use std::path::{Path, PathBuf};

use crate::app::error::Error;

pub(super) const BIN: &str = "git-credential-entra";

/// Where this binary is, and whether `git-credential-entra` on PATH is it.
pub(super) struct Binary {
    exe: PathBuf,
    on_path: bool,
}

impl Binary {
    /// This running binary, canonical, looked up against `path_var`.
    pub(super) fn locate(path_var: Option<&str>) -> Result<Binary, Error> {
        let exe = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|e| {
                Error::Command(format!(
                    "configure: cannot find where this program is installed ({e}). Fix: run it by its absolute path"
                ))
            })?;
        let on_path = on_path(path_var).as_deref() == Some(exe.as_path());
        Ok(Binary { exe, on_path })
    }

    /// The `helper` value: `entra` when `git-credential-entra` on PATH is
    /// this very binary, else its absolute path (shell-quoted with `!'…'`
    /// when it holds a space or another character the shell would read:
    /// git runs helper paths through the shell).
    pub(super) fn helper_value(&self) -> String {
        if self.on_path {
            return "entra".into();
        }
        quote_path(&self.exe)
    }

    /// How a person runs it from a shell: the bare name when PATH finds
    /// this binary, else its full path (quoted when the shell would split it).
    pub(super) fn command(&self) -> String {
        if self.on_path {
            return BIN.into();
        }
        shell_word(&self.exe.to_string_lossy())
    }

    /// Whether `value` (a helper line that [`is_ours`]) runs this same file:
    /// the name finds it on PATH, or the path is it. After PATH changed,
    /// `configure` rewrites such a line from path to name (or back), and it
    /// is the same installation, not another one.
    pub(super) fn runs(&self, value: &str, path_var: Option<&str>) -> bool {
        let program = program_of(value);
        let found = if program == "entra" || program == BIN {
            on_path(path_var)
        } else {
            Path::new(&program).canonicalize().ok()
        };
        found.as_deref() == Some(self.exe.as_path())
    }
}

/// `git-credential-entra` in an absolute directory of `path_var`, canonical.
fn on_path(path_var: Option<&str>) -> Option<PathBuf> {
    path_var
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(format!("{BIN}{}", std::env::consts::EXE_SUFFIX)))
        .find(|candidate| candidate.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// The program a `helper` value names, its `!` and shell quotes removed.
fn program_of(value: &str) -> String {
    let v = value.trim();
    let v = v.strip_prefix('!').unwrap_or(v).trim();
    let v = v
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(v);
    v.replace("'\\''", "'")
}

/// Whether a `helper` value runs this helper: `entra`, `git-credential-entra`,
/// or a path ending in it (possibly as `!'path'`), with no arguments.
pub fn is_ours(value: &str) -> bool {
    let v = program_of(value);
    let name = v.rsplit(['/', '\\']).next().unwrap_or(&v);
    v == "entra" || name == BIN || name == format!("{BIN}.exe")
}

fn plain(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:\\".contains(c))
}

/// `text` as one shell word: as it is when the shell would not split or
/// expand it, else in single quotes.
pub(super) fn shell_word(text: &str) -> String {
    if plain(text) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// A helper path as git's config holds it: `!'…'` when it needs quoting.
pub(super) fn quote_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    if plain(&text) {
        text.into_owned()
    } else {
        format!("!{}", shell_word(&text))
    }
}
