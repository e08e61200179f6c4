//! Service principals: client credentials with a secret from an environment
//! variable, a private file or the OS keyring, or with a client assertion
//! signed by a certificate (`certificate.rs` loads it, `assertion.rs` signs).

use std::path::Path;
use std::time::Instant;

use crate::cache::Fingerprint;
use crate::config::{AssertionAlg, SecretSource};
use crate::entra::{ClientAuth, token_endpoint};
use crate::identity::{Error, SecretError};
use crate::keyring::secrets::Secrets;
use crate::sys::files::{Links, open_regular, read_at_most, refuse_if_shared};
use crate::sys::secret::Secret;
use crate::sys::time::{now, rfc3339};
use crate::token::AccessToken;

use super::certificate::{self, CertError};
use super::{AcquireCx, Kind, TokenSource, assertion};

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
    pub origin: Kind,
}

impl SecretSource {
    /// Where the secret comes from, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("secret from ${var}"),
            SecretSource::File(p) => format!("secret from {}", p.display()),
            SecretSource::Keyring => "secret from the OS keyring".into(),
            SecretSource::Certificate {
                path, private_key, ..
            } => match private_key {
                Some(key) => format!("certificate {} with key {}", path.display(), key.display()),
                None => format!("certificate {}", path.display()),
            },
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
            origin: Kind::ServicePrincipal,
        }
    }

    /// The keyring account holding this principal's secret.
    pub fn keyring_account(&self) -> String {
        format!("secret:{}", self.fingerprint())
    }

    /// How this principal proves itself for one token request: its secret,
    /// or a client assertion for the exact token endpoint `audience`, with an
    /// actionable error naming the source.
    fn client_auth(&self, cx: &AcquireCx, audience: &str) -> Result<ClientAuth, Error> {
        let name = cx.identity;
        let fail = |cause: SecretError| Error::Secret {
            identity: name.to_string(),
            cause,
        };
        let secret = match &self.secret {
            SecretSource::Env(var) => cx
                .env
                .get(var)
                .map(|v| Secret::new(v.to_string()))
                .ok_or_else(|| fail(SecretError::EnvUnset { var: var.clone() })),
            SecretSource::File(path) => {
                read_secret_file(path).map_err(|problem| fail(SecretError::File { problem }))
            }
            SecretSource::Keyring => self.keyring_secret(name, cx.secrets),
            SecretSource::Certificate {
                path,
                private_key,
                password_env,
                password_keyring,
                send_chain,
                algorithm,
            } => {
                let cert = CertSettings {
                    path,
                    private_key: private_key.as_deref(),
                    password_env: password_env.as_deref(),
                    password_keyring: *password_keyring,
                    send_chain: *send_chain,
                    algorithm: *algorithm,
                };
                return self.sign_assertion(cx, audience, &cert);
            }
        };
        secret.map(ClientAuth::Secret)
    }

    /// A client assertion freshly signed with the certificate for `audience`.
    fn sign_assertion(
        &self,
        cx: &AcquireCx,
        audience: &str,
        cert: &CertSettings,
    ) -> Result<ClientAuth, Error> {
        let name = cx.identity;
        let CertSettings {
            path,
            private_key,
            password_env,
            password_keyring,
            send_chain,
            algorithm,
        } = *cert;
        let fail = |cause: CertError| Error::Secret {
            identity: name.to_string(),
            cause: SecretError::Certificate(cause),
        };
        let password = match (password_env, password_keyring) {
            (Some(var), _) => Some(
                cx.env
                    .get(var)
                    .map(|v| Secret::new(v.to_string()))
                    .ok_or_else(|| {
                        fail(CertError::PasswordUnset {
                            var: var.to_string(),
                        })
                    })?,
            ),
            (None, true) => Some(self.keyring_secret(name, cx.secrets)?),
            (None, false) => None,
        };
        let started = Instant::now();
        let loaded = certificate::load(path, private_key, password.as_ref()).map_err(fail)?;
        drop(password);
        let now = now();
        let leaf = loaded.chain.first().map(Vec::as_slice).unwrap_or_default();
        if now < loaded.not_before || now >= loaded.not_after {
            let (state, at) = if now < loaded.not_before {
                ("is not valid until", loaded.not_before)
            } else {
                ("expired on", loaded.not_after)
            };
            cx.prompt.say(format_args!(
                "warning: identity '{name}': certificate {} (thumbprint {}) {state} {}; trying it anyway (Entra decides). Fix: create a new certificate and upload it to the app registration",
                path.display(),
                assertion::thumbprint_hex(leaf),
                rfc3339(at)
            ));
        }
        let request = assertion::Request {
            client_id: &self.client_id,
            audience,
            algorithm,
            send_chain,
        };
        let jwt = assertion::sign(&loaded, &request, now).map_err(fail)?;
        cx.trace.decision(format_args!(
            "{name}: signed a {} client assertion with certificate {} (thumbprint {}, {} certificate(s){}) in {} us",
            match algorithm {
                AssertionAlg::Ps256 => "PS256",
                AssertionAlg::Rs256 => "RS256",
            },
            path.display(),
            assertion::thumbprint_hex(leaf),
            loaded.chain.len(),
            if send_chain { ", sent as x5c" } else { "" },
            started.elapsed().as_micros()
        ));
        Ok(ClientAuth::Assertion(jwt))
    }

    /// The secret `secret set` stored for this principal in the OS keyring.
    fn keyring_secret(&self, name: &str, secrets: &Secrets) -> Result<Secret<String>, Error> {
        let fail = |cause: SecretError| Error::Secret {
            identity: name.to_string(),
            cause,
        };
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
}

