//! The `identities.*` entries: one type each, with the fields that type takes.

use std::path::PathBuf;

use serde_json::Value;

use super::{ConfigError, Cx};

/// A configured identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    /// `service-principal`: client credentials with a secret or certificate.
    ServicePrincipal(ServicePrincipalConfig),
    /// `managed-identity`.
    ManagedIdentity {
        selector: MiSelector,
        timeout_seconds: Option<u64>,
    },
    /// `workload-identity`: client credentials with a federated assertion.
    WorkloadIdentity(WorkloadConfig),
    /// `environment`: the `AZURE_*` variables Azure's SDKs read.
    Environment { authority_host: Option<String> },
    /// `azure-cli`: `az account get-access-token`.
    AzureCli { tenant: Option<String> },
    /// `user`: interactive sign-in, then refresh tokens.
    User {
        tenant: Option<String>,
        client_id: String,
        flow: UserFlow,
        login_hint: Option<String>,
        authority_host: Option<String>,
    },
    /// `pipeline-token`: the Azure Pipelines job token.
    PipelineToken { variable: String },
    /// `auto`: detect the first usable source.
    Auto { authority_host: Option<String> },
}

impl IdentityKind {
    /// The `type` value as written in the config.
    pub fn type_name(&self) -> &'static str {
        match self {
            IdentityKind::ServicePrincipal(_) => "service-principal",
            IdentityKind::ManagedIdentity { .. } => "managed-identity",
            IdentityKind::WorkloadIdentity(_) => "workload-identity",
            IdentityKind::Environment { .. } => "environment",
            IdentityKind::AzureCli { .. } => "azure-cli",
            IdentityKind::User { .. } => "user",
            IdentityKind::PipelineToken { .. } => "pipeline-token",
            IdentityKind::Auto { .. } => "auto",
        }
    }
}

/// A service principal's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipalConfig {
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Where its credential comes from: exactly one source.
    pub secret: SecretSource,
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

/// Where a service principal's credential lives. Never on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `client_secret_env`: an environment variable's name.
    Env(String),
    /// `client_secret_file`: a file only its owner can read.
    File(PathBuf),
    /// `client_secret_keyring: true`: stored with `secret set`.
    Keyring,
    /// `certificate`: PEM or PFX, signing a client assertion.
    Certificate {
        path: PathBuf,
        password_env: Option<String>,
        password_keyring: bool,
        send_chain: bool,
        algorithm: AssertionAlg,
    },
}

/// Client-assertion signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlg {
    /// RSASSA-PSS with `x5t#S256` (Entra's current recommendation).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with `x5t`.
    Rs256,
}

/// Which managed identity to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MiSelector {
    /// The system-assigned identity.
    System,
    /// A user-assigned identity by client id.
    ClientId(String),
    /// By object (principal) id.
    ObjectId(String),
    /// By ARM resource id.
    ResourceId(String),
}

/// A workload identity's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Where the federated assertion comes from.
    pub assertion: Assertion,
    /// Token exchange audience.
    pub audience: String,
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

/// Federated assertion sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assertion {
    /// A projected token file (Kubernetes).
    File(PathBuf),
    /// GitHub Actions OIDC.
    GithubActions,
    /// Azure Pipelines OIDC for a service connection.
    AzurePipelines { service_connection_id: String },
    /// A user-assigned managed identity's token.
    ManagedIdentity { client_id: String },
}

/// How a user signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserFlow {
    /// Browser when possible, else device code.
    Auto,
    /// System browser with PKCE.
    Browser,
    /// Device code.
    DeviceCode,
}

const VS_CLIENT_ID: &str = "872cd9fa-d31f-45e0-9eab-6e460a02d1f1";
const TYPES: &str = "service-principal, managed-identity, workload-identity, environment, azure-cli, user, pipeline-token, auto";

