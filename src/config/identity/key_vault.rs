//! A service principal's certificate kept in Azure Key Vault: the secret URL
//! in `certificate`, and the managed identity that reads it
//! (`key_vault_identity`). The way Azure DevOps documents for a managed
//! identity to reach an organization in another tenant.
//!
//! Only Key Vault's own hosts are accepted (a token for the vault goes
//! wherever this URL points), and loopback for tests.

use super::managed_identity::{self, MiSelector};
use crate::config::ConfigError;
use crate::config::fields::Obj;
use crate::net;

/// The resource a managed identity asks a token for, per vault host suffix
/// (Azure's SDKs' cloud settings: public, China, US Government).
const CLOUDS: [(&str, &str); 3] = [
    (".vault.azure.net", "https://vault.azure.net"),
    (".vault.azure.cn", "https://vault.azure.cn"),
    (
        ".vault.usgovcloudapi.net",
        "https://vault.usgovcloudapi.net",
    ),
];

/// A Key Vault secret holding a certificate (PFX or PEM) and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVaultSecret {
    /// `https://{vault}.vault.azure.net/secrets/{name}[/{version}]`, normalised.
    pub url: String,
    /// The vault's name (`host:port` for a loopback test vault).
    pub vault: String,
    /// The secret's name.
    pub name: String,
    /// Its version; `None`: the latest.
    pub version: Option<String>,
    /// The resource of the token Key Vault takes (`https://vault.azure.net`).
    pub resource: &'static str,
    /// The managed identity that reads it.
    pub reader: MiSelector,
}

impl KeyVaultSecret {
    /// `secret 'app-cert' (latest) in Key Vault 'contoso-kv'`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "secret '{}' ({}) in Key Vault '{}'",
            self.name,
            self.version.as_deref().unwrap_or("latest"),
            self.vault
        )
    }
}

/// Whether a `certificate` value is meant as a URL rather than a path.
pub(super) fn is_url(raw: &str) -> bool {
    raw.contains("://")
}

/// The `certificate` URL `raw` and `key_vault_identity`, checked.
pub(super) fn parse(o: &Obj, raw: &str) -> Result<KeyVaultSecret, ConfigError> {
    let (vault, name, version, resource) =
        check_url(raw).map_err(|problem| o.err("certificate", &problem))?;
    let reader = match o.get("key_vault_identity") {
        None => MiSelector::System,
        Some(v) => {
            let mut inner = o.cx.object(v, &o.key_path("key_vault_identity"))?;
            inner.allow(&["client_id", "object_id", "resource_id"])?;
            match managed_identity::selector(&inner)? {
                MiSelector::System => {
                    return Err(o.err(
                        "key_vault_identity",
                        "names no identity. Fix: give one of client_id, object_id or resource_id of a user-assigned managed identity, or remove key_vault_identity to read the vault as the system-assigned identity",
                    ));
                }
                user => user,
            }
        }
    };
    let url = match &version {
        Some(v) => format!("{}/secrets/{name}/{v}", base(raw)),
        None => format!("{}/secrets/{name}", base(raw)),
    };
    Ok(KeyVaultSecret {
        url,
        vault,
        name,
        version,
        resource,
        reader,
    })
}

/// `scheme://host[:port]` of a URL `check_url` accepted.
fn base(raw: &str) -> String {
    let url = url::Url::parse(raw).expect("checked");
    format!("{}://{}", url.scheme(), net::authority(&url))
}

const EXPECTED: &str = "expected a Key Vault secret URL such as https://VAULT.vault.azure.net/secrets/NAME (or …/secrets/NAME/VERSION), as the vault shows it under Secrets, or a path to a certificate file";

/// The vault, secret name, version and token resource of a Key Vault
/// secret URL; the problem otherwise.
pub fn check_url(raw: &str) -> Result<(String, String, Option<String>, &'static str), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("is not a URL ({e}); {EXPECTED}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "must not contain a user name or password before '@'; {EXPECTED}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("must not have a query or fragment; {EXPECTED}"));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let authority = net::authority(&url);
    let (vault, resource) = if net::is_loopback_host(&authority) && net::https_or_loopback(&url) {
        // A local stand-in (tests): tokens for the public cloud's vaults.
        (authority, CLOUDS[0].1)
    } else {
        let cloud = CLOUDS
            .iter()
            .find_map(|(suffix, resource)| Some((host.strip_suffix(suffix)?, *resource)));
        let Some((vault, resource)) = cloud.filter(|_| url.scheme() == "https") else {
            return Err(format!(
                "{} is not a Key Vault (the managed identity's token for the vault would be sent there). Fix: use the secret's URL on its vault, https://VAULT.vault.azure.net/secrets/NAME (China: .vault.azure.cn, US Government: .vault.usgovcloudapi.net), or a path to a certificate file",
                crate::sys::text::sanitize(&format!("{}://{authority}", url.scheme()))
            ));
        };
        if url.port().is_some() {
            return Err(format!("must not name a port; {EXPECTED}"));
        }
        check_vault_name(vault)?;
        (vault.to_string(), resource)
    };
    let segments: Vec<&str> = url
        .path()
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .collect();
    let (name, version) = match segments.as_slice() {
        ["secrets", name] => (*name, None),
        ["secrets", name, version] => (*name, Some(*version)),
        ["certificates", ..] => {
            return Err(format!(
                "names the certificate object, whose answer holds no private key. Fix: use the secret of the same name instead (…/secrets/NAME), which holds the certificate with its key; {EXPECTED}"
            ));
        }
        _ => return Err(format!("does not name a secret; {EXPECTED}")),
    };
    if name.is_empty()
        || name.len() > 127
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "the secret name '{}' is not a Key Vault secret name (1 to 127 letters, digits and hyphens); {EXPECTED}",
            crate::sys::text::sanitize(name)
        ));
    }
    if let Some(v) = version
        && (v.len() != 32 || !v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(format!(
            "the version '{}' is not a Key Vault secret version (32 hexadecimal digits); leave it out to read the latest; {EXPECTED}",
            crate::sys::text::sanitize(v)
        ));
    }
    Ok((
        vault,
        name.to_string(),
        version.map(str::to_ascii_lowercase),
        resource,
    ))
}

