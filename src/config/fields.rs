//! Field-level validation for the config file: typed getters that know
//! their JSON path, so every error names the file and the exact key.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ConfigError;
use super::nearest::nearest;
use crate::azure_devops::HostEntry;
use crate::entra::{check_client_id, check_tenant};
use crate::net;

/// Validation context: the file (for errors) and HOME (for `~/` paths).
pub(crate) struct Cx<'a> {
    pub(super) file: &'a Path,
    pub(super) home: Option<&'a Path>,
}

/// An object being validated, with its JSON path.
pub(crate) struct Obj<'a, 'c> {
    pub(super) cx: &'c Cx<'a>,
    pub(super) map: &'c Map<String, Value>,
    pub(super) path: String,
}

impl<'a> Cx<'a> {
    pub(super) fn err(&self, path: &str, problem: &str) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            path: path.to_string(),
            problem: problem.to_string(),
        }
    }

    pub(super) fn object<'c>(
        &'c self,
        v: &'c Value,
        path: &str,
    ) -> Result<Obj<'a, 'c>, ConfigError> {
        match v {
            Value::Object(map) => Ok(Obj {
                cx: self,
                map,
                path: path.to_string(),
            }),
            _ => Err(self.err(path, "expected a JSON object { … }")),
        }
    }

    pub(super) fn array<'c>(
        &self,
        v: &'c Value,
        path: &str,
    ) -> Result<&'c Vec<Value>, ConfigError> {
        v.as_array()
            .ok_or_else(|| self.err(path, "expected a JSON array [ … ]"))
    }

    pub(super) fn host_entry(&self, v: &Value, path: &str) -> Result<HostEntry, ConfigError> {
        let raw = v.as_str().ok_or_else(|| {
            self.err(
                path,
                "not a string; expected a base URL such as \"https://ado.example.com\" or \"http://127.0.0.1:8080\"",
            )
        })?;
        parse_host_entry(raw).map_err(|why| self.err(path, &why))
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
    pub(super) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn err(&self, key: &str, problem: &str) -> ConfigError {
        self.cx.err(&self.key_path(key), problem)
    }

    /// Rejects keys outside `allowed` (typos must not be silently ignored),
    /// naming the key a typo most likely meant.
    pub(crate) fn allow(&mut self, allowed: &[&str]) -> Result<(), ConfigError> {
        let Some(k) = self.map.keys().find(|k| !allowed.contains(&k.as_str())) else {
            return Ok(());
        };
        let allowed_here = format!("allowed here: {}", allowed.join(", "));
        let problem = match nearest(k, allowed) {
            Some(meant) => format!(
                "unknown key here; did you mean \"{meant}\"? Fix: rename it to \"{meant}\" ({allowed_here})"
            ),
            None => format!("unknown key here. Fix: remove or correct it ({allowed_here})"),
        };
        Err(self.err(k, &problem))
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
        check_client_id(&s).map(Some).map_err(|p| self.err(key, p))
    }

    pub(crate) fn required_guid(&self, key: &str) -> Result<String, ConfigError> {
        self.guid(key)?.ok_or_else(|| self.err(key, "is required"))
    }

    /// An optional tenant id or domain, lower-cased.
    pub(crate) fn tenant(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.string(key)?
            .map(|t| check_tenant(&t).map_err(|p| self.err(key, p)))
            .transpose()
    }

    /// A tenant id or domain that must be there.
    pub(crate) fn required_tenant(&self, key: &str) -> Result<String, ConfigError> {
        self.tenant(key)?.ok_or_else(|| {
            self.err(
                key,
                "is required (the directory/tenant id or a domain such as contoso.onmicrosoft.com)",
            )
        })
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

/// Validates an authority host (`https://`, or `http://` on loopback, with
/// no user info) and returns it without a trailing slash.
pub fn check_authority_host(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw)
        .map_err(|e| format!("not a URL ({e}); expected e.g. https://login.microsoftonline.com"))?;
    let host = url.host_str().unwrap_or("");
    if !net::https_or_loopback(&url) {
        return Err("must be an https:// URL (http:// only on a loopback address)".into());
    }
    // `https://login.microsoftonline.com@evil.example` reads like Microsoft's
    // host but sends the secret to evil.example.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "must not contain a user name or password before '@' (the host here is {host}); expected e.g. https://login.microsoftonline.com"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// A `hosts` entry (also `configure --host`): `scheme://host[:port]`, https,
/// or http on a loopback host.
pub fn parse_host_entry(raw: &str) -> Result<HostEntry, String> {
    let bad = |why: &str| {
        format!(
            "{why}; expected a base URL such as \"https://ado.example.com\" or \"http://127.0.0.1:8080\""
        )
    };
    let url = url::Url::parse(raw).map_err(|_| bad("not a URL"))?;
    if url.host_str().is_none() {
        return Err(bad("no host"));
    }
    if !url.path().trim_matches('/').is_empty()
        || url.query().is_some()
        || !url.username().is_empty()
    {
        return Err(bad("a host entry has no path"));
    }
    if !net::https_or_loopback(&url) {
        return Err(bad(if url.scheme() == "http" {
            "plain http is only accepted for a loopback host (127.0.0.0/8, ::1, localhost)"
        } else {
            "the scheme must be https"
        }));
    }
    Ok(HostEntry {
        scheme: url.scheme().to_string(),
        host: net::authority(&url),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_hosts_with_userinfo_are_refused() {
        for raw in [
            "https://login.microsoftonline.com@evil.example",
            "https://login.microsoftonline.com:443@evil.example/",
            "https://user:pass@login.microsoftonline.com",
            "http://login.microsoftonline.com@127.0.0.1:8080",
        ] {
            let problem = check_authority_host(raw).expect_err(raw);
            assert!(problem.contains("user name"), "{raw}: {problem}");
        }
        assert_eq!(
            check_authority_host("https://login.microsoftonline.com/"),
            Ok("https://login.microsoftonline.com".to_string())
        );
        assert!(check_authority_host("http://127.0.0.1:8080").is_ok());
    }
}
