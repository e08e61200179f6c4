//! The JSON configuration file: identities, routes, extra hosts, cache choice.
//!
//! Validation is whole-file and strict: an unknown key, a route to an unknown
//! identity, a missing or conflicting field stops every request with an error
//! naming the file and the JSON path (`identities.ci.client_id`), because a
//! half-understood config would send the wrong identity's token. The file
//! never holds secrets itself, only where to find them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::azure_devops::{HostEntry, route_url};
use crate::cache::CacheMode;
use crate::sys::text::escape_controls;

mod fields;
mod file;
mod identity;
mod nearest;

pub use crate::entra::{check_client_id, check_tenant};
use fields::Cx;
pub use fields::{check_authority_host, parse_host_entry};
pub use identity::{
    Assertion, AssertionAlg, AutoConfig, AzureCliConfig, CertSource, CertificateConfig, Credential,
    DevToolConfig, EnvironmentConfig, IdentityKind, KeyVaultSecret, Kind, ManagedIdentityConfig,
    MiSelector, PipelineTokenConfig, SecretSource, ServicePrincipalConfig, UserConfig, UserFlow,
    WorkloadConfig,
};

/// Name of the built-in identity used when no route matches.
pub const AUTO: &str = "auto";
const DEFAULT_MARGIN: i64 = 300;
const DEFAULT_MI_TIMEOUT: u64 = 30;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file read, or the default place where none exists yet.
    pub file: PathBuf,
    /// Whether that file exists (without one, everything uses `auto`).
    pub exists: bool,
    /// Identities by name.
    pub identities: BTreeMap<String, IdentityKind>,
    /// Routes as written (URLs canonicalised).
    pub routes: Vec<Route>,
    /// Extra hosts served besides Azure DevOps's own.
    pub hosts: Vec<HostEntry>,
    /// File-wide authority host, when set.
    pub authority_host: Option<String>,
    /// Cache backend chosen in the file.
    pub cache: Option<CacheMode>,
    /// `refresh_margin_seconds`.
    pub refresh_margin_seconds: i64,
    /// `managed_identity_timeout_seconds`.
    pub managed_identity_timeout_seconds: u64,
}

/// `{ "url": …, "identity": … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Canonical URL prefix, lower-case, no trailing slash.
    pub url: String,
    /// Identity name (defined, or `auto`).
    pub identity: String,
}

/// A configuration mistake, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// JSON path such as `identities.ci.client_id`; empty for the whole file.
    pub path: String,
    /// What is wrong and, where it helps, what to write instead.
    pub problem: String,
}

// Its Display is its message; it has no deeper cause.
impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Paths and problems quote keys and values from the file: escaped,
        // so a key holding an escape sequence cannot rewrite the terminal.
        let file = escape_controls(&self.file.display().to_string());
        let problem = escape_controls(&self.problem);
        if self.path.is_empty() {
            write!(f, "config file {file}: {problem}")
        } else {
            let path = escape_controls(&self.path);
            write!(f, "config file {file}: {path}: {problem}")
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file: PathBuf::new(),
            exists: false,
            identities: BTreeMap::new(),
            routes: Vec::new(),
            hosts: Vec::new(),
            authority_host: None,
            cache: None,
            refresh_margin_seconds: DEFAULT_MARGIN,
            managed_identity_timeout_seconds: DEFAULT_MI_TIMEOUT,
        }
    }
}

impl Config {
    /// Loads `path`. A missing file is an empty config unless the user named
    /// the file explicitly (then it is an error: they expected it to be used).
    /// Only a small regular file that nobody else can change is read.
    pub fn load(path: &Path, explicit: bool, home: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match file::read(path) {
            Ok(Some(text)) => text,
            Ok(None) if !explicit => {
                return Ok(Config {
                    file: path.to_path_buf(),
                    ..Config::default()
                });
            }
            Ok(None) => {
                return Err(ConfigError {
                    file: path.to_path_buf(),
                    path: String::new(),
                    problem: "cannot read it: it does not exist. Fix: create it, or correct --config / GIT_CREDENTIAL_ENTRA_CONFIG".into(),
                });
            }
            Err(problem) => {
                return Err(ConfigError {
                    file: path.to_path_buf(),
                    path: String::new(),
                    problem,
                });
            }
        };
        Config::parse(&text, path, home)
    }

