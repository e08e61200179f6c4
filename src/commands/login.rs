//! `login` and `logout`: sign a user identity in now (always interactive:
//! the person asked for it), or forget its access and refresh tokens.

use std::io::Write;

use crate::app::error::Error;
use crate::app::session::Session;
use crate::azure_devops::{DEV_AZURE_COM, Target};
use crate::config::{AUTO, Config, IdentityKind, UserFlow};
use crate::identity::{self, AcquireCx, Interactivity, User, configured_user};
use crate::token::claims::Claims;

/// The identity a command is about: `--identity`, else the route for `url`
/// (default `https://dev.azure.com`); and the organization when a URL names one.
fn identity_name(
    session: &Session,
    config: &Config,
    url: Option<&str>,
) -> Result<(String, Option<Target>), Error> {
    let parse = |url: &str| {
        Target::from_url(url, &config.hosts)
            .map_err(|e| Error::Command(format!("cannot read the URL {url}: {e}")))?
            .ok_or_else(|| {
                Error::Command(format!(
                    "{url} is not an Azure DevOps URL (dev.azure.com, *.visualstudio.com or a configured host)"
                ))
            })
    };
    if let Some(name) = &session.identity_flag {
        return Ok((name.clone(), url.map(parse).transpose()?));
    }
    let target = parse(url.unwrap_or(DEV_AZURE_COM))?;
    let name = config
        .route(&target.url)
        .map_or(AUTO, |r| r.identity.as_str())
        .to_string();
    Ok((name, Some(target)))
}

/// The user identity `name`, or why it is not one.
fn user(session: &Session, config: &Config, name: &str) -> Result<User, Error> {
    match config.identities.get(name) {
        Some(IdentityKind::User(c)) => Ok(configured_user(name, c, config, session.env)?),
        Some(other) => Err(Error::Command(format!(
            "identity '{name}' is a {} identity, which signs in by itself; login and logout are for user identities. Fix: pass --identity NAME of a \"type\": \"user\" identity",
            other.kind()
        ))),
        None if name == AUTO => Err(Error::Command(format!(
            "no user identity is routed here (the built-in 'auto' serves it). Fix: add an identity {{\"type\": \"user\"}} and a route to it in {}, or pass --identity NAME",
            config.describe_file()
        ))),
        None => Err(identity::Error::UnknownIdentity {
            name: name.to_string(),
            file: config.describe_file(),
            known: config.identities.keys().cloned().collect(),
        }
        .into()),
    }
}

/// `login [URL] [--identity NAME] [--flow F]`.
pub fn login(
    session: &Session,
    url: Option<&str>,
    flow: Option<&str>,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let config = session.config()?;
    let (name, target) = identity_name(session, &config, url)?;
    let user = user(session, &config, &name)?;
    let flow = flow
        .map(|f| {
            UserFlow::parse(f).ok_or_else(|| {
                Error::Command(format!(
                    "--flow {f:?} is not a flow. Fix: use auto, browser, paste or device-code"
                ))
            })
        })
        .transpose()?;
    let token = {
        let remote = target.as_ref().map_or(DEV_AZURE_COM, |t| t.url.as_str());
        let mut ctx = session.context(&config, stderr, remote)?;
        // `login` was asked for: it runs its flow whatever the environment.
        ctx.interactivity = Interactivity::Always;
        let cx = AcquireCx::new(&ctx, &name, None, target.as_ref());
        let token = user.sign_in(&cx, flow)?;
        let fp = user.fingerprint_in(&cx);
        if let Err(e) = ctx.store.save(&fp, &token.to_json()) {
            session.trace.decision(format_args!(
                "cache: could not store the token ({}): {e}",
                ctx.store.name()
            ));
        }
        token
    };
    let who = Claims::of(token.token.expose())
        .unwrap_or_default()
        .username();
    let _ = writeln!(
        stderr,
        "git-credential-entra: signed in as {} for identity '{name}'",
        crate::sys::text::sanitize(&who)
    );
    Ok(())
}

/// `logout [URL] [--identity NAME] [--all]`.
pub fn logout(
    session: &Session,
    url: Option<&str>,
    all: bool,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let config = session.config()?;
    let names: Vec<String> = if all {
        config
            .identities
            .iter()
            .filter(|(_, k)| matches!(k, IdentityKind::User(_)))
            .map(|(n, _)| n.clone())
            .collect()
    } else {
        vec![identity_name(session, &config, url)?.0]
    };
    if names.is_empty() {
        let _ = writeln!(
            stderr,
            "git-credential-entra: no user identities are configured; nothing to remove"
        );
        return Ok(());
    }
    let mut sink = std::io::sink();
    let ctx = session.context(&config, &mut sink, DEV_AZURE_COM)?;
    let store = &ctx.store;
    for name in names {
        let user = user(session, &config, &name)?;
        let cx = AcquireCx::new(&ctx, &name, None, None);
        // One access token per tenant the identity may have signed in to.
        let mut had_token = false;
        for fp in user.signed_in_keys(&cx) {
            had_token |= matches!(store.load(&fp), Ok(Some(_)));
            store.delete(&fp).map_err(|cause| Error::Store {
                context: format!(
                    "could not remove the access token of identity '{name}' from the {} cache",
                    store.name()
                ),
                cause,
            })?;
        }
        let refresh = match user.forget(&cx) {
            Ok(true) => "its refresh token from the OS keyring".to_string(),
            Ok(false) => "no refresh token (none was kept)".to_string(),
            Err(e) => format!("no refresh token (the OS keyring is not available: {e})"),
        };
        let _ = writeln!(
            stderr,
            "git-credential-entra: identity '{name}': removed {} and {refresh}",
            if had_token {
                format!("its cached access token ({} cache)", store.name())
            } else {
                "no cached access token (none was cached)".to_string()
            }
        );
    }
    Ok(())
}
