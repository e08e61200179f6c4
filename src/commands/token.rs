//! `token [URL]`: an access token for scripts and REST calls, through the
//! same cache → lock → acquire path as git's `get`, so a script and git
//! share one cached token.

use std::io::Write;

use crate::app::cli::{TokenArgs, TokenFormat};
use crate::app::error::Error;
use crate::app::session::Session;
use crate::azure_devops::{DEV_AZURE_COM, Target};
use crate::config::AUTO;
use crate::identity::AcquireCx;
use crate::sys::time::rfc3339;
use crate::token::claims::Claims;
use crate::token::flow;

/// `token [URL] [--format raw|json|header]`.
pub fn run(
    session: &Session,
    args: &TokenArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let config = session.config()?;
    // Tokens are cached and locked outside the current directory, as for git.
    session.cache_dir()?;
    session.lock_dir()?;
    let mut target = None;
    let mut choice = None;
    let identity = match (&args.url, &session.identity_flag) {
        (None, None) => {
            // No organization named: the route written for dev.azure.com
            // itself (else `auto`), not an error about a missing organization.
            let name = config
                .route(DEV_AZURE_COM)
                .map_or(AUTO, |r| r.identity.as_str())
                .to_string();
            session.resolve(&name, &config)?
        }
        (url, _) => {
            let url = url.as_deref().unwrap_or(DEV_AZURE_COM);
            let found = Target::from_url(url, &config.hosts)
                .map_err(|e| Error::Command(format!("token: cannot read the URL {url}: {e}")))?
                .ok_or_else(|| {
                    Error::Command(format!(
                        "token: {url} is not an Azure DevOps URL. Fix: name a URL on https://dev.azure.com or https://ORG.visualstudio.com, or add its host to \"hosts\" in {}",
                        config.describe_file()
                    ))
                })?;
            let (identity, chosen) = session.identity_for(target.insert(found), &config)?;
            choice = Some(chosen);
            identity
        }
    };
    session
        .trace
        .decision(format_args!("token: identity {identity}"));
    let remote = target.as_ref().map_or(DEV_AZURE_COM, |t| t.url.as_str());
    let ctx = session.context(&config, stderr, remote)?;
    let token = flow::get(
        &identity,
        &AcquireCx::new(&ctx, &identity.name, None, target.as_ref()),
    )
    .map_err(|e| match &choice {
        Some(choice) => choice.explain(e.into()),
        None => e.into(),
    })?;
    let text = match args.format {
        TokenFormat::Raw => format!("{}\n", token.token.expose()),
        TokenFormat::Header => format!("Authorization: Bearer {}\n", token.token.expose()),
        TokenFormat::Json => {
            // Only what the token itself says: its expiry and its tenant.
            let tenant = Claims::of(token.token.expose()).and_then(|c| c.tid);
            let value = serde_json::json!({
                "accessToken": token.token.expose(),
                "expiresOn": rfc3339(token.expires_on),
                "expires_on": token.expires_on,
                "tenant": tenant,
                "identity": identity.name,
                "tokenType": "Bearer",
            });
            format!("{value}\n")
        }
    };
    stdout.write_all(text.as_bytes()).map_err(Error::Io)
}
