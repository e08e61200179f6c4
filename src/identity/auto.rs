//! `auto`: the identity used when no route names one, and with no config
//! file at all. It walks the chain Azure's SDKs walk and takes the first
//! link that has credentials here: the `AZURE_*` secret variables
//! (`environment`), a federated token file (workload identity, as AKS sets
//! it), then a managed identity (an endpoint the platform announces, or IMDS
//! answering a short probe), then the Azure CLI when `az` is on PATH.
//! `AZURE_TOKEN_CREDENTIALS` narrows the chain as it does for the SDKs.
//!
//! Deciding reads the environment and, for IMDS, a remembered probe: the
//! probe itself (at most [`PROBE_TIMEOUT`]) runs at most once a day per
//! machine, so a cached `get` on a laptop never waits for a VM endpoint
//! that is not there.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Config, MiSelector};
use crate::env::Env;
use crate::error::Error;
use crate::private_fs::{private_dir, read_private, write_private};
use crate::timefmt::now;
use crate::trace::Trace;

use super::azure_cli;
use super::managed_identity::Endpoint;
use super::{
    AzureCli, EnvCredential, Interactivity, ManagedIdentity, ServicePrincipal, TokenSource, User,
};
use crate::config::UserConfig;

/// Whether a person may be asked to sign in (no I/O beyond isatty).
fn interactivity(env: &Env) -> Interactivity {
    use std::io::IsTerminal;
    Interactivity::from_env(env, std::io::stderr().is_terminal())
}

/// How long IMDS has to answer the probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a probe's answer is remembered.
const PROBE_MEMORY_SECS: i64 = 24 * 3600;
const PROBE_FILE: &str = "imds-probe.json";

/// One link of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    AzureCli,
    User,
}

impl Link {
    fn name(self) -> &'static str {
        match self {
            Link::Environment => "environment",
            Link::WorkloadIdentity => "workload identity",
            Link::ManagedIdentity => "managed identity",
            Link::AzureCli => "Azure CLI",
            Link::User => "interactive sign-in",
        }
    }
}

const CHAIN: [Link; 5] = [
    Link::Environment,
    Link::WorkloadIdentity,
    Link::ManagedIdentity,
    Link::AzureCli,
    Link::User,
];

/// The links `AZURE_TOKEN_CREDENTIALS` allows, as Azure's SDKs read it:
/// `dev` (developer tools), `prod` (deployed workloads), or one credential.
fn allowed(env: &Env) -> Result<Vec<Link>, Error> {
    let Some(value) = env.get("AZURE_TOKEN_CREDENTIALS") else {
        return Ok(CHAIN.to_vec());
    };
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "dev" => vec![Link::AzureCli, Link::User],
        "prod" => vec![
            Link::Environment,
            Link::WorkloadIdentity,
            Link::ManagedIdentity,
        ],
        "environmentcredential" => vec![Link::Environment],
        "workloadidentitycredential" => vec![Link::WorkloadIdentity],
        "managedidentitycredential" => vec![Link::ManagedIdentity],
        "azureclicredential" => vec![Link::AzureCli],
        _ => {
            return Err(Error::Environment {
                var: "AZURE_TOKEN_CREDENTIALS",
                problem: format!(
                    "is {:?}, which this helper does not know. Fix: set it to dev, prod, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential or AzureCliCredential, or unset it",
                    crate::text::sanitize(value)
                ),
            });
        }
    })
}

/// The first link of the chain with credentials here.
pub fn resolve(
    name: &str,
    authority: String,
    config: &Config,
    env: &Env,
    probe: &ImdsProbe,
) -> Result<Box<dyn TokenSource>, Error> {
    let links = allowed(env)?;
    let user_authority = authority.clone();
    let from_env = ServicePrincipal::from_environment(env, authority)?;
    let mut tried = Vec::new();
    let mut skip = |link: Link, why: String| {
        probe
            .trace
            .detail(format_args!("auto: {} skipped: {why}", link.name()));
        tried.push(format!("{} ({why})", link.name()));
    };
    for link in links {
        let found: Option<Box<dyn TokenSource>> = match (link, &from_env) {
            (Link::Environment, EnvCredential::Secret(sp)) => Some(Box::new(sp.clone())),
            (Link::Environment, _) => {
                skip(
                    link,
                    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set"
                        .into(),
                );
                None
            }
            (Link::WorkloadIdentity, EnvCredential::Federated(w)) => Some(Box::new(w.clone())),
            (Link::WorkloadIdentity, _) => {
                skip(
                    link,
                    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE are not all set"
                        .into(),
                );
                None
            }
            (Link::ManagedIdentity, _) => match managed_identity(name, config, env, probe) {
                Ok(mi) => Some(Box::new(mi)),
                Err(why) => {
                    skip(link, why);
                    None
                }
            },
            // Finding az is a few stats; running it waits for acquisition.
            (Link::AzureCli, _) => match azure_cli::find(env) {
                Some(_) => Some(Box::new(AzureCli { tenant: None })),
                None => {
                    skip(link, "az is not in an absolute directory of PATH".into());
                    None
                }
            },
            // Only selected here; a prompt comes later, on a cache miss.
            (Link::User, _) => match interactivity(env) {
                Interactivity::Forbidden(why) => {
                    skip(link, format!("no prompt may be shown: {why}"));
                    None
                }
                _ => Some(Box::new(User::configured(
                    name,
                    &UserConfig::default(),
                    user_authority.clone(),
                ))),
            },
        };
        if let Some(source) = found {
            probe.trace.decision(format_args!(
                "auto: using the {} link: {}",
                link.name(),
                source.describe()
            ));
            return Ok(source);
        }
    }
    Err(Error::NoAutoSource {
        identity: name.to_string(),
        file: config.describe_file(),
        tried,
    })
}