impl TokenSource for ServicePrincipal {
    fn kind(&self) -> Kind {
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
        // An environment credential with a secret is a service principal's key.
        super::key(
            Kind::ServicePrincipal,
            &self.authority,
            &self.tenant,
            &self.client_id,
        )
    }

    /// Client-credentials request to `{authority}/{tenant}/oauth2/v2.0/token`.
    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        let auth = self.client_auth(cx, &token_endpoint(&self.authority, &self.tenant))?;
        cx.client_credentials(
            &self.authority,
            &self.tenant,
            &self.client_id,
            &auth,
            "client credentials",
        )
    }
}

/// A certificate credential's settings, borrowed from its [`SecretSource`].
#[derive(Clone, Copy)]
struct CertSettings<'a> {
    path: &'a Path,
    private_key: Option<&'a Path>,
    password_env: Option<&'a str>,
    password_keyring: bool,
    send_chain: bool,
    algorithm: AssertionAlg,
}

/// Reads `client_secret_file`: refused when group or others may read it
/// (like ssh keys), one trailing newline trimmed.
fn read_secret_file(path: &Path) -> Result<Secret<String>, String> {
    const MAX: u64 = 64 * 1024;
    let shown = path.display();
    let (file, meta) = open_regular(path, Links::Follow).map_err(|e| {
        format!(
            "cannot read {shown} (client_secret_file): {e}. Fix: check the path in the config file"
        )
    })?;
    refuse_if_shared(path, &meta, "client_secret_file")?;
    let text = read_at_most(file, MAX)
        .map_err(|e| format!("cannot read {shown} (client_secret_file): {e}"))
        .and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| format!("{shown} (client_secret_file) is not text"))
        })?;
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
    use crate::identity::Error;
    use crate::identity::{ImdsProbe, resolve};
    use crate::sys::env::Env;
    use crate::sys::trace::Trace;

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

    #[test]
    fn azure_certificate_variables_make_a_certificate_credential() {
        let shown = resolve_env(&[
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "/etc/app.pfx"),
        ]);
        // AZURE_CLIENT_SECRET (set by resolve_env) wins, as in Azure's SDKs.
        assert!(
            shown
                .expect("valid")
                .contains("secret from $AZURE_CLIENT_SECRET")
        );
        let pfx = crate::abs("/etc/app.pfx");
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            ("AZURE_CLIENT_CERTIFICATE_PATH", pfx.as_str()),
        ]);
        let config = Config::parse(
            r#"{"identities":{"env":{"type":"environment"}}}"#,
            std::path::Path::new("/cfg/config.json"),
            None,
        )
        .expect("valid config");
        let shown = resolve("env", &config, &env, &ImdsProbe::offline(&Trace::off()))
            .expect("valid")
            .to_string();
        assert!(
            shown.contains("environment, tenant")
                && shown.ends_with(&format!("certificate {pfx})")),
            "{shown}"
        );
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "app.pfx"),
        ]);
        assert!(matches!(
            resolve("env", &config, &env, &ImdsProbe::offline(&Trace::off())),
            Err(Error::Environment {
                var: "AZURE_CLIENT_CERTIFICATE_PATH",
                ..
            })
        ));
    }
}
