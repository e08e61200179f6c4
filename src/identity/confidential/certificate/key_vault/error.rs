//! Why a certificate kept in Key Vault could not be read: each message names
//! the vault, the secret and the managed identity that read it, and the fix
//! (most often a role the identity lacks on the vault).

use std::fmt;
use std::time::Duration;

use crate::config::{KeyVaultSecret, MiSelector};
use crate::identity::managed_identity::the_identity;
use crate::identity::{CertError, MiError};
use crate::net::http::HttpSetupError;

/// A failure reading `secret` as the managed identity `reader`.
#[derive(Debug)]
pub struct KeyVaultError {
    /// `secret 'app-cert' (latest) in Key Vault 'contoso-kv'`.
    pub secret: String,
    /// The vault's name.
    pub vault: String,
    /// The secret's name.
    pub name: String,
    /// The identity that read it.
    pub reader: MiSelector,
    /// What went wrong.
    pub failure: KeyVaultFailure,
}

/// What went wrong reading the secret.
#[derive(Debug)]
pub enum KeyVaultFailure {
    /// The managed identity gave no token for the vault.
    Token(Box<MiError>),
    /// No HTTPS client for the vault.
    Http(HttpSetupError),
    /// 401: the token was not accepted (another tenant's, expired…).
    Unauthorized { message: String },
    /// 403: the identity may not read the secret.
    Forbidden { code: String, message: String },
    /// 404: no such secret (or version).
    NotFound { code: String, message: String },
    /// Any other refusal.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// Throttled or failing (429, 5xx) through every retry.
    Unavailable {
        status: u16,
        attempts: u32,
        waited: Duration,
    },
    /// No complete answer; `local`: this machine's set-up (the detail says
    /// what to do).
    Transport { detail: String, local: bool },
    /// A 200 answer that is not a secret.
    BadResponse { detail: String },
    /// A PFX secret whose value is not base64.
    BadBase64 { content_type: String },
    /// The secret's value holds no usable certificate and key.
    Certificate(CertError),
}

impl KeyVaultError {
    /// `failure` reading `kv`.
    pub fn new(kv: &KeyVaultSecret, failure: KeyVaultFailure) -> KeyVaultError {
        KeyVaultError {
            secret: kv.describe(),
            vault: kv.vault.clone(),
            name: kv.name.clone(),
            reader: kv.reader.clone(),
            failure,
        }
    }

    /// The kind of outage, when the failure is the service's rather than
    /// this identity's settings (see `identity::Error::is_service_outage`).
    pub fn outage(&self) -> Option<&'static str> {
        match &self.failure {
            KeyVaultFailure::Token(mi) => mi.kind(),
            KeyVaultFailure::Unavailable { .. } => Some("unavailable"),
            KeyVaultFailure::Transport { local: false, .. } => Some("transport"),
            _ => None,
        }
    }

    /// Who to grant access, in words, and as `az`'s `--assignee`.
    fn grantee(&self) -> (String, String) {
        match &self.reader {
            MiSelector::System => (
                "this Azure resource's system-assigned identity (its principal id is on the resource's Identity page)".into(),
                "<principal-id>".into(),
            ),
            MiSelector::ClientId(id) => (
                format!("the user-assigned identity with client id {id}"),
                id.clone(),
            ),
            MiSelector::ObjectId(id) => (format!("the identity with object id {id}"), id.clone()),
            MiSelector::ResourceId(id) => (
                format!("the user-assigned identity {id}"),
                format!("$(az identity show --ids {id} --query principalId -o tsv)"),
            ),
        }
    }
}

