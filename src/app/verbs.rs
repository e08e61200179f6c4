//! git's verbs: read the request, decide whether it is ours, route it to an
//! identity, get a token through the cache, answer (`get`); drop a rejected
//! token (`erase`); nothing (`store`); announce capabilities.
//!
//! Takes `Read`/`Write` handles so tests can drive it without a process.
//! stdout carries only the protocol answer (or `quit=1` when a request we
//! own cannot be served); errors are returned for the caller to print once.

use std::io::{Read, Write};

use crate::app::error::Error;
use crate::app::session::Session;
use crate::azure_devops::{Target, recognise};
use crate::config::Config;
use crate::git::protocol::{self, Response};
use crate::identity::{AcquireCx, Resolved};
use crate::sys::time::now;
use crate::token::claims::Claims;
use crate::token::flow::{self, Erased};

/// An error, and whether git must be told to stop (`quit=1`).
pub struct Failure {
    /// What went wrong.
    pub error: Error,
    /// Whether git must be told `quit=1`.
    pub quit: bool,
}

impl Failure {
    pub fn quit(error: impl Into<Error>) -> Failure {
        Failure {
            error: error.into(),
            quit: true,
        }
    }
    pub fn plain(error: impl Into<Error>) -> Failure {
        Failure {
            error: error.into(),
            quit: false,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::plain(error)
    }
}

/// `store`: nothing to keep, tokens are cached when acquired. Drains git's
/// request so git never writes into a closed pipe.
pub fn store(stdin: &mut dyn Read) -> Result<(), Failure> {
    let _ = std::io::copy(
        &mut stdin.take(protocol::MAX_INPUT as u64),
        &mut std::io::sink(),
    );
    Ok(())
}

/// `capability` (git ≥ 2.46).
pub fn capability(stdout: &mut dyn Write) -> Result<(), Failure> {
    stdout
        .write_all(b"version 0\ncapability authtype\n")
        .map_err(|e| Failure::plain(Error::Io(e)))
}

/// The request and config, and the target when the request is ours.
fn understand(
    s: &Session,
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<Option<(protocol::Request, Config, Target)>, Failure> {
    if s.stdin_is_terminal {
        // A person ran it by hand; without this it waits in silence.
        let _ = writeln!(
            stderr,
            "git-credential-entra: reading a git credential request: key=value lines such as protocol=https, host=dev.azure.com, path=ORG/PROJECT/_git/REPO; end with an empty line"
        );
    }
    let request = protocol::read_request(stdin).map_err(Failure::plain)?;
    s.trace
        .detail(format_args!("request: {}", request.locator()));
    let ignored = || {
        s.trace.detail(format_args!(
            "not an Azure DevOps request ({}://{}): ignored",
            request.protocol.as_deref().unwrap_or("?"),
            request.host.as_deref().unwrap_or("?")
        ));
    };
    let config = match s.config() {
        Ok(c) => c,
        // Without a home there is no config to list extra hosts, so only
        // Azure DevOps's own hosts are ours; anything else stays silent,
        // as for any request that is not ours.
        Err(Error::NoHome(e)) if recognise(&request, &[]).is_none() => {
            s.trace.detail(format_args!("{e}"));
            ignored();
            return Ok(None);
        }
        // Broken config: we cannot know the extra hosts, but Azure DevOps's
        // own hosts are certainly ours, and git must stop there.
        Err(e) => {
            return Err(Failure {
                quit: recognise(&request, &[]).is_some(),
                error: e,
            });
        }
    };
    let Some(target) = recognise(&request, &config.hosts) else {
        ignored();
        return Ok(None);
    };
    // Checked before any identity is resolved, so nothing is acquired
    // that could not be cached or locked outside the repository.
    s.cache_dir().map_err(Failure::quit)?;
    s.lock_dir().map_err(Failure::quit)?;
    Ok(Some((request, config, target)))
}

pub fn get(
    s: &Session,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), Failure> {
    let Some((request, config, target)) = understand(s, stdin, stderr)? else {
        return Ok(());
    };
    let (identity, choice) = s.identity_for(&target, &config).map_err(Failure::quit)?;
    s.trace.decision(format_args!("identity {identity}"));
    let token = with_tokens(s, &config, &identity, &request, &target, stderr, |cx| {
        flow::get(&identity, cx)
    })
    .and_then(|got| got.map_err(|e| choice.explain(e.into())))
    .map_err(Failure::quit)?;
    let expiry = token.git_expiry(config.refresh_margin_seconds, now());
    let username;
    let response = if request.offers_authtype() {
        Response::Bearer {
            token: &token.token,
            expiry,
        }
    } else {
        username = Claims::of(token.token.expose())
            .unwrap_or_default()
            .username();
        Response::Basic {
            username: &username,
            password: &token.token,
            expiry,
        }
    };
    protocol::write_response(stdout, &response).map_err(|e| Failure::quit(Error::Io(e)))
}

pub fn erase(s: &Session, stdin: &mut dyn Read, stderr: &mut dyn Write) -> Result<(), Failure> {
    let Some((request, config, target)) = understand(s, stdin, stderr)? else {
        return Ok(());
    };
    let Some(rejected) = request.rejected_secret() else {
        return Ok(());
    };
    let erased = match s.identity_for(&target, &config) {
        Ok((identity, _)) => with_tokens(s, &config, &identity, &request, &target, stderr, |cx| {
            match flow::erase(&identity, rejected, cx) {
                Ok(outcome) => s.trace.decision(format_args!(
                    "erase for '{}': {}",
                    identity.name,
                    match outcome {
                        Erased::Dropped => "dropped the rejected token",
                        Erased::Kept => "the cached token is not the rejected one; kept",
                        Erased::NotCached => "no cached token",
                    }
                )),
                // git ignores what erase says; the person reading stderr should know.
                Err(e) => cx.prompt.say(format_args!("{e}")),
            }
        }),
        Err(e) => {
            s.trace
                .decision(format_args!("erase: nothing to drop ({e})"));
            Ok(())
        }
    };
    // A refused token may have come from the wrong tenant: discover it
    // again. Only now: the tenant decided which cached token was dropped.
    if let (Some(org), Ok(dir)) = (&target.org, s.cache_dir()) {
        match crate::azure_devops::tenant::forget(org, &target.base, dir) {
            Ok(true) => s.trace.decision(format_args!(
                "erase: forgot the tenant of {}/{org}",
                target.base
            )),
            Ok(false) => {}
            Err(e) => s
                .trace
                .detail(format_args!("erase: cannot forget the tenant: {e}")),
        }
    }
    Ok(erased?)
}

/// Runs `f` with the context for `identity` serving git's `request`;
/// prompts go to `stderr`.
fn with_tokens<T>(
    s: &Session,
    config: &Config,
    identity: &Resolved,
    request: &protocol::Request,
    target: &Target,
    stderr: &mut dyn Write,
    f: impl FnOnce(&AcquireCx) -> T,
) -> Result<T, Error> {
    let ctx = s.context(config, stderr, &target.url)?;
    let cx = AcquireCx::new(&ctx, &identity.name, Some(request), Some(target));
    Ok(f(&cx))
}
