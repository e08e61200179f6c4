//! What the `AZURE_*` variables describe, read as Azure's SDKs read them:
//! `AZURE_TENANT_ID` and `AZURE_CLIENT_ID` with, in this order,
//! `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PATH` (+
//! `AZURE_CLIENT_CERTIFICATE_PASSWORD`, `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`)
//! — the environment credential — or `AZURE_FEDERATED_TOKEN_FILE` (a
//! workload identity, as AKS sets it).
//!
//! A credential's values (and the authority host) are checked only when all
//! its variables are set, that is when it would be used: `auto` must not
//! fail on a variable that the link it picks does not read.

use std::path::PathBuf;

use crate::config::{
    AssertionAlg, CertSource, CertificateConfig, SecretSource, check_client_id, check_tenant,
};
use crate::identity::Error;
use crate::sys::env::Env;

use super::Kind;
use super::confidential::{AssertionFrom, ConfidentialClient, Proof};
use super::federation::AssertionSource;

/// The authority host, asked for only when a credential is built.
pub type Authority<'a> = &'a dyn Fn() -> Result<String, Error>;

/// What the `AZURE_*` variables describe.
pub enum EnvCredential {
    /// Tenant, client id and a secret, a certificate, or a federated token
    /// file (AKS workload identity).
    Found(ConfidentialClient),
    /// Which variables are missing.
    Missing(String),
}

/// For the `environment` identity: the environment credential, else the
/// workload identity, else which variables are missing.
pub fn credential(env: &Env, authority: Authority) -> Result<EnvCredential, Error> {
    if let Some(found) = secret(env, authority)? {
        return Ok(EnvCredential::Found(found));
    }
    if let Some(found) = federated(env, authority)? {
        return Ok(EnvCredential::Found(found));
    }
    Ok(EnvCredential::Missing(missing(env)))
}

/// The environment credential (a secret, else a certificate); `None` when
/// its variables are not all set.
pub fn secret(env: &Env, authority: Authority) -> Result<Option<ConfidentialClient>, Error> {
    let Some((tenant, client_id)) = ids_with(
        env,
        &["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"],
    )?
    else {
        return Ok(None);
    };
    let proof = match env.get("AZURE_CLIENT_CERTIFICATE_PATH") {
        Some(path) if env.get("AZURE_CLIENT_SECRET").is_none() => certificate(
            absolute(
                path,
                "AZURE_CLIENT_CERTIFICATE_PATH",
                "the PEM or PFX file's absolute path",
            )?,
            env,
        ),
        _ => Proof::Secret(SecretSource::Env("AZURE_CLIENT_SECRET".into())),
    };
    Ok(Some(ConfidentialClient {
        kind: Kind::Environment,
        tenant,
        client_id,
        authority: authority()?,
        proof,
    }))
}

/// The workload identity of `AZURE_FEDERATED_TOKEN_FILE`; `None` when its
/// variables are not all set.
pub fn federated(env: &Env, authority: Authority) -> Result<Option<ConfidentialClient>, Error> {
    let Some((tenant, client_id)) = ids_with(env, &["AZURE_FEDERATED_TOKEN_FILE"])? else {
        return Ok(None);
    };
    let file = env.get("AZURE_FEDERATED_TOKEN_FILE").unwrap_or_default();
    let file = absolute(
        file,
        "AZURE_FEDERATED_TOKEN_FILE",
        "the token file's absolute path, as AKS does",
    )?;
    Ok(Some(ConfidentialClient {
        kind: Kind::Environment,
        tenant,
        client_id,
        authority: authority()?,
        proof: Proof::Federated(AssertionFrom::Platform(AssertionSource::File(file))),
    }))
}

/// Azure's SDKs: the password is optional, and the chain is sent when the
/// variable is `1` or `true`.
fn certificate(path: PathBuf, env: &Env) -> Proof {
    let password = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
    Proof::certificate(CertificateConfig {
        source: CertSource::File(path),
        private_key: None,
        password_env: env.get(password).map(|_| password.to_string()),
        password_keyring: false,
        send_chain: env
            .get("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
        algorithm: AssertionAlg::Ps256,
    })
}

/// git runs helpers inside the repository: a relative path would read a
/// file the repository ships.
fn absolute(path: &str, var: &'static str, what: &str) -> Result<PathBuf, Error> {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        return Ok(path);
    }
    Err(Error::Environment {
        var,
        problem: format!(
            "must be an absolute path (a relative one would be read inside the repository git runs this helper in). Fix: set it to {what}"
        ),
    })
}

/// The checked tenant and client id when they and one of `credential` are
/// set. The ids are checked as the config's are: the tenant becomes part of
/// the token endpoint's path, where `../` or `?` would change the request.
fn ids_with(env: &Env, credential: &[&str]) -> Result<Option<(String, String)>, Error> {
    let (Some(tenant), Some(client)) = (env.get("AZURE_TENANT_ID"), env.get("AZURE_CLIENT_ID"))
    else {
        return Ok(None);
    };
    if credential.iter().all(|v| env.get(v).is_none()) {
        return Ok(None);
    }
    let tenant = check_tenant(tenant).map_err(|p| Error::Environment {
        var: "AZURE_TENANT_ID",
        problem: format!(
            "is not usable: {p}. Fix: set it to the directory (tenant) id of your app registration"
        ),
    })?;
    let client_id = check_client_id(client).map_err(|p| Error::Environment {
        var: "AZURE_CLIENT_ID",
        problem: format!("is not usable: {p}. Fix: set it to the application (client) id of your app registration"),
    })?;
    Ok(Some((tenant, client_id)))
}

/// Which variables are missing for any credential, for messages.
fn missing(env: &Env) -> String {
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
        missing.push(
            "AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_FEDERATED_TOKEN_FILE)",
        );
    }
    missing.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";

    /// The environment credential's authority with `AZURE_AUTHORITY_HOST`
    /// set to `host` (no request is made).
    fn authority_of(host: &str) -> Result<String, Error> {
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_AUTHORITY_HOST", host),
        ]);
        let config = Config::default();
        let authority = || crate::identity::authority(None, &config, &env);
        let sp = secret(&env, &authority)?.expect("all set");
        Ok(sp.authority)
    }

    #[test]
    fn an_authority_host_without_a_scheme_is_https() {
        // The form of the SDKs' own `AzureAuthorityHosts` constants.
        for (host, read) in [
            (
                "login.microsoftonline.us",
                "https://login.microsoftonline.us",
            ),
            ("login.chinacloudapi.cn/", "https://login.chinacloudapi.cn"),
            (
                "https://login.microsoftonline.us/",
                "https://login.microsoftonline.us",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ] {
            assert_eq!(authority_of(host).expect(host), read, "{host}");
        }
        for host in [
            "http://login.microsoftonline.us",
            "ftp://login.microsoftonline.us",
            "login.microsoftonline.com@evil.example",
        ] {
            assert!(
                matches!(
                    authority_of(host),
                    Err(Error::Environment {
                        var: "AZURE_AUTHORITY_HOST",
                        ..
                    })
                ),
                "{host}"
            );
        }
    }

    #[test]
    fn ids_are_checked_only_with_a_credential() {
        let no_authority = || -> Result<String, Error> { panic!("not asked for") };
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", "contoso/../evil"),
            ("AZURE_CLIENT_ID", "my-app"),
        ]);
        assert!(matches!(
            credential(&env, &no_authority),
            Ok(EnvCredential::Missing(m)) if m.starts_with("AZURE_CLIENT_SECRET")
        ));
    }
}
