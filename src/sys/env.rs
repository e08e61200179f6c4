//! A snapshot of the process environment, so the app can be driven in tests
//! without touching the real one.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// The variables holding secrets the helper reads whatever the config says
/// (the `environment` identity's, the CI platforms' tokens, the managed
/// identity endpoints' keys): programs started for a person (a browser) get
/// an environment without them.
pub const SECRET_VARIABLES: &[&str] = &[
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "SYSTEM_ACCESSTOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "IDENTITY_HEADER",
    "MSI_SECRET",
];

/// Environment variables (UTF-8 ones only; others are not ours to read).
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

/// Names only: values include `AZURE_CLIENT_SECRET` and `SYSTEM_ACCESSTOKEN`.
impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Env").field("names", &names).finish()
    }
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

/// A default location that cannot be used: no absolute base directory is set.
///
/// Git runs helpers inside the repository, so a relative fallback would let a
/// repository ship the config (and with it where secrets are sent) or receive
/// tokens in its worktree. There is no fallback: the user sets a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoHome {
    /// What needed the location, for the message ("the config file").
    pub what: &'static str,
    /// The variables that would give it, most usual first.
    pub vars: &'static [&'static str],
}

impl fmt::Display for NoHome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = match self.vars {
            [one] => format!("{one} is"),
            [init @ .., last] => format!("{} and {last} are", init.join(", ")),
            [] => "no variable is".to_string(),
        };
        let fix = match self.vars {
            [first, rest @ ..] if !rest.is_empty() => format!("{first} (or {})", rest.join(" / ")),
            _ => self.vars.join(""),
        };
        write!(
            f,
            "there is no absolute directory for {}: {named} unset, empty or relative, and a location relative to the current directory would be inside the repository git runs this helper in. Fix: set {fix} to an absolute path in the environment git runs in",
            self.what
        )
    }
}

/// A config file chosen with `--config` or `GIT_CREDENTIAL_ENTRA_CONFIG`
/// by a relative path. Git runs helpers inside the repository (a submodule,
/// a pull request's checkout), so the path would name a file that checkout
/// ships, and its `authority_host` would receive the job's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativeConfig {
    /// Where the path came from: `--config` or the variable.
    pub setting: &'static str,
    /// The path as given.
    pub value: String,
}

impl fmt::Display for RelativeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = crate::sys::text::escape_controls(&self.value);
        write!(
            f,
            "{} \"{value}\" is a relative path, so no config is read: git runs this helper inside the repository, and a relative path would read a file the repository ships. Fix: give an absolute path (for example \"$PWD/{value}\")",
            self.setting
        )
    }
}

// Their Display is their message; they have no deeper cause.
impl std::error::Error for NoHome {}
impl std::error::Error for RelativeConfig {}

/// Why there is no config file path to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigPathError {
    /// The default location has no absolute base directory.
    NoHome(NoHome),
    /// The chosen path is relative.
    Relative(RelativeConfig),
}

/// Where this helper keeps its files. Each default location is absolute or
/// says which variable is missing.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The config file (default or chosen; a chosen one must be absolute).
    pub config_file: Result<PathBuf, ConfigPathError>,
    /// Whether the user chose it (`--config` / env): then it must exist.
    pub config_explicit: bool,
    /// `$XDG_CACHE_HOME/git-credential-entra`.
    pub cache: Result<PathBuf, NoHome>,
    /// `$XDG_RUNTIME_DIR/git-credential-entra`, else `{cache}/locks`.
    pub locks: Result<PathBuf, NoHome>,
}

const APP: &str = "git-credential-entra";
const CONFIG_VAR: &str = "GIT_CREDENTIAL_ENTRA_CONFIG";

#[cfg(windows)]
const CONFIG_VARS: &[&str] = &["APPDATA", "USERPROFILE"];
#[cfg(not(windows))]
const CONFIG_VARS: &[&str] = &["HOME", "XDG_CONFIG_HOME"];
#[cfg(windows)]
const CACHE_VARS: &[&str] = &["LOCALAPPDATA", "USERPROFILE"];
#[cfg(not(windows))]
const CACHE_VARS: &[&str] = &["HOME", "XDG_CACHE_HOME"];
#[cfg(windows)]
const LOCK_VARS: &[&str] = &["LOCALAPPDATA", "USERPROFILE"];
#[cfg(not(windows))]
const LOCK_VARS: &[&str] = &["HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME"];

