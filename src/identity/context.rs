//! What a token source may use while it acquires a token: the invocation's
//! [`Context`] (environment, trace, HTTP, secrets, prompts, interactivity,
//! directories), plus what this acquisition is for: the identity's name,
//! the resource, and git's request and target (its `wwwauth[]` and
//! organization name the tenant).
//!
//! An `AcquireCx` dereferences to its context, so a source writes
//! `cx.trace` or `cx.env` without caring which of the two holds it.

use std::ops::Deref;

use reqwest::blocking::Client;

use crate::azure_devops::Target;
use crate::context::Context;
use crate::entra::ClientAuth;
use crate::git::protocol::Request;
use crate::identity::Error;
use crate::token::{AccessToken, TokenResponse};

/// Everything a source may use to acquire a token.
pub struct AcquireCx<'a, 'c> {
    /// The invocation's context.
    pub ctx: &'a Context<'c>,
    /// The identity's config name, for messages.
    pub identity: &'a str,
    /// The Entra resource (application id URI) tokens are for.
    pub resource: &'a str,
    /// What git sent, when a git request started this.
    pub request: Option<&'a Request>,
    /// The Azure DevOps organization asked about, when known (tenant discovery).
    pub target: Option<&'a Target>,
}

impl<'c> Deref for AcquireCx<'_, 'c> {
    type Target = Context<'c>;

    fn deref(&self) -> &Context<'c> {
        self.ctx
    }
}

impl<'a, 'c> AcquireCx<'a, 'c> {
    /// An acquisition for `identity`'s Azure DevOps token.
    pub fn new(
        ctx: &'a Context<'c>,
        identity: &'a str,
        request: Option<&'a Request>,
        target: Option<&'a Target>,
    ) -> AcquireCx<'a, 'c> {
        AcquireCx {
            ctx,
            identity,
            resource: crate::azure_devops::RESOURCE,
            request,
            target,
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
            self.ctx.trace,
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
