//! Workload identities: an app registration's token got with a federated
//! token from the platform the job runs on (AKS, GitHub Actions, Azure
//! Pipelines) as its client assertion — no secret stored anywhere.
//!
//! The federated token is fetched fresh for every exchange (see
//! `federation.rs`); the access token Entra returns is cached like any
//! other, under the application's fingerprint: where the assertion comes
//! from does not change the principal.

use std::path::PathBuf;

use crate::cache::Fingerprint;
use crate::config::{Assertion, Config, MiSelector, WorkloadConfig};
use crate::entra::ClientAuth;
use crate::identity::Error;
use crate::sys::env::Env;
use crate::token::AccessToken;

use super::federation::AssertionSource;
use super::{AcquireCx, Kind, ManagedIdentity, TokenSource};

/// Where a workload identity's assertions come from.
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
}

/// An application that proves itself with a federated token.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Authority host, no trailing slash.
    pub authority: String,
    /// Where each exchange's assertion comes from.
    pub assertion: AssertionFrom,
    /// `workload-identity` or `environment`.
    pub origin: Kind,
}

impl Workload {
    /// From a config entry; `name` and `config` serve the managed-identity
    /// assertion (its endpoint is detected now, without I/O beyond a stat).
    pub fn configured(
        name: &str,
        c: &WorkloadConfig,
        authority: String,
        config: &Config,
        env: &Env,
    ) -> Result<Workload, Error> {
        let platform = |source| Ok(AssertionFrom::Platform(source));
        let assertion = match &c.assertion {
            Assertion::File(path) => platform(AssertionSource::File(path.clone())),
            Assertion::GithubActions => platform(AssertionSource::GithubActions {
                audience: c.audience.clone(),
            }),
            Assertion::AzurePipelines {
                service_connection_id,
            } => platform(AssertionSource::AzurePipelines {
                service_connection_id: service_connection_id.clone(),
            }),
            Assertion::ManagedIdentity { client_id } => ManagedIdentity::detect(
                name,
                MiSelector::ClientId(client_id.clone()),
                config.managed_identity_timeout_seconds,
                env,
            )
            .map(|mi| AssertionFrom::ManagedIdentity {
                mi: Box::new(mi),
                audience: c.audience.clone(),
            }),
        }?;
        Ok(Workload {
            tenant: c.tenant.clone(),
            client_id: c.client_id.clone(),
            authority,
            assertion,
            origin: Kind::WorkloadIdentity,
        })
    }

    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and
    /// `AZURE_FEDERATED_TOKEN_FILE` (what AKS sets), ids already checked.
    pub fn from_environment(
        tenant: String,
        client_id: String,
        token_file: PathBuf,
        authority: String,
    ) -> Workload {
        Workload {
            tenant,
            client_id,
            authority,
            assertion: AssertionFrom::Platform(AssertionSource::File(token_file)),
            origin: Kind::Environment,
        }
    }
}

impl TokenSource for Workload {
    fn kind(&self) -> Kind {
        self.origin
    }

    fn describe(&self) -> String {
        format!(
            "{}, tenant {}, client {}, {}",
            self.origin,
            self.tenant,
            self.client_id,
            self.assertion.describe()
        )
    }

    /// The application's key: shared by every name and every assertion
    /// source for the same app.
    fn fingerprint(&self) -> Fingerprint {
        // AKS variables read by `environment` are a workload identity's key.
        super::key(
            Kind::WorkloadIdentity,
            &self.authority,
            &self.tenant,
            &self.client_id,
        )
    }

    /// A fresh federated token, exchanged at once.
    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        let name = cx.identity;
        let assertion = match &self.assertion {
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
            self.assertion.describe(),
            assertion.expose().len()
        ));
        cx.client_credentials(
            &self.authority,
            &self.tenant,
            &self.client_id,
            &ClientAuth::Assertion(assertion),
            "federated client credentials",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::identity::{ImdsProbe, resolve};
    use crate::sys::env::Env;
    use crate::sys::trace::Trace;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";

    fn config(identities: &str) -> Config {
        Config::parse(
            &format!(r#"{{"identities":{{{identities}}}}}"#),
            std::path::Path::new("/cfg/config.json"),
            None,
        )
        .expect("valid config")
    }

    fn workload(name: &str, assertion: &str) -> String {
        format!(
            r#""{name}":{{"type":"workload-identity","tenant":"{TENANT}","client_id":"{CLIENT}",{assertion}}}"#
        )
    }

    #[test]
    fn the_assertion_source_does_not_change_the_principal() {
        let c = config(
            &[
                workload("aks", r#""assertion":"file","token_file":"/t/token""#),
                workload("gh", r#""assertion":"github-actions""#),
                workload(
                    "ado",
                    r#""assertion":"azure-pipelines","service_connection_id":"sc-1""#,
                ),
                r#""env":{"type":"environment"}"#.to_string(),
            ]
            .join(","),
        );
        let token_file = crate::abs("/var/run/token");
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.as_str()),
        ]);
        let fp = |name: &str| {
            resolve(name, &c, &env, &ImdsProbe::offline(&Trace::off()))
                .expect(name)
                .fingerprint()
        };
        assert_eq!(fp("aks"), fp("gh"));
        assert_eq!(fp("aks"), fp("ado"));
        assert_eq!(fp("aks"), fp("env"), "AKS variables: the same app");
        let shown = resolve("env", &c, &env, &ImdsProbe::offline(&Trace::off()))
            .expect("env")
            .to_string();
        assert!(
            shown.contains("environment") && shown.contains(&token_file),
            "{shown}"
        );
        let other = config(&workload(
            "aks",
            r#""assertion":"file","token_file":"/t/token","authority_host":"https://login.microsoftonline.us""#,
        ));
        assert_ne!(
            resolve("aks", &other, &env, &ImdsProbe::offline(&Trace::off()))
                .expect("aks")
                .fingerprint(),
            fp("aks"),
            "another cloud is another principal"
        );
    }

    #[test]
    fn a_relative_federated_token_file_is_refused() {
        // git runs helpers inside the repository: a relative path would read
        // a file the repository ships.
        let c = config(r#""env":{"type":"environment"}"#);
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            ("AZURE_FEDERATED_TOKEN_FILE", "token"),
        ]);
        let e = resolve("env", &c, &env, &ImdsProbe::offline(&Trace::off())).expect_err("relative");
        let text = e.to_string();
        assert!(
            text.starts_with("AZURE_FEDERATED_TOKEN_FILE") && text.contains("absolute"),
            "{text}"
        );
    }

    #[test]
    fn a_managed_identity_assertion_is_the_identitys_token_for_the_audience() {
        let uami = "11112222-aaaa-2222-bbbb-3333cccc4444";
        let c = config(&workload(
            "x",
            &format!(r#""assertion":"managed-identity","managed_identity_client_id":"{uami}""#),
        ));
        let shown = resolve("x", &c, &Env::default(), &ImdsProbe::offline(&Trace::off()))
            .expect("resolves without I/O")
            .to_string();
        assert!(
            shown.contains("managed identity token for api://AzureADTokenExchange")
                && shown.contains(uami)
                && shown.contains(&format!("client {CLIENT}")),
            "{shown}"
        );
    }
}