impl Dirs {
    /// Computes the locations from the environment and `--config`.
    pub fn new(env: &Env, config_flag: Option<PathBuf>) -> Dirs {
        let home = env.home();
        let chosen = match config_flag {
            Some(path) => Some(("--config", path)),
            None => env.get(CONFIG_VAR).map(|v| (CONFIG_VAR, PathBuf::from(v))),
        };
        let config_explicit = chosen.is_some();
        let config_file = match chosen {
            Some((_, path)) if path.is_absolute() => Ok(path),
            Some((setting, path)) => Err(ConfigPathError::Relative(RelativeConfig {
                setting,
                value: path.to_string_lossy().into_owned(),
            })),
            None => {
                // Windows: the roaming profile, as %APPDATA% (or its usual place).
                let base = if cfg!(windows) {
                    env.dir("APPDATA")
                        .or_else(|| home.as_ref().map(|h| h.join("AppData").join("Roaming")))
                } else {
                    env.dir("XDG_CONFIG_HOME")
                        .or_else(|| home.as_ref().map(|h| h.join(".config")))
                };
                base.map(|b| b.join(APP).join("config.json"))
                    .ok_or(ConfigPathError::NoHome(NoHome {
                        what: "the config file",
                        vars: CONFIG_VARS,
                    }))
            }
        };
        let cache_base = if cfg!(windows) {
            env.dir("LOCALAPPDATA")
                .or_else(|| home.as_ref().map(|h| h.join("AppData").join("Local")))
        } else {
            env.dir("XDG_CACHE_HOME")
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
        };
        let cache = cache_base.map(|b| b.join(APP));
        // XDG_RUNTIME_DIR is a unix desktop's; Windows keeps locks with the cache.
        let runtime = if cfg!(windows) {
            None
        } else {
            env.dir("XDG_RUNTIME_DIR")
        };
        let locks = match runtime {
            Some(runtime) => Some(runtime.join(APP)),
            None => cache.as_ref().map(|c| c.join("locks")),
        };
        Dirs {
            config_file,
            config_explicit,
            cache: cache.ok_or(NoHome {
                what: "the token cache",
                vars: CACHE_VARS,
            }),
            locks: locks.ok_or(NoHome {
                what: "lock files",
                vars: LOCK_VARS,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<E: Clone + fmt::Debug>(r: &Result<PathBuf, E>) -> PathBuf {
        r.clone().expect("a usable location")
    }

    #[test]
    fn debug_shows_names_never_values() {
        let env = Env::from_pairs([
            ("AZURE_CLIENT_SECRET", "Xq8~secret-value-1"),
            ("SYSTEM_ACCESSTOKEN", "job-token-value-2"),
            ("HOME", "/home/someone"),
        ]);
        for shown in [format!("{env:?}"), format!("{env:#?}")] {
            for value in ["Xq8~secret-value-1", "job-token-value-2", "/home/someone"] {
                assert!(!shown.contains(value), "{shown}");
            }
            assert!(
                shown.contains("AZURE_CLIENT_SECRET") && shown.contains("HOME"),
                "{shown}"
            );
        }
    }

    #[test]
    #[cfg(not(windows))]
    fn xdg_locations_and_fallbacks() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_RUNTIME_DIR", "/run/u")]);
        let d = Dirs::new(&env, None);
        assert_eq!(
            ok(&d.config_file),
            PathBuf::from("/h/.config/git-credential-entra/config.json")
        );
        assert_eq!(
            ok(&d.cache),
            PathBuf::from("/h/.cache/git-credential-entra")
        );
        assert_eq!(ok(&d.locks), PathBuf::from("/run/u/git-credential-entra"));
        assert!(!d.config_explicit);
        let env = Env::from_pairs([
            ("HOME", "/h"),
            ("XDG_CONFIG_HOME", "relative"),
            ("XDG_CACHE_HOME", "/c"),
            ("GIT_CREDENTIAL_ENTRA_CONFIG", "/etc/x.json"),
        ]);
        let d = Dirs::new(&env, None);
        assert_eq!(ok(&d.config_file), PathBuf::from("/etc/x.json"));
        assert!(d.config_explicit);
        assert_eq!(ok(&d.locks), PathBuf::from("/c/git-credential-entra/locks"));
        let d = Dirs::new(&env, Some("/flag.json".into()));
        assert_eq!(ok(&d.config_file), PathBuf::from("/flag.json"));
    }

    #[test]
    fn no_default_location_is_ever_relative() {
        for home in [None, Some(""), Some("."), Some("relative/home")] {
            for xdg in [None, Some(""), Some("rel")] {
                let mut pairs = Vec::new();
                if let Some(h) = home {
                    pairs.push(("HOME", h));
                    pairs.push(("USERPROFILE", h));
                }
                if let Some(x) = xdg {
                    for var in ["XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"] {
                        pairs.push((var, x));
                    }
                }
                let d = Dirs::new(&Env::from_pairs(pairs), None);
                let shown = format!("HOME={home:?} XDG_*={xdg:?}: {d:?}");
                let ConfigPathError::NoHome(config) = d.config_file.expect_err(&shown) else {
                    panic!("{shown}: not a missing home")
                };
                assert_eq!(config.vars, CONFIG_VARS, "{shown}");
                let message = config.to_string();
                let fix = format!(
                    "Fix: set {} (or {}) to an absolute path",
                    CONFIG_VARS[0], CONFIG_VARS[1]
                );
                assert!(message.contains(&fix), "{message}");
                assert!(
                    d.cache
                        .expect_err(&shown)
                        .to_string()
                        .contains(CACHE_VARS[1]),
                    "{shown}"
                );
                assert!(d.locks.is_err(), "{shown}");
            }
        }
    }

    #[test]
    #[cfg(not(windows))]
    fn absolute_xdg_directories_stand_in_for_home() {
        let env = Env::from_pairs([
            ("HOME", "rel"),
            ("XDG_CONFIG_HOME", "/x/config"),
            ("XDG_CACHE_HOME", "/x/cache"),
        ]);
        let d = Dirs::new(&env, None);
        assert_eq!(
            ok(&d.config_file),
            PathBuf::from("/x/config/git-credential-entra/config.json")
        );
        assert_eq!(
            ok(&d.locks),
            PathBuf::from("/x/cache/git-credential-entra/locks")
        );
        // The runtime directory alone gives locks, not a cache.
        let env = Env::from_pairs([("XDG_RUNTIME_DIR", "/run/u")]);
        let d = Dirs::new(&env, None);
        assert_eq!(ok(&d.locks), PathBuf::from("/run/u/git-credential-entra"));
        assert!(d.cache.is_err());
    }

    #[test]
    #[cfg(windows)]
    fn appdata_locations_and_the_profile_fallback() {
        let env = Env::from_pairs([
            ("APPDATA", r"C:\Users\u\AppData\Roaming"),
            ("LOCALAPPDATA", r"C:\Users\u\AppData\Local"),
            ("XDG_RUNTIME_DIR", r"C:\run"),
        ]);
        let d = Dirs::new(&env, None);
        assert_eq!(
            ok(&d.config_file),
            PathBuf::from(r"C:\Users\u\AppData\Roaming\git-credential-entra\config.json")
        );
        assert_eq!(
            ok(&d.cache),
            PathBuf::from(r"C:\Users\u\AppData\Local\git-credential-entra")
        );
        assert_eq!(
            ok(&d.locks),
            PathBuf::from(r"C:\Users\u\AppData\Local\git-credential-entra\locks")
        );
        // Without APPDATA / LOCALAPPDATA: their usual places in the profile.
        let env = Env::from_pairs([("USERPROFILE", r"C:\Users\u"), ("APPDATA", "rel")]);
        let d = Dirs::new(&env, None);
        assert_eq!(
            ok(&d.config_file),
            PathBuf::from(r"C:\Users\u\AppData\Roaming\git-credential-entra\config.json")
        );
        assert_eq!(
            ok(&d.cache),
            PathBuf::from(r"C:\Users\u\AppData\Local\git-credential-entra")
        );
    }

    #[test]
    fn a_chosen_config_must_be_absolute() {
        let h = crate::abs("/h");
        let home = Env::from_pairs([("HOME", h.as_str())]);
        for (flag, var, setting) in [
            (Some(".ci/entra.json"), None, "--config"),
            (None, Some(".ci/entra.json"), "GIT_CREDENTIAL_ENTRA_CONFIG"),
            (Some("my/config.json"), Some("/etc/abs.json"), "--config"),
        ] {
            let mut env = home.clone();
            if let Some(v) = var {
                env.vars.insert(CONFIG_VAR.into(), v.into());
            }
            let d = Dirs::new(&env, flag.map(PathBuf::from));
            assert!(d.config_explicit);
            let Err(ConfigPathError::Relative(relative)) = d.config_file else {
                panic!("{flag:?} {var:?}: {:?}", d.config_file)
            };
            assert_eq!(relative.setting, setting);
            let message = relative.to_string();
            assert!(
                message.starts_with(&format!("{setting} \""))
                    && message.contains("Fix: give an absolute path"),
                "{message}"
            );
            assert!(!message.contains('\n'), "one line: {message}");
            // The cache does not depend on it.
            assert!(d.cache.is_ok());
        }
        let d = Dirs::new(&Env::default(), Some(crate::abs("/etc/c.json").into()));
        assert_eq!(ok(&d.config_file), PathBuf::from(crate::abs("/etc/c.json")));
        let shown = RelativeConfig {
            setting: "--config",
            value: "a\x1b[2Jb".into(),
        }
        .to_string();
        assert!(!shown.contains('\x1b'), "{shown}");
    }
}