    /// Parses and validates the text of `file`.
    pub fn parse(text: &str, file: &Path, home: Option<&Path>) -> Result<Config, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            path: String::new(),
            problem: format!(
                "not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        })?;
        let cx = Cx { file, home };
        let mut top = cx.object(&value, "")?;
        top.allow(&[
            "identities",
            "routes",
            "hosts",
            "authority_host",
            "cache",
            "refresh_margin_seconds",
            "managed_identity_timeout_seconds",
        ])?;
        let mut config = Config {
            file: file.to_path_buf(),
            exists: true,
            ..Config::default()
        };
        config.authority_host = top.authority_host("authority_host")?;
        if let Some(mode) = top.string("cache")? {
            config.cache = Some(CacheMode::parse(&mode).ok_or_else(|| {
                top.err(
                    "cache",
                    "must be one of auto, keyring, keyutils, file, none",
                )
            })?);
        }
        if let Some(m) = top.uint("refresh_margin_seconds")? {
            config.refresh_margin_seconds = i64::try_from(m).unwrap_or(i64::MAX);
        }
        if let Some(t) = top.uint("managed_identity_timeout_seconds")? {
            config.managed_identity_timeout_seconds = t;
        }
        if let Some(ids) = top.get("identities") {
            let ids = cx.object(ids, "identities")?;
            for (name, value) in ids.map {
                let path = format!("identities.{name}");
                if !is_identity_name(name) {
                    return Err(cx.err(
                        &path,
                        "identity names may use letters, digits, '.', '_' and '-'",
                    ));
                }
                let kind = identity::parse(&cx, value, &path)?;
                if name == AUTO && !matches!(kind, IdentityKind::Auto(_)) {
                    return Err(cx.err(&path, "the name 'auto' is reserved for the type \"auto\""));
                }
                config.identities.insert(name.clone(), kind);
            }
        }
        if let Some(hosts) = top.get("hosts") {
            for (i, h) in cx.array(hosts, "hosts")?.iter().enumerate() {
                config.hosts.push(cx.host_entry(h, &format!("hosts[{i}]"))?);
            }
        }
        if let Some(routes) = top.get("routes") {
            for (i, r) in cx.array(routes, "routes")?.iter().enumerate() {
                let path = format!("routes[{i}]");
                let mut obj = cx.object(r, &path)?;
                obj.allow(&["url", "identity"])?;
                let url =
                    route_url(&obj.required_string("url")?).map_err(|p| obj.err("url", &p))?;
                let identity = obj.required_string("identity")?;
                if identity != AUTO && !config.identities.contains_key(&identity) {
                    let known: Vec<&str> = config.identities.keys().map(String::as_str).collect();
                    return Err(obj.err(
                        "identity",
                        &format!(
                            "names the identity '{identity}', which is not defined under \"identities\" (defined: {})",
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    ));
                }
                config.routes.push(Route { url, identity });
            }
        }
        Ok(config)
    }

    /// The file for messages: its path, and a note when it does not exist yet.
    pub fn describe_file(&self) -> String {
        if self.exists {
            self.file.display().to_string()
        } else {
            format!("{} (create it: see docs/guides.md)", self.file.display())
        }
    }

    /// The identity for `url`: the longest route that is a prefix of it on a
    /// `/` boundary, else `auto`.
    pub fn route(&self, url: &str) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| {
                url == r.url
                    || url
                        .strip_prefix(&r.url)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|r| r.url.len())
    }

    /// Whether some route is specific to an organization under `base`, so that
    /// routing cannot be decided without knowing the organization. `base` is
    /// matched up to a `/`: a route on `https://ado.example.community/org`
    /// says nothing about `https://ado.example.com`.
    pub fn has_org_routes(&self, base: &str) -> bool {
        self.routes.iter().any(|r| {
            r.url
                .strip_prefix(base)
                .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
        })
    }

    /// The environment variables the identities read secrets from
    /// (`client_secret_env`, `certificate_password_env`, a pipeline token's
    /// `variable`), so that programs started for a person never inherit them.
    pub fn secret_variables(&self) -> Vec<String> {
        let mut vars = Vec::new();
        for kind in self.identities.values() {
            match kind {
                IdentityKind::ServicePrincipal(ServicePrincipalConfig {
                    credential: Credential::Secret(SecretSource::Env(var)),
                    ..
                })
                | IdentityKind::ServicePrincipal(ServicePrincipalConfig {
                    credential:
                        Credential::Certificate(CertificateConfig {
                            password_env: Some(var),
                            ..
                        }),
                    ..
                })
                | IdentityKind::PipelineToken(PipelineTokenConfig { variable: var }) => {
                    vars.push(var.clone());
                }
                _ => {}
            }
        }
        vars
    }
}

fn is_identity_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests;