/// The system-assigned managed identity, when an endpoint is announced by
/// the platform or IMDS answers; otherwise why not.
fn managed_identity(
    name: &str,
    config: &Config,
    env: &Env,
    probe: &ImdsProbe,
) -> Result<ManagedIdentity, String> {
    let mi = ManagedIdentity::detect(
        name,
        MiSelector::System,
        config.managed_identity_timeout_seconds,
        env,
    )
    .map_err(|e| e.to_string())?;
    match &mi.endpoint {
        Endpoint::Imds { authority } => {
            if probe.answers(authority) {
                Ok(mi)
            } else {
                Err(format!(
                    "no IMDS answered at {authority} within {} ms; remembered for a day",
                    PROBE_TIMEOUT.as_millis()
                ))
            }
        }
        // The platform announced its endpoint: it is there.
        _ => Ok(mi),
    }
}

/// Whether IMDS answers here, remembered in the cache directory.
pub struct ImdsProbe<'a> {
    memory: Option<&'a Path>,
    trace: &'a Trace,
    live: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Remembered {
    authority: String,
    present: bool,
    at: i64,
}

impl<'a> ImdsProbe<'a> {
    /// A probe whose answers are remembered in `cache_dir` (when there is one).
    pub fn remembered(cache_dir: Option<&'a Path>, trace: &'a Trace) -> ImdsProbe<'a> {
        ImdsProbe {
            memory: cache_dir,
            trace,
            live: true,
        }
    }

    /// A probe that never asks the network: IMDS is taken as absent. For
    /// tests of resolution, which must not reach a real endpoint.
    #[cfg(test)]
    pub fn offline(trace: &'a Trace) -> ImdsProbe<'a> {
        ImdsProbe {
            memory: None,
            trace,
            live: false,
        }
    }

    /// Whether IMDS at `authority` answers: from memory when a fresh answer
    /// is there, else by asking it (briefly) and remembering.
    pub fn answers(&self, authority: &str) -> bool {
        if let Some(present) = self.recall(authority) {
            self.trace.detail(format_args!(
                "auto: IMDS at {authority} {} (remembered)",
                if present {
                    "answers"
                } else {
                    "does not answer"
                }
            ));
            return present;
        }
        let present = self.live && probe(authority);
        self.trace.detail(format_args!(
            "auto: IMDS at {authority} {} a {} ms probe",
            if present {
                "answered"
            } else {
                "did not answer"
            },
            PROBE_TIMEOUT.as_millis()
        ));
        self.remember(authority, present);
        present
    }

    fn recall(&self, authority: &str) -> Option<bool> {
        let text = read_private(&self.memory?.join(PROBE_FILE), 4096).ok()??;
        let r: Remembered = serde_json::from_str(&text).ok()?;
        let age = now().saturating_sub(r.at);
        (r.authority == authority && (0..PROBE_MEMORY_SECS).contains(&age)).then_some(r.present)
    }

    fn remember(&self, authority: &str, present: bool) {
        let Some(dir) = self.memory else { return };
        let text = serde_json::to_string(&Remembered {
            authority: authority.to_string(),
            present,
            at: now(),
        })
        .expect("strings, a bool and an integer always serialise");
        if let Err(e) =
            private_dir(dir).and_then(|()| write_private(dir, PROBE_FILE, text.as_bytes()))
        {
            self.trace
                .detail(format_args!("auto: cannot remember the IMDS probe: {e}"));
        }
    }
}