impl fmt::Display for KeyVaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vault = &self.vault;
        write!(
            f,
            "certificate from {} read by {}: ",
            self.secret,
            the_identity(&self.reader)
        )?;
        match &self.failure {
            KeyVaultFailure::Token(mi) => {
                write!(f, "no token for Key Vault from the managed identity: {mi}")
            }
            KeyVaultFailure::Http(e) => write!(f, "{e}"),
            KeyVaultFailure::Unauthorized { message } => write!(
                f,
                "Key Vault did not accept the managed identity's token (HTTP 401: {message}). Fix: a vault takes tokens of its own tenant only: read it with a managed identity of the vault's tenant, or keep the certificate in a vault of the identity's tenant"
            ),
            KeyVaultFailure::Forbidden { code, message } => {
                let (who, assignee) = self.grantee();
                let role = format!(
                    "grant {who} the role \"Key Vault Secrets User\" on the vault (az role assignment create --role \"Key Vault Secrets User\" --assignee {assignee} --scope $(az keyvault show --name {vault} --query id -o tsv))"
                );
                let policy = format!(
                    "a Get secret access policy (az keyvault set-policy --name {vault} --secret-permissions get --object-id <object-id>)"
                );
                // The vault's permission model decides which fix applies.
                let fix = if code == "ForbiddenByPolicy" {
                    format!("the vault uses access policies: give {who} {policy}")
                } else {
                    format!("{role}; a vault using access policies needs {policy} instead")
                };
                write!(
                    f,
                    "Key Vault '{vault}' denied it the secret (HTTP 403 {code}: {message}). Fix: {fix}"
                )
            }
            KeyVaultFailure::NotFound { code, message } => write!(
                f,
                "Key Vault '{vault}' has no such secret (HTTP 404 {code}: {message}). Fix: check the secret's name (and version, if the URL names one) in \"certificate\" against the vault (az keyvault secret list-versions --vault-name {vault} --name {}); leave the version out to read the latest",
                self.name
            ),
            KeyVaultFailure::Refused {
                status,
                code,
                message,
            } => write!(
                f,
                "Key Vault '{vault}' refused the request (HTTP {status} {code}: {message}). Fix: check \"certificate\": it must be the secret's URL as the vault shows it"
            ),
            KeyVaultFailure::Unavailable {
                status,
                attempts,
                waited,
            } => write!(
                f,
                "Key Vault '{vault}' answered HTTP {status} ({}) {attempts} time(s) over {:.0} s. Fix: retry in a minute; if it persists, check https://status.azure.com",
                if *status == 429 {
                    "throttled"
                } else {
                    "server error"
                },
                waited.as_secs_f64()
            ),
            KeyVaultFailure::Transport {
                detail,
                local: true,
            } => f.write_str(detail),
            KeyVaultFailure::Transport {
                detail,
                local: false,
            } => write!(
                f,
                "Key Vault '{vault}' gave no complete answer ({detail}). Fix: check that this machine reaches the vault (git's http.proxy and CA settings apply to it as to Entra), then retry"
            ),
            KeyVaultFailure::BadResponse { detail } => write!(
                f,
                "Key Vault's answer is not a secret ({detail}). Fix: check \"certificate\": it must be the secret's URL as the vault shows it"
            ),
            KeyVaultFailure::BadBase64 { content_type } => write!(
                f,
                "the secret's value is not base64 although its content type is {content_type}. Fix: import the PFX as a Key Vault certificate (az keyvault certificate import --vault-name {vault} --name NAME --file app.pfx), which stores it as Key Vault reads it"
            ),
            KeyVaultFailure::Certificate(CertError::NoPrivateKey { .. }) => write!(
                f,
                "the secret holds the certificate without its private key (a certificate created with a key that is not exportable, or a .cer uploaded as a secret). Fix: create the certificate with an exportable key (a policy with \"exportable\": true) or import a PFX that holds the key (az keyvault certificate import --vault-name {vault} --name NAME --file app.pfx), and upload its public part to the app registration"
            ),
            KeyVaultFailure::Certificate(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KeyVaultError {}

/// What a Key Vault error body says: `{"error": {"code", "message",
/// "innererror": {"code"}}}`, the innermost code first; sanitized, and
/// never holding `token`.
pub fn error_body(body: &str, token: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let e = &v["error"];
    let code = e["innererror"]["code"]
        .as_str()
        .or_else(|| e["code"].as_str())
        .unwrap_or("no error code");
    let message = e["message"].as_str().map_or_else(
        || body.chars().take(200).collect::<String>(),
        str::to_string,
    );
    let clean = |t: &str| crate::sys::text::sanitize_hiding(t, &[("token", token)]);
    (clean(code), clean(&message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(reader: MiSelector) -> KeyVaultSecret {
        KeyVaultSecret {
            url: "https://contoso-kv.vault.azure.net/secrets/app-cert".into(),
            vault: "contoso-kv".into(),
            name: "app-cert".into(),
            version: None,
            resource: "https://vault.azure.net",
            reader,
        }
    }

    #[test]
    fn a_403_names_vault_secret_identity_and_the_role() {
        let body = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nCaller: appid=x","innererror":{"code":"ForbiddenByRbac"}}}"#;
        let (code, message) = error_body(body, "tok");
        assert_eq!(code, "ForbiddenByRbac");
        assert!(!message.contains('\r'), "{message}");
        let client = "11112222-3333-4444-5555-666677778888";
        let e = KeyVaultError::new(
            &kv(MiSelector::ClientId(client.into())),
            KeyVaultFailure::Forbidden { code, message },
        );
        let text = e.to_string();
        for part in [
            "'contoso-kv'",
            "secret 'app-cert' (latest)",
            &format!("client_id {client}"),
            "HTTP 403 ForbiddenByRbac",
            "\"Key Vault Secrets User\"",
            &format!("--assignee {client}"),
            "access policies",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let system = KeyVaultError::new(
            &kv(MiSelector::System),
            KeyVaultFailure::Forbidden {
                code: "ForbiddenByPolicy".into(),
                message: "m".into(),
            },
        )
        .to_string();
        assert!(
            system.contains("system-assigned")
                && system.contains("Fix: the vault uses access policies")
                && system.contains("--secret-permissions get"),
            "{system}"
        );
    }

    #[test]
    fn error_bodies_are_read_without_the_token() {
        let (code, message) = error_body(
            r#"{"error":{"code":"Unauthorized","message":"AKV10032: Invalid issuer for tok-123"}}"#,
            "tok-123",
        );
        assert_eq!(code, "Unauthorized");
        assert!(
            message.contains("AKV10032") && !message.contains("tok-123"),
            "{message}"
        );
        let (code, message) = error_body("<html>gateway</html>", "eyJ0eXAi.token.sig");
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("no error code", "<html>gateway</html>")
        );
        let (code, _) = error_body(
            r#"{"error":{"code":"SecretNotFound","message":"A secret with (name/version) = (x/y) was not found in this key vault."}}"#,
            "eyJ0eXAi.token.sig",
        );
        assert_eq!(code, "SecretNotFound");
    }

    #[test]
    fn each_failure_says_what_to_do() {
        let failures = [
            KeyVaultFailure::Unauthorized {
                message: "AKV10032: Invalid issuer".into(),
            },
            KeyVaultFailure::NotFound {
                code: "SecretNotFound".into(),
                message: "m".into(),
            },
            KeyVaultFailure::Refused {
                status: 400,
                code: "BadParameter".into(),
                message: "m".into(),
            },
            KeyVaultFailure::Unavailable {
                status: 503,
                attempts: 3,
                waited: Duration::from_secs(9),
            },
            KeyVaultFailure::Transport {
                detail: "reset".into(),
                local: false,
            },
            KeyVaultFailure::BadResponse {
                detail: "not JSON".into(),
            },
            KeyVaultFailure::BadBase64 {
                content_type: "application/x-pkcs12".into(),
            },
            KeyVaultFailure::Certificate(CertError::NoPrivateKey {
                path: "x".into(),
                pfx: true,
            }),
        ];
        for failure in failures {
            let text = KeyVaultError::new(&kv(MiSelector::System), failure).to_string();
            assert!(
                text.contains("'contoso-kv'")
                    && text.contains("'app-cert'")
                    && text.contains("Fix: "),
                "{text}"
            );
        }
    }
}
