//! A snapshot of the process environment, so the app can be driven in tests
//! without touching the real one.

use std::collections::HashMap;
use std::path::PathBuf;

/// Environment variables (UTF-8 ones only; others are not ours to read).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The current process's environment.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of these pairs.
    #[cfg(test)]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// A variable's value; empty counts as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A variable holding a directory path, which must be absolute (XDG rule).
    pub fn dir(&self, key: &str) -> Option<PathBuf> {
        self.get(key).map(PathBuf::from).filter(|p| p.is_absolute())
    }

    /// `$HOME` (or `%USERPROFILE%`).
    pub fn home(&self) -> Option<PathBuf> {
        self.dir("HOME").or_else(|| self.dir("USERPROFILE"))
    }
}

/// Where this helper keeps its files.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The config file (default or chosen).
    pub config_file: PathBuf,
    /// Whether the user chose it (`--config` / env): then it must exist.
    pub config_explicit: bool,
    /// `$XDG_CACHE_HOME/git-credential-entra`.
    pub cache: PathBuf,
    /// `$XDG_RUNTIME_DIR/git-credential-entra`, else `{cache}/locks`.
    pub locks: PathBuf,
}

const APP: &str = "git-credential-entra";

impl Dirs {
    /// Computes the locations from the environment and `--config`.
    pub fn new(env: &Env, config_flag: Option<PathBuf>) -> Dirs {
        let home = env.home().unwrap_or_else(|| PathBuf::from("."));
        let chosen =
            config_flag.or_else(|| env.get("GIT_CREDENTIAL_ENTRA_CONFIG").map(PathBuf::from));
        let config_explicit = chosen.is_some();
        let config_file = chosen.unwrap_or_else(|| {
            let base = if cfg!(windows) {
                env.dir("APPDATA")
            } else {
                env.dir("XDG_CONFIG_HOME")
            };
            base.unwrap_or_else(|| home.join(".config"))
                .join(APP)
                .join("config.json")
        });
        let cache = if cfg!(windows) {
            env.dir("LOCALAPPDATA")
                .unwrap_or_else(|| home.join("AppData").join("Local"))
                .join(APP)
        } else {
            env.dir("XDG_CACHE_HOME")
                .unwrap_or_else(|| home.join(".cache"))
                .join(APP)
        };
        let locks = match env.dir("XDG_RUNTIME_DIR") {
            Some(runtime) => runtime.join(APP),
            None => cache.join("locks"),
        };
        Dirs {
            config_file,
            config_explicit,
            cache,
            locks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_locations_and_fallbacks() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_RUNTIME_DIR", "/run/u")]);
        let d = Dirs::new(&env, None);
        assert_eq!(
            d.config_file,
            PathBuf::from("/h/.config/git-credential-entra/config.json")
        );
        assert_eq!(d.cache, PathBuf::from("/h/.cache/git-credential-entra"));
        assert_eq!(d.locks, PathBuf::from("/run/u/git-credential-entra"));
        assert!(!d.config_explicit);
        let env = Env::from_pairs([
            ("HOME", "/h"),
            ("XDG_CONFIG_HOME", "relative"),
            ("XDG_CACHE_HOME", "/c"),
            ("GIT_CREDENTIAL_ENTRA_CONFIG", "/etc/x.json"),
        ]);
        let d = Dirs::new(&env, None);
        assert_eq!(d.config_file, PathBuf::from("/etc/x.json"));
        assert!(d.config_explicit);
        assert_eq!(d.locks, PathBuf::from("/c/git-credential-entra/locks"));
        let d = Dirs::new(&env, Some("/flag.json".into()));
        assert_eq!(d.config_file, PathBuf::from("/flag.json"));
    }
}
