//! How a confidential client proves it is the application: the one thing
//! `service-principal`, `workload-identity` and the `environment`
//! credential differ in.

use crate::config::{CertificateConfig, SecretSource};
use crate::identity::federation::AssertionSource;
use crate::identity::{AcquireCx, Error, Kind, ManagedIdentity, TokenSource};
use crate::sys::secret::Secret;

/// A confidential client's proof, read (or fetched) for each token request.
#[derive(Debug, Clone)]
pub enum Proof {
    /// A client secret.
    Secret(SecretSource),
    /// A client assertion signed with a certificate; `mi_timeout_secs`
    /// bounds the managed identity reading one kept in Key Vault.
    Certificate {
        cert: CertificateConfig,
        mi_timeout_secs: u64,
    },
    /// A federated token as the client assertion.
    Federated(AssertionFrom),
}

impl Proof {
    /// A certificate proof with the default managed-identity budget (a
    /// certificate file needs none).
    pub fn certificate(cert: CertificateConfig) -> Proof {
        Proof::Certificate {
            cert,
            mi_timeout_secs: crate::config::Config::default().managed_identity_timeout_seconds,
        }
    }

    /// Where the proof comes from, for messages (never the secret).
    pub fn describe(&self) -> String {
        match self {
            Proof::Secret(SecretSource::Env(var)) => format!("secret from ${var}"),
            Proof::Secret(SecretSource::File(p)) => format!("secret from {}", p.display()),
            Proof::Secret(SecretSource::Keyring) => "secret from the OS keyring".into(),
            Proof::Certificate { cert, .. } => super::certificate::describe(cert),
            Proof::Federated(from) => from.describe(),
        }
    }

    /// The type whose cache keys the application's tokens are under: a
    /// service principal's for a secret or a certificate, a workload
    /// identity's for a federated token, as earlier versions keyed them
    /// (the `environment` credential shares these keys).
    pub fn key_kind(&self) -> Kind {
        match self {
            Proof::Secret(_) | Proof::Certificate { .. } => Kind::ServicePrincipal,
            Proof::Federated(_) => Kind::WorkloadIdentity,
        }
    }

    /// The step a failed token request names.
    pub fn step(&self) -> &'static str {
        match self {
            Proof::Secret(_) | Proof::Certificate { .. } => "client credentials",
            Proof::Federated(_) => "federated client credentials",
        }
    }
}

/// Where a federated token comes from.
#[derive(Debug, Clone)]
pub enum AssertionFrom {
    /// A federated token the platform issues (token file, GitHub Actions,
    /// Azure Pipelines).
    Platform(AssertionSource),
    /// A user-assigned managed identity's token for the exchange audience:
    /// the secret-free way to an app registration in another tenant.
    ManagedIdentity {
        mi: Box<ManagedIdentity>,
        audience: String,
    },
}

impl AssertionFrom {
    fn describe(&self) -> String {
        match self {
            AssertionFrom::Platform(source) => source.describe(),
            AssertionFrom::ManagedIdentity { mi, audience } => {
                format!("managed identity token for {audience} ({})", mi.describe())
            }
        }
    }

    /// A fresh federated token, for this exchange only (they live minutes).
    pub fn fetch(&self, cx: &AcquireCx) -> Result<Secret<String>, Error> {
        let name = cx.identity;
        let assertion = match self {
            AssertionFrom::Platform(source) => {
                source.fetch(cx).map_err(|cause| Error::Assertion {
                    identity: name.to_string(),
                    cause: Box::new(cause),
                })?
            }
            AssertionFrom::ManagedIdentity { mi, audience } => {
                mi.token_for(cx, audience)?.access_token
            }
        };
        cx.trace.decision(format_args!(
            "{name}: got a {} ({} bytes); exchanging it",
            self.describe(),
            assertion.expose().len()
        ));
        Ok(assertion)
    }
}
