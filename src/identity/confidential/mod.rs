//! Confidential clients: an app registration's token by the client
//! credentials grant. `service-principal`, `workload-identity` and the
//! `environment` credential are all this one source; they differ only in how
//! the application proves itself (`proof.rs`): a client secret
//! (`secret.rs`), a client assertion signed by a certificate
//! (`certificate/`), or a federated token from the platform the job runs on
//! (`federation/`, or a managed identity). As in Azure's SDKs, the token
//! request is made in one place; a proof only supplies the `client_secret`
//! or the `client_assertion`, read or fetched again for every request.
//!
//! The tokens are cached under the application's key: where the proof comes
//! from does not change the principal.

mod certificate;
mod proof;
mod secret;

use crate::cache::Fingerprint;
use crate::config::{
    Assertion, Config, Credential, Kind, MiSelector, ServicePrincipalConfig, WorkloadConfig,
};
use crate::entra::{ClientAuth, token_endpoint};
use crate::identity::federation::AssertionSource;
use crate::identity::{AcquireCx, Error, ManagedIdentity, TokenSource};
use crate::sys::env::Env;
use crate::token::AccessToken;

pub use certificate::{CertError, CertificateFacts, KeyVaultError};
pub use proof::{AssertionFrom, Proof};

/// An application that gets its own tokens, proving itself with `proof`.
#[derive(Debug, Clone)]
pub struct ConfidentialClient {
    /// `service-principal`, `workload-identity` or `environment`.
    pub kind: Kind,
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Authority host, no trailing slash.
    pub authority: String,
    /// How it proves itself.
    pub proof: Proof,
}

impl ConfidentialClient {
    /// A `service-principal` config entry; a certificate in Key Vault is
    /// read by a managed identity within `mi_timeout_secs`.
    pub fn service_principal(
        c: &ServicePrincipalConfig,
        authority: String,
        mi_timeout_secs: u64,
    ) -> ConfidentialClient {
        ConfidentialClient {
            kind: Kind::ServicePrincipal,
            tenant: c.tenant.clone(),
            client_id: c.client_id.clone(),
            authority,
            proof: match &c.credential {
                Credential::Secret(source) => Proof::Secret(source.clone()),
                Credential::Certificate(cert) => Proof::Certificate {
                    cert: cert.clone(),
                    mi_timeout_secs,
                },
            },
        }
    }

    /// A `workload-identity` config entry; `name` and `config` serve the
    /// managed-identity assertion (its endpoint is detected now, without
    /// I/O beyond a stat).
    pub fn workload(
        name: &str,
        c: &WorkloadConfig,
        authority: String,
        config: &Config,
        env: &Env,
    ) -> Result<ConfidentialClient, Error> {
        let platform = |source| AssertionFrom::Platform(source);
        let from = match &c.assertion {
            Assertion::File(path) => platform(AssertionSource::File(path.clone())),
            Assertion::GithubActions => platform(AssertionSource::GithubActions {
                audience: c.audience.clone(),
            }),
            Assertion::AzurePipelines {
                service_connection_id,
            } => platform(AssertionSource::AzurePipelines {
                service_connection_id: service_connection_id.clone(),
            }),
            Assertion::ManagedIdentity { client_id } => AssertionFrom::ManagedIdentity {
                mi: Box::new(ManagedIdentity::detect(
                    name,
                    MiSelector::ClientId(client_id.clone()),
                    config.managed_identity_timeout_seconds,
                    env,
                )?),
                audience: c.audience.clone(),
            },
        };
        Ok(ConfidentialClient {
            kind: Kind::WorkloadIdentity,
            tenant: c.tenant.clone(),
            client_id: c.client_id.clone(),
            authority,
            proof: Proof::Federated(from),
        })
    }

    /// The keyring account of this application's secret (or certificate
    /// password), as `secret set` stores it.
    pub fn keyring_account(&self) -> String {
        format!("secret:{}", self.fingerprint())
    }

    /// The proof for one token request to the token endpoint `audience`.
    fn client_auth(&self, cx: &AcquireCx, audience: &str) -> Result<ClientAuth, Error> {
        Ok(match &self.proof {
            Proof::Secret(source) => {
                ClientAuth::Secret(secret::read(source, &self.keyring_account(), cx)?)
            }
            Proof::Certificate {
                cert,
                mi_timeout_secs,
            } => ClientAuth::Assertion(certificate::sign(
                cert,
                *mi_timeout_secs,
                &self.client_id,
                audience,
                &self.keyring_account(),
                cx,
            )?),
            Proof::Federated(from) => ClientAuth::Assertion(from.fetch(cx)?),
        })
    }
}

impl TokenSource for ConfidentialClient {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn describe(&self) -> String {
        format!(
            "{}, tenant {}, client {}, {}",
            self.kind,
            self.tenant,
            self.client_id,
            self.proof.describe()
        )
    }

    /// The application's key: shared by every config name, and by every
    /// source of the same kind of proof, for the same app.
    fn fingerprint(&self) -> Fingerprint {
        super::key(
            self.proof.key_kind(),
            &self.authority,
            &self.tenant,
            &self.client_id,
        )
    }

    /// The certificate's thumbprint and validity, when the proof is one
    /// (read from its file, or fetched from Key Vault).
    fn certificate(&self, cx: &AcquireCx) -> Option<Result<CertificateFacts, Error>> {
        let Proof::Certificate {
            cert,
            mi_timeout_secs,
        } = &self.proof
        else {
            return None;
        };
        Some(certificate::inspect(
            cert,
            *mi_timeout_secs,
            &self.keyring_account(),
            cx,
        ))
    }

    /// The client credentials request to `{authority}/{tenant}/oauth2/v2.0/token`.
    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        let auth = self.client_auth(cx, &token_endpoint(&self.authority, &self.tenant))?;
        cx.client_credentials(
            &self.authority,
            &self.tenant,
            &self.client_id,
            &auth,
            self.proof.step(),
        )
    }
}

#[cfg(test)]
mod tests;