/// Parses one identity object at `path`.
pub(super) fn parse(cx: &Cx, value: &Value, path: &str) -> Result<IdentityKind, ConfigError> {
    let mut o = cx.object(value, path)?;
    let ty = o.required_string("type").map_err(|e| ConfigError {
        problem: format!("{} (one of: {TYPES})", e.problem),
        ..e
    })?;
    let kind = match ty.as_str() {
        "service-principal" => {
            o.allow(&[
                "type",
                "tenant",
                "client_id",
                "client_secret_env",
                "client_secret_file",
                "client_secret_keyring",
                "certificate",
                "certificate_password_env",
                "certificate_password_keyring",
                "send_certificate_chain",
                "assertion_algorithm",
                "authority_host",
            ])?;
            let mut sources: Vec<(&str, SecretSource)> = Vec::new();
            if let Some(var) = o.string("client_secret_env")? {
                sources.push(("client_secret_env", SecretSource::Env(var)));
            }
            if let Some(file) = o.path_value("client_secret_file")? {
                sources.push(("client_secret_file", SecretSource::File(file)));
            }
            if o.boolean("client_secret_keyring")? == Some(true) {
                sources.push(("client_secret_keyring", SecretSource::Keyring));
            }
            let cert_only = [
                "certificate_password_env",
                "certificate_password_keyring",
                "send_certificate_chain",
                "assertion_algorithm",
            ];
            if let Some(cert) = o.path_value("certificate")? {
                let algorithm = match o.string("assertion_algorithm")?.as_deref() {
                    None | Some("PS256") => AssertionAlg::Ps256,
                    Some("RS256") => AssertionAlg::Rs256,
                    Some(_) => {
                        return Err(o.err(
                            "assertion_algorithm",
                            "must be \"PS256\" (default) or \"RS256\"",
                        ));
                    }
                };
                let password_env = o.string("certificate_password_env")?;
                let password_keyring = o.boolean("certificate_password_keyring")?.unwrap_or(false);
                if password_env.is_some() && password_keyring {
                    return Err(o.err(
                        "certificate_password_keyring",
                        "conflicts with certificate_password_env: keep one",
                    ));
                }
                let send_chain = o.boolean("send_certificate_chain")?.unwrap_or(false);
                sources.push((
                    "certificate",
                    SecretSource::Certificate {
                        path: cert,
                        password_env,
                        password_keyring,
                        send_chain,
                        algorithm,
                    },
                ));
            } else if let Some(k) = cert_only.iter().find(|k| o.get(k).is_some()) {
                return Err(o.err(k, "only applies together with \"certificate\""));
            }
            let secret = match sources.len() {
                1 => sources.pop().map(|(_, s)| s).expect("one source"),
                0 => return Err(o.err("client_secret_env", &format!(
                    "a service principal needs exactly one of client_secret_env, client_secret_file, client_secret_keyring, certificate (in {path})"))),
                _ => return Err(o.err(sources[1].0, &format!("conflicts with {}: a service principal takes exactly one secret source", sources[0].0))),
            };
            IdentityKind::ServicePrincipal(ServicePrincipalConfig {
                tenant: o.tenant("tenant", true)?.expect("required"),
                client_id: o.required_guid("client_id")?,
                secret,
                authority_host: o.authority_host("authority_host")?,
            })
        }
        "managed-identity" => {
            o.allow(&[
                "type",
                "client_id",
                "object_id",
                "resource_id",
                "managed_identity_timeout_seconds",
            ])?;
            let mut selectors = Vec::new();
            if let Some(id) = o.guid("client_id")? {
                selectors.push(("client_id", MiSelector::ClientId(id)));
            }
            if let Some(id) = o.guid("object_id")? {
                selectors.push(("object_id", MiSelector::ObjectId(id)));
            }
            if let Some(id) = o.string("resource_id")? {
                if !id.starts_with("/subscriptions/") {
                    return Err(o.err(
                        "resource_id",
                        "expected an ARM resource id starting with /subscriptions/",
                    ));
                }
                selectors.push(("resource_id", MiSelector::ResourceId(id)));
            }
            if selectors.len() > 1 {
                return Err(o.err(selectors[1].0, &format!("conflicts with {}: name a managed identity by at most one of client_id, object_id, resource_id", selectors[0].0)));
            }
            IdentityKind::ManagedIdentity {
                selector: selectors.pop().map_or(MiSelector::System, |(_, s)| s),
                timeout_seconds: o.uint("managed_identity_timeout_seconds")?,
            }
        }
        "workload-identity" => {
            o.allow(&[
                "type",
                "tenant",
                "client_id",
                "assertion",
                "token_file",
                "service_connection_id",
                "managed_identity_client_id",
                "audience",
                "authority_host",
            ])?;
            let kind = o.required_string("assertion")?;
            let wants = |k: &str| match kind.as_str() {
                "file" => k == "token_file",
                "azure-pipelines" => k == "service_connection_id",
                "managed-identity" => k == "managed_identity_client_id",
                _ => false,
            };
            for k in [
                "token_file",
                "service_connection_id",
                "managed_identity_client_id",
            ] {
                if o.get(k).is_some() && !wants(k) {
                    return Err(o.err(k, &format!("does not apply to assertion \"{kind}\"")));
                }
            }
            let assertion = match kind.as_str() {
                "file" => Assertion::File(o.path_value("token_file")?.ok_or_else(|| o.err("token_file", "is required with assertion \"file\""))?),
                "github-actions" => Assertion::GithubActions,
                "azure-pipelines" => Assertion::AzurePipelines { service_connection_id: o.string("service_connection_id")?.ok_or_else(|| o.err("service_connection_id", "is required with assertion \"azure-pipelines\""))? },
                "managed-identity" => Assertion::ManagedIdentity { client_id: o.guid("managed_identity_client_id")?.ok_or_else(|| o.err("managed_identity_client_id", "is required with assertion \"managed-identity\" (only user-assigned identities can be federated)"))? },
                _ => return Err(o.err("assertion", "must be one of file, github-actions, azure-pipelines, managed-identity")),
            };
            IdentityKind::WorkloadIdentity(WorkloadConfig {
                tenant: o.tenant("tenant", true)?.expect("required"),
                client_id: o.required_guid("client_id")?,
                assertion,
                audience: o
                    .string("audience")?
                    .unwrap_or_else(|| "api://AzureADTokenExchange".into()),
                authority_host: o.authority_host("authority_host")?,
            })
        }
        "environment" => {
            o.allow(&["type", "authority_host"])?;
            IdentityKind::Environment {
                authority_host: o.authority_host("authority_host")?,
            }
        }
        "azure-cli" => {
            o.allow(&["type", "tenant"])?;
            IdentityKind::AzureCli {
                tenant: o.tenant("tenant", false)?,
            }
        }
        "user" => {
            o.allow(&[
                "type",
                "tenant",
                "client_id",
                "flow",
                "login_hint",
                "authority_host",
            ])?;
            let flow = match o.string("flow")?.as_deref() {
                None | Some("auto") => UserFlow::Auto,
                Some("browser") => UserFlow::Browser,
                Some("device-code") => UserFlow::DeviceCode,
                Some(_) => return Err(o.err("flow", "must be one of auto, browser, device-code")),
            };
            IdentityKind::User {
                tenant: o.tenant("tenant", false)?,
                client_id: o.guid("client_id")?.unwrap_or_else(|| VS_CLIENT_ID.into()),
                flow,
                login_hint: o.string("login_hint")?,
                authority_host: o.authority_host("authority_host")?,
            }
        }
        "pipeline-token" => {
            o.allow(&["type", "variable"])?;
            IdentityKind::PipelineToken {
                variable: o
                    .string("variable")?
                    .unwrap_or_else(|| "SYSTEM_ACCESSTOKEN".into()),
            }
        }
        "auto" => {
            o.allow(&["type", "authority_host"])?;
            IdentityKind::Auto {
                authority_host: o.authority_host("authority_host")?,
            }
        }
        other => {
            return Err(o.err(
                "type",
                &format!("unknown type \"{other}\" (one of: {TYPES})"),
            ));
        }
    };
    Ok(kind)
}
