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

use serde_json::{Map, Value};

use crate::azure_devops::{HostEntry, is_loopback_host};
use crate::cache::CacheMode;

mod identity;
pub use identity::{IdentityKind, SecretSource, ServicePrincipalConfig};

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

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "config file {}: {}", self.file.display(), self.problem)
        } else {
            write!(
                f,
                "config file {}: {}: {}",
                self.file.display(),
                self.path,
                self.problem
            )
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
    pub fn load(path: &Path, explicit: bool, home: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config {
                    file: path.to_path_buf(),
                    ..Config::default()
                });
            }
            Err(e) => {
                return Err(ConfigError {
                    file: path.to_path_buf(),
                    path: String::new(),
                    problem: format!("cannot read it: {e}"),
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
                if name == AUTO && !matches!(kind, IdentityKind::Auto { .. }) {
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
                let url = canonical_route(&obj.required_string("url")?)
                    .map_err(|p| obj.err("url", &p))?;
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
            format!("{} (create it; see the README)", self.file.display())
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
    /// routing cannot be decided without knowing the organization.
    pub fn has_org_routes(&self, base: &str) -> bool {
        self.routes
            .iter()
            .any(|r| r.url.starts_with(base) && r.url.len() > base.len())
    }
}

fn is_identity_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Canonical route URL: lower-case, no trailing slash, and
/// `https://{org}.visualstudio.com/…` rewritten to `https://dev.azure.com/{org}/…`.
fn canonical_route(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    if host.is_empty()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err("expected a URL like https://dev.azure.com/contoso".into());
    }
    let scheme = url.scheme();
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    if scheme != "https" && !(scheme == "http" && is_loopback_host(&authority)) {
        return Err("must be an https:// URL (http:// only for a loopback test server)".into());
    }
    let path = url.path().trim_matches('/').to_ascii_lowercase();
    let (base, path) = match host.strip_suffix(".visualstudio.com") {
        Some(org) if scheme == "https" && !org.contains('.') => {
            let rest = path
                .strip_prefix("defaultcollection")
                .unwrap_or(&path)
                .trim_matches('/');
            ("https://dev.azure.com".to_string(), format!("{org}/{rest}"))
        }
        _ => (format!("{scheme}://{authority}"), path),
    };
    let path = path.trim_matches('/');
    Ok(if path.is_empty() {
        base
    } else {
        format!("{base}/{path}")
    })
}

/// Validation context: the file (for errors) and HOME (for `~/` paths).
pub(crate) struct Cx<'a> {
    file: &'a Path,
    home: Option<&'a Path>,
}

/// An object being validated, with its JSON path.
pub(crate) struct Obj<'a, 'c> {
    cx: &'c Cx<'a>,
    map: &'c Map<String, Value>,
    path: String,
}

impl<'a> Cx<'a> {
    fn err(&self, path: &str, problem: &str) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            path: path.to_string(),
            problem: problem.to_string(),
        }
    }

    fn object<'c>(&'c self, v: &'c Value, path: &str) -> Result<Obj<'a, 'c>, ConfigError> {
        match v {
            Value::Object(map) => Ok(Obj {
                cx: self,
                map,
                path: path.to_string(),
            }),
            _ => Err(self.err(path, "expected a JSON object { … }")),
        }
    }

    fn array<'c>(&self, v: &'c Value, path: &str) -> Result<&'c Vec<Value>, ConfigError> {
        v.as_array()
            .ok_or_else(|| self.err(path, "expected a JSON array [ … ]"))
    }

    fn host_entry(&self, v: &Value, path: &str) -> Result<HostEntry, ConfigError> {
        let bad = |why: &str| {
            self.err(path, &format!("{why}; expected a base URL such as \"https://ado.example.com\" or \"http://127.0.0.1:8080\""))
        };
        let raw = v.as_str().ok_or_else(|| bad("not a string"))?;
        let url = url::Url::parse(raw).map_err(|_| bad("not a URL"))?;
        let host = url
            .host_str()
            .ok_or_else(|| bad("no host"))?
            .to_ascii_lowercase();
        if !url.path().trim_matches('/').is_empty()
            || url.query().is_some()
            || !url.username().is_empty()
        {
            return Err(bad("a host entry has no path"));
        }
        let host = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => {
                return Err(bad(
                    "plain http is only accepted for a loopback host (127.0.0.0/8, ::1, localhost)",
                ));
            }
            _ => return Err(bad("the scheme must be https")),
        }
        Ok(HostEntry {
            scheme: url.scheme().to_string(),
            host,
        })
    }

    /// Resolves `~/` and paths relative to the config file's folder.
    pub(crate) fn file_path(&self, raw: &str) -> PathBuf {
        if let (Some(rest), Some(home)) = (raw.strip_prefix("~/"), self.home) {
            return home.join(rest);
        }
        let p = Path::new(raw);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new(".")).join(p)
        }
    }
}

impl<'a, 'c> Obj<'a, 'c> {
    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn err(&self, key: &str, problem: &str) -> ConfigError {
        self.cx.err(&self.key_path(key), problem)
    }

    /// Rejects keys outside `allowed` (typos must not be silently ignored).
    pub(crate) fn allow(&mut self, allowed: &[&str]) -> Result<(), ConfigError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.err(
                k,
                &format!("unknown key here (allowed: {})", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'c Value> {
        self.map.get(key)
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(self.err(key, "expected a non-empty string")),
        }
    }

    pub(crate) fn required_string(&self, key: &str) -> Result<String, ConfigError> {
        self.string(key)?
            .ok_or_else(|| self.err(key, "is required"))
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "expected true or false")),
        }
    }

    pub(crate) fn uint(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.err(key, "expected a whole number of seconds (0 or more)")),
        }
    }

    pub(crate) fn guid(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        if is_guid(&s) {
            Ok(Some(s.to_ascii_lowercase()))
        } else {
            Err(self.err(key, "expected a GUID such as 00001111-aaaa-2222-bbbb-3333cccc4444 (the application/client id, not its name or the secret id)"))
        }
    }

    pub(crate) fn required_guid(&self, key: &str) -> Result<String, ConfigError> {
        self.guid(key)?.ok_or_else(|| self.err(key, "is required"))
    }

    pub(crate) fn tenant(&self, key: &str, required: bool) -> Result<Option<String>, ConfigError> {
        let t = self.string(key)?;
        match &t {
            None if required => Err(self.err(
                key,
                "is required (the directory/tenant id or a domain such as contoso.onmicrosoft.com)",
            )),
            Some(t)
                if !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.')) =>
            {
                Err(self.err(key, "expected a tenant id (GUID) or domain name"))
            }
            _ => Ok(t.map(|t| t.to_ascii_lowercase())),
        }
    }

    pub(crate) fn authority_host(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.string(key)? else {
            return Ok(None);
        };
        check_authority_host(&raw)
            .map(Some)
            .map_err(|p| self.err(key, &p))
    }

    pub(crate) fn path_value(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self.string(key)?.map(|s| self.cx.file_path(&s)))
    }
}

/// Validates an authority host (`https://`, or `http://` on loopback) and
/// returns it without a trailing slash.
pub fn check_authority_host(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw)
        .map_err(|e| format!("not a URL ({e}); expected e.g. https://login.microsoftonline.com"))?;
    let host = url.host_str().unwrap_or("");
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let ok = match url.scheme() {
        "https" => !host.is_empty(),
        "http" => is_loopback_host(&authority),
        _ => false,
    };
    if !ok {
        return Err("must be an https:// URL (http:// only on a loopback address)".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(raw.trim_end_matches('/').to_string())
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
