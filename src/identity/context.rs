//! What a token source may use while it acquires a token: the environment,
//! the trace, HTTP, the secret store, the interactivity policy, a place for
//! prompts (never stdout, which belongs to git), the resource, and git's
//! request (its `wwwauth[]` names the tenant).
//!
//! Built before the cache is consulted but does no I/O itself: the keyring
//! and HTTP clients open on first use, so a cache hit costs nothing here.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;

use reqwest::blocking::Client;

use std::path::Path;

use crate::azure_devops::Target;
use crate::entra::ClientAuth;
use crate::git::protocol::Request;
use crate::identity::Error;
use crate::keyring::secrets::Secrets;
use crate::net::http::HttpSetupError;
use crate::sys::env::Env;
use crate::sys::interactivity::Interactivity;
use crate::sys::trace::Trace;
use crate::token::{AccessToken, TokenResponse};

/// Everything a source may use to acquire a token.
pub struct AcquireCx<'a> {
    /// The identity's config name, for messages.
    pub identity: &'a str,
    /// Environment snapshot.
    pub env: &'a Env,
    /// Trace sink.
    pub trace: &'a Trace,
    /// Builds HTTP clients on demand.
    pub http: Http,
    /// Secrets kept in the OS keyring, opened on first use.
    pub secrets: &'a Secrets<'a>,
    /// Whether a person may be asked anything.
    pub interactivity: Interactivity,
    /// Where prompts and progress for a person go.
    pub prompt: &'a Prompt<'a>,
    /// The Entra resource (application id URI) tokens are for.
    pub resource: &'a str,
    /// What git sent, when a git request started this.
    pub request: Option<&'a Request>,
    /// The Azure DevOps organization asked about, when known (tenant discovery).
    pub target: Option<&'a Target>,
    /// The cache directory, for what a source remembers between runs.
    pub cache_dir: Option<&'a Path>,
}

impl<'a> AcquireCx<'a> {
    /// A context for unit tests of sources: no prompts, no request, no cache.
    #[cfg(test)]
    pub fn for_test(
        identity: &'a str,
        env: &'a Env,
        trace: &'a Trace,
        secrets: &'a Secrets<'a>,
        prompt: &'a Prompt<'a>,
    ) -> AcquireCx<'a> {
        AcquireCx {
            identity,
            env,
            trace,
            http: Http,
            secrets,
            interactivity: Interactivity::Forbidden("test"),
            prompt,
            resource: crate::azure_devops::RESOURCE,
            request: None,
            target: None,
            cache_dir: None,
        }
    }

    /// An application's token from Entra's client-credentials grant at
    /// `{authority}/{tenant}`, with failures named for this identity and `step`.
    pub fn client_credentials(
        &self,
        authority: &str,
        tenant: &str,
        client_id: &str,
        auth: &ClientAuth,
        step: &'static str,
    ) -> Result<AccessToken, Error> {
        let http = self.entra_client(authority)?;
        crate::entra::client_credentials(
            &http,
            authority,
            tenant,
            client_id,
            &self.scope(),
            auth,
            self.trace,
        )
        .map(TokenResponse::into_access_token)
        .map_err(|source| Error::Entra {
            identity: self.identity.to_string(),
            step,
            source: Box::new(source),
        })
    }

    /// A client for the Entra authority at `authority`, its set-up failure
    /// named for this identity.
    pub fn entra_client(&self, authority: &str) -> Result<Client, Error> {
        self.http.entra(authority).map_err(|cause| Error::Http {
            identity: self.identity.to_string(),
            cause,
        })
    }

    /// The v2 scope for the resource.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.resource)
    }
}

/// The one way sources get HTTP clients: built only when a source asks,
/// with the rules of `net::http` (timeouts, proxies, no redirects).
#[derive(Debug, Clone, Copy, Default)]
pub struct Http;

impl Http {
    /// A client for Entra's token endpoint at `url`.
    pub fn entra(&self, url: &str) -> Result<Client, HttpSetupError> {
        crate::net::http::entra_client(url)
    }

    /// A client for the managed-identity endpoint at `url` (no proxy, short
    /// connect timeout, link-local or loopback addresses only).
    pub fn managed_identity(&self, url: &str) -> Result<Client, HttpSetupError> {
        crate::net::http::managed_identity_client(url)
    }

    /// A client for a CI platform's OIDC endpoint at `url` (GitHub Actions,
    /// Azure Pipelines): the same rules as for Entra — https (plain http
    /// only to loopback), the environment's proxy, no redirects (the request
    /// carries the job's token, which must not be replayed elsewhere).
    pub fn oidc(&self, url: &str) -> Result<Client, HttpSetupError> {
        crate::net::http::entra_client(url)
    }
}

/// Messages for the person at the terminal (stderr): never git's stdout.
pub struct Prompt<'a> {
    out: RefCell<&'a mut dyn Write>,
}

impl<'a> Prompt<'a> {
    /// Prompts written to `out` (stderr in the binary, a buffer in tests).
    pub fn new(out: &'a mut dyn Write) -> Prompt<'a> {
        Prompt {
            out: RefCell::new(out),
        }
    }

    /// One line, prefixed with the program's name.
    pub fn say(&self, args: fmt::Arguments) {
        // A prompt that cannot be shown must not fail the request.
        let line = crate::sys::text::inert(args);
        let _ = writeln!(self.out.borrow_mut(), "git-credential-entra: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_go_to_their_writer() {
        let mut buf = Vec::new();
        Prompt::new(&mut buf).say(format_args!("waiting"));
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            "git-credential-entra: waiting\n"
        );
    }
}
