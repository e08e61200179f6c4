//! Service principals: client credentials with a secret from an environment
//! variable, a private file or the OS keyring.

use std::path::Path;

use crate::azure_devops::RESOURCE;
use crate::cache::Fingerprint;
use crate::config::{SecretSource, check_client_id, check_tenant};
use crate::entra::ClientAuth;
use crate::env::Env;
use crate::error::{Error, SecretError};
use crate::secret::Secret;
use crate::secrets::Secrets;
use crate::token::{AccessToken, TokenResponse};

use super::{AcquireCx, EnvCredential, TokenSource, Workload};

/// An application that authenticates with a client secret.
#[derive(Debug, Clone)]
pub struct ServicePrincipal {
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Authority host, no trailing slash.
    pub authority: String,
    /// Where the secret is read from (never the secret itself).
    pub secret: SecretSource,
    /// `service-principal` or `environment`.
    pub origin: &'static str,
}

impl SecretSource {
    /// Whether this is a certificate (signing an assertion) rather than a secret.
    pub fn is_certificate(&self) -> bool {
        matches!(self, SecretSource::Certificate { .. })
    }

    /// Where the secret comes from, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("secret from ${var}"),
            SecretSource::File(p) => format!("secret from {}", p.display()),
            SecretSource::Keyring => "secret from the OS keyring".into(),
            SecretSource::Certificate { path, .. } => format!("certificate {}", path.display()),
        }
    }
}

impl ServicePrincipal {
    /// From a config entry.
    pub fn configured(
        c: &crate::config::ServicePrincipalConfig,
        authority: String,
    ) -> ServicePrincipal {
        ServicePrincipal {
            tenant: c.tenant.clone(),
            client_id: c.client_id.clone(),
            authority,
            secret: c.secret.clone(),
            origin: "service-principal",
        }
    }

    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and `AZURE_CLIENT_SECRET` or
    /// `AZURE_FEDERATED_TOKEN_FILE` (a workload identity), as Azure's SDKs read them.
    /// The ids are checked as the config's are: the tenant becomes part of
    /// the token endpoint's path, where `../` or `?` would change the request.
    pub fn from_environment(env: &Env, authority: String) -> Result<EnvCredential, Error> {
        let tenant = env.get("AZURE_TENANT_ID");
        let client = env.get("AZURE_CLIENT_ID");
        if let (Some(tenant), Some(client)) = (tenant, client) {
            let tenant = check_tenant(tenant).map_err(|p| Error::Environment {
                var: "AZURE_TENANT_ID",
                problem: format!("is not usable: {p}. Fix: set it to the directory (tenant) id of your app registration"),
            })?;
            let client_id = check_client_id(client).map_err(|p| Error::Environment {
                var: "AZURE_CLIENT_ID",
                problem: format!("is not usable: {p}. Fix: set it to the application (client) id of your app registration"),
            })?;
            if env.get("AZURE_CLIENT_SECRET").is_some() {
                return Ok(EnvCredential::Secret(ServicePrincipal {
                    tenant,
                    client_id,
                    authority,
                    secret: SecretSource::Env("AZURE_CLIENT_SECRET".into()),
                    origin: "environment",
                }));
            }
            if env.get("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
                return Ok(EnvCredential::Unsupported(
                    "environment with AZURE_CLIENT_CERTIFICATE_PATH",
                ));
            }
            if let Some(file) = env.get("AZURE_FEDERATED_TOKEN_FILE") {
                let file = std::path::PathBuf::from(file);
                // git runs helpers inside the repository: a relative path
                // would read a token file the repository ships.
                if !file.is_absolute() {
                    return Err(Error::Environment {
                        var: "AZURE_FEDERATED_TOKEN_FILE",
                        problem: "must be an absolute path (a relative one would be read inside the repository git runs this helper in). Fix: set it to the token file's absolute path, as AKS does".into(),
                    });
                }
                return Ok(EnvCredential::Federated(Workload::from_environment(
                    tenant, client_id, file, authority,
                )));
            }
        }
        let mut missing: Vec<&str> = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"]
            .into_iter()
            .filter(|v| env.get(v).is_none())
            .collect();
        let credential = [
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_FEDERATED_TOKEN_FILE",
        ];
        if credential.iter().all(|v| env.get(v).is_none()) {
            missing.push("AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE)");
        }
        Ok(EnvCredential::Missing(missing.join(", ")))
    }

    /// The keyring account holding this principal's secret.
    pub fn keyring_account(&self) -> String {
        format!("secret:{}", self.fingerprint())
    }

    /// Reads the secret, with an actionable error naming its source.
    fn secret(&self, name: &str, env: &Env, secrets: &Secrets) -> Result<Secret<String>, Error> {
        let fail = |cause: SecretError| Error::Secret {
            identity: name.to_string(),
            cause,
        };
        match &self.secret {
            SecretSource::Env(var) => env
                .get(var)
                .map(|v| Secret::new(v.to_string()))
                .ok_or_else(|| fail(SecretError::EnvUnset { var: var.clone() })),
            SecretSource::File(path) => read_secret_file(path).map_err(|problem| {
                fail(SecretError::File {
                    path: path.clone(),
                    problem,
                })
            }),
            SecretSource::Keyring => {
                let found = secrets
                    .keyring()
                    .map_err(|e| fail(SecretError::NoKeyring(e)))?
                    .get(&self.keyring_account())
                    .map_err(|e| fail(SecretError::Keyring(e)))?;
                found.ok_or_else(|| {
                    fail(SecretError::NotStored {
                        identity: name.to_string(),
                    })
                })
            }
            SecretSource::Certificate { .. } => Err(Error::NotAvailable {
                identity: name.to_string(),
                kind: "service-principal with a certificate",
            }),
        }
    }
}