/// Key Vault's naming rules: 3 to 24 letters, digits and hyphens, starting
/// with a letter, ending with a letter or digit, no two hyphens in a row.
fn check_vault_name(vault: &str) -> Result<(), String> {
    let ok = (3..=24).contains(&vault.len())
        && vault
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && vault.starts_with(|c: char| c.is_ascii_alphabetic())
        && vault.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !vault.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a Key Vault name (3 to 24 letters, digits and hyphens, starting with a letter, ending with a letter or digit); {EXPECTED}",
            crate::sys::text::sanitize(vault)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "0123456789abcdef0123456789ABCDEF";

    #[test]
    fn public_sovereign_and_loopback_vaults_are_accepted() {
        let ok = |raw: &str| check_url(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(
            ok("https://contoso-kv.vault.azure.net/secrets/app-cert"),
            (
                "contoso-kv".into(),
                "app-cert".into(),
                None,
                "https://vault.azure.net"
            )
        );
        assert_eq!(
            ok(&format!(
                "https://Contoso-KV.vault.azure.net/secrets/app/{V}/"
            )),
            (
                "contoso-kv".into(),
                "app".into(),
                Some(V.to_ascii_lowercase()),
                "https://vault.azure.net"
            )
        );
        assert_eq!(
            ok("https://kv1.vault.azure.cn/secrets/c").3,
            "https://vault.azure.cn"
        );
        assert_eq!(
            ok("https://kv1.vault.usgovcloudapi.net/secrets/c").3,
            "https://vault.usgovcloudapi.net"
        );
        let local = ok("http://127.0.0.1:8200/secrets/c");
        assert_eq!(
            (local.0.as_str(), local.3),
            ("127.0.0.1:8200", "https://vault.azure.net")
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for (raw, why) in [
            ("https://evil.example/secrets/c", "is not a Key Vault"),
            ("http://kv1.vault.azure.net/secrets/c", "is not a Key Vault"),
            (
                "https://kv1.vault.azure.net.evil.example/secrets/c",
                "is not a Key Vault",
            ),
            ("https://vault.azure.net/secrets/c", "is not a Key Vault"),
            ("http://10.0.0.1:80/secrets/c", "is not a Key Vault"),
            ("ftp://kv1.vault.azure.net/secrets/c", "is not a Key Vault"),
            ("https://kv1.vault.azure.net:8443/secrets/c", "port"),
            ("https://u:p@kv1.vault.azure.net/secrets/c", "user name"),
            (
                "https://kv1.vault.azure.net/secrets/c?api-version=7.4",
                "query",
            ),
            (
                "https://kv1.vault.azure.net/keys/c",
                "does not name a secret",
            ),
            (
                "https://kv1.vault.azure.net/secrets",
                "does not name a secret",
            ),
            (
                "https://kv1.vault.azure.net/secrets/a/b/c",
                "does not name a secret",
            ),
            ("https://kv1.vault.azure.net/certificates/c", "secrets/NAME"),
            (
                "https://kv1.vault.azure.net/secrets/app_cert",
                "secret name",
            ),
            (
                &format!("https://kv1.vault.azure.net/secrets/{}", "a".repeat(128)),
                "secret name",
            ),
            ("https://kv1.vault.azure.net/secrets/c/latest", "version"),
            ("https://kv1.vault.azure.net/secrets/c/0123", "version"),
            ("https://kv.vault.azure.net/secrets/c", "Key Vault name"),
            ("https://1kv.vault.azure.net/secrets/c", "Key Vault name"),
            ("https://kv-.vault.azure.net/secrets/c", "Key Vault name"),
            ("https://k--v.vault.azure.net/secrets/c", "Key Vault name"),
            (
                &format!("https://{}.vault.azure.net/secrets/c", "k".repeat(25)),
                "Key Vault name",
            ),
        ] {
            let problem = check_url(raw).expect_err(raw);
            assert!(problem.contains(why), "{raw}: {problem}");
        }
    }

    #[test]
    fn is_url_tells_urls_from_paths() {
        assert!(is_url("https://kv1.vault.azure.net/secrets/c"));
        assert!(!is_url("/etc/app.pfx"));
        assert!(!is_url(r"C:\certs\app.pfx"));
        assert!(!is_url("certs/app.pem"));
    }
}