/// IMDS refuses a token request without `Metadata: true` at once, with
/// HTTP 400: that answer, and only that one, says IMDS is here. Something
/// else answering the address (a filtering proxy's 403 or 502 page) is not
/// IMDS, and must not send every later `get` to it.
fn probe(authority: &str) -> bool {
    let url = format!("{authority}/metadata/identity/oauth2/token?api-version=2018-02-01");
    let Ok(client) = crate::http::managed_identity_client(&url) else {
        return false;
    };
    client
        .get(&url)
        .timeout(PROBE_TIMEOUT)
        .send()
        .is_ok_and(|r| r.status().as_u16() == 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_with(pairs: &[(&str, &str)], probe: &ImdsProbe) -> Result<String, Error> {
        let env = Env::from_pairs(pairs.iter().copied());
        resolve(
            "auto",
            "https://login.microsoftonline.com".into(),
            &Config::default(),
            &env,
            probe,
        )
        .map(|s| s.describe())
    }

    const SECRET_VARS: [(&str, &str); 3] = [
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "00001111-aaaa-2222-bbbb-3333cccc4444"),
        ("AZURE_CLIENT_SECRET", "s"),
    ];

    #[test]
    fn the_chain_takes_the_first_link_with_credentials() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
        // IMDS is pointed at a closed port; a refused connection is "absent".
        let closed = ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        let shown = resolve_with(
            &[SECRET_VARS[0], SECRET_VARS[1], SECRET_VARS[2], closed],
            &probe,
        )
        .expect("environment");
        assert!(shown.starts_with("environment,"), "{shown}");
        let app_service = [
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ];
        let shown = resolve_with(&app_service, &probe).expect("managed identity");
        assert!(shown.contains("App Service"), "{shown}");
        let e = resolve_with(&[closed], &probe).expect_err("nothing here");
        let text = e.to_string();
        for link in [
            "environment (",
            "workload identity (",
            "managed identity (no IMDS",
        ] {
            assert!(text.contains(link), "{link}: {text}");
        }
    }

    #[test]
    fn azure_token_credentials_narrows_the_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
        let closed = ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        let mut pairs = vec![SECRET_VARS[0], SECRET_VARS[1], SECRET_VARS[2], closed];
        pairs.push(("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential"));
        let text = resolve_with(&pairs, &probe)
            .expect_err("only MI")
            .to_string();
        assert!(
            text.contains("managed identity (") && !text.contains("environment ("),
            "{text}"
        );
        pairs.pop();
        pairs.push(("AZURE_TOKEN_CREDENTIALS", "prod"));
        assert!(resolve_with(&pairs, &probe).is_ok());
        pairs.pop();
        pairs.push(("AZURE_TOKEN_CREDENTIALS", "dev"));
        let text = resolve_with(&pairs, &probe)
            .expect_err("dev tools only")
            .to_string();
        assert!(
            text.contains("Azure CLI (") && !text.contains("environment ("),
            "{text}"
        );
        pairs.pop();
        pairs.push(("AZURE_TOKEN_CREDENTIALS", "SomethingElse"));
        assert!(matches!(
            resolve_with(&pairs, &probe),
            Err(Error::Environment {
                var: "AZURE_TOKEN_CREDENTIALS",
                ..
            })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_azure_cli_link_is_taken_when_az_is_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
        let closed = ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let path = bin.display().to_string();
        let text = resolve_with(&[closed, ("PATH", &path)], &probe)
            .expect_err("no az yet")
            .to_string();
        assert!(text.contains("Azure CLI (az is not"), "{text}");
        let az = bin.join("az");
        std::fs::write(&az, "#!/bin/sh\n").expect("write az");
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let shown = resolve_with(&[closed, ("PATH", &path)], &probe).expect("az");
        assert!(shown.starts_with("azure-cli,"), "{shown}");
        // Before it in the chain, the environment still wins.
        let shown = resolve_with(
            &[
                SECRET_VARS[0],
                SECRET_VARS[1],
                SECRET_VARS[2],
                ("PATH", &path),
            ],
            &probe,
        )
        .expect("environment");
        assert!(shown.starts_with("environment,"), "{shown}");
    }

    /// A one-request HTTP server on loopback answering `status_line`.
    fn answer_once(status_line: &'static str) -> (String, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ =
                    s.write_all(format!("{status_line}\r\ncontent-length: 0\r\n\r\n").as_bytes());
            }
        });
        (url, server)
    }

    #[test]
    fn only_imdss_own_refusal_counts_as_imds() {
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(None, &trace);
        let (url, server) = answer_once("HTTP/1.1 403 Forbidden");
        assert!(!probe.answers(&url), "a filtering proxy's page is not IMDS");
        server.join().expect("server");
    }

    #[test]
    fn probe_answers_are_remembered_per_authority() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
        // IMDS's answer to a request without `Metadata: true`; then close.
        let (open, server) = answer_once("HTTP/1.1 400 Bad Request");
        assert!(probe.answers(&open), "a live endpoint answers");
        server.join().expect("server");
        assert!(
            probe.answers(&open),
            "remembered: the closed listener is not asked"
        );
        assert!(
            !probe.answers("http://127.0.0.1:9"),
            "another authority is probed"
        );
        assert_eq!(probe.recall("http://127.0.0.1:9"), Some(false));
        assert_eq!(
            probe.recall(&open),
            None,
            "one authority is remembered at a time"
        );
    }
}