impl TokenSource for ServicePrincipal {
    fn kind(&self) -> &'static str {
        self.origin
    }

    fn describe(&self) -> String {
        format!(
            "{}, tenant {}, client {}, {}",
            self.origin,
            self.tenant,
            self.client_id,
            self.secret.describe()
        )
    }

    /// The cache key of this application's tokens (shared by every config
    /// name for the same principal).
    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(
            "app",
            &self.authority,
            &self.tenant,
            &self.client_id,
            RESOURCE,
        )
    }

    /// Client-credentials request to `{authority}/{tenant}/oauth2/v2.0/token`.
    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        let name = cx.identity;
        let auth = ClientAuth::Secret(self.secret(name, cx.env, cx.secrets)?);
        let http = cx
            .http
            .entra(&self.authority)
            .map_err(|cause| Error::Http {
                identity: name.to_string(),
                cause,
            })?;
        crate::entra::client_credentials(
            &http,
            &self.authority,
            &self.tenant,
            &self.client_id,
            &cx.scope(),
            &auth,
            cx.trace,
        )
        .map(TokenResponse::into_access_token)
        .map_err(|source| Error::Entra {
            identity: name.to_string(),
            step: "client credentials",
            source: Box::new(source),
        })
    }
}

/// Reads `client_secret_file`: refused when group or others may read it
/// (like ssh keys), one trailing newline trimmed.
fn read_secret_file(path: &Path) -> Result<Secret<String>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "cannot read {shown} (client_secret_file): {e}. Fix: check the path in the config file"
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{shown} (client_secret_file) is readable or writable by others (mode {mode:03o}). Fix: chmod 600 {shown}"
            ));
        }
    }
    if !meta.is_file() || meta.len() > 64 * 1024 {
        return Err(format!(
            "{shown} (client_secret_file) is not a small regular file"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {shown} (client_secret_file): {e}"))?;
    let secret = Secret::from_text(text);
    if secret.expose().is_empty() {
        return Err(format!(
            "{shown} (client_secret_file) is empty. Fix: write the client secret's value into it"
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::env::Env;
    use crate::error::Error;
    use crate::identity::{ImdsProbe, resolve};
    use crate::trace::Trace;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";

    /// The resolved identity as shown to users (tenant and client id included).
    fn resolve_env(pairs: &[(&str, &str)]) -> Result<String, Error> {
        let mut all = vec![("AZURE_CLIENT_SECRET", "a-secret-value")];
        all.extend_from_slice(pairs);
        let env = Env::from_pairs(all);
        let config = Config::parse(
            r#"{"identities":{"env":{"type":"environment"}}}"#,
            std::path::Path::new("/cfg/config.json"),
            None,
        )
        .expect("valid config");
        let result = resolve("env", &config, &env, &ImdsProbe::offline(&Trace::off()));
        // `auto` reads the same variables and must refuse the same values.
        assert_eq!(
            resolve("auto", &config, &env, &ImdsProbe::offline(&Trace::off()))
                .err()
                .map(|e| e.to_string()),
            result.as_ref().err().map(ToString::to_string)
        );
        result.map(|r| r.to_string())
    }

    fn refused_var(pairs: &[(&str, &str)]) -> &'static str {
        match resolve_env(pairs) {
            Err(Error::Environment { var, .. }) => var,
            other => panic!("{pairs:?} must be refused, got {other:?}"),
        }
    }

    #[test]
    fn azure_variables_are_validated_like_the_config() {
        let shown = resolve_env(&[
            ("AZURE_TENANT_ID", "Contoso.onmicrosoft.com"),
            ("AZURE_CLIENT_ID", &CLIENT.to_ascii_uppercase()),
        ])
        .expect("valid");
        assert!(
            shown.contains(&format!("tenant contoso.onmicrosoft.com, client {CLIENT},")),
            "{shown}"
        );
        for tenant in [
            "contoso/../../evil",
            "x?y=1",
            "x#y",
            "evil.example/",
            "a b",
            "..",
        ] {
            let var = refused_var(&[("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", CLIENT)]);
            assert_eq!(var, "AZURE_TENANT_ID", "{tenant}");
        }
        for client in ["my-app", "00001111-aaaa-2222-bbbb-3333cccc444", "../x"] {
            let var = refused_var(&[("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_ID", client)]);
            assert_eq!(var, "AZURE_CLIENT_ID", "{client}");
        }
        let var = refused_var(&[
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            (
                "AZURE_AUTHORITY_HOST",
                "https://login.microsoftonline.com@evil.example",
            ),
        ]);
        assert_eq!(var, "AZURE_AUTHORITY_HOST");
    }
}
