//! `user`: a person signs in once (browser, paste or device code), then the
//! helper refreshes silently with a refresh token kept only in the OS
//! keyring (never a file: without a keyring the person signs in again when
//! the access token expires).
//!
//! A sign-in prompt is shown only when interaction is allowed (contract §7);
//! otherwise the request fails at once with the `login` hint, so nothing
//! waits for a person who is not there.

mod authorize;
mod browser;
mod device_code;
mod keys;
mod listener;
mod paste;
mod refresh;

use std::cell::OnceCell;
use std::time::Duration;

use crate::cache::Fingerprint;
use crate::config::{UserConfig, UserFlow};
use crate::identity::Error;
use crate::token::{AccessToken, TokenResponse};

use super::{AcquireCx, Interactivity, Kind, TokenSource};

pub use crate::azure_devops::tenant::ORGANIZATIONS;

/// How long a browser or paste sign-in may take before the helper gives up.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// A user identity.
#[derive(Debug, Clone)]
pub struct User {
    /// The config name: without an account hint it is what tells two
    /// people's sign-ins apart.
    pub name: String,
    /// Tenant id or domain; `None` until discovered.
    pub tenant: Option<String>,
    /// Public client id.
    pub client_id: String,
    /// Configured flow.
    pub flow: UserFlow,
    /// Account to preselect.
    pub login_hint: Option<String>,
    /// Authority host, no trailing slash.
    pub authority: String,
    /// The config's variables holding secrets, kept from the browser.
    pub secret_vars: Vec<String>,
    /// The tenant found for the organization, once looked up in this run.
    discovered: OnceCell<String>,
}

impl User {
    /// From a config entry; `secret_vars` from [`crate::config::Config::secret_variables`].
    pub fn configured(
        name: &str,
        c: &UserConfig,
        authority: String,
        secret_vars: Vec<String>,
    ) -> User {
        User {
            name: name.to_string(),
            tenant: c.tenant.clone(),
            client_id: c.client_id.clone(),
            flow: c.flow,
            login_hint: c.login_hint.clone(),
            authority,
            secret_vars,
            discovered: OnceCell::new(),
        }
    }

    /// The tenant path segment of every request: the configured tenant,
    /// else the organization's, discovered once per run (git's challenge, a
    /// 7-day memory, or a probe of Azure DevOps), else `organizations`.
    pub fn tenant_for(&self, cx: &AcquireCx) -> String {
        if let Some(t) = &self.tenant {
            return t.clone();
        }
        self.discovered
            .get_or_init(|| {
                let Some((org, target)) = cx.target.and_then(|t| Some((t.org.as_deref()?, t)))
                else {
                    return ORGANIZATIONS.to_string();
                };
                let wwwauth = cx.request.map_or(&[][..], |r| r.wwwauth.as_slice());
                let found = crate::azure_devops::tenant::discover(
                    &cx.http,
                    org,
                    &target.base,
                    wwwauth,
                    cx.cache_dir,
                );
                cx.trace.decision(format_args!(
                    "{}: tenant {} for organization {org} ({})",
                    cx.identity, found.id, found.how
                ));
                found.id
            })
            .clone()
    }

    /// Signs in now with `flow` (`None`: the configured one), whatever the
    /// interactivity: `login` asked for it. Keeps the refresh token.
    pub fn sign_in(&self, cx: &AcquireCx, flow: Option<UserFlow>) -> Result<AccessToken, Error> {
        let flow = self.pick(cx, flow.unwrap_or(self.flow))?;
        let answer = match flow {
            UserFlow::Browser | UserFlow::Auto => browser::sign_in(self, cx),
            UserFlow::Paste => paste::sign_in(self, cx),
            UserFlow::DeviceCode => device_code::sign_in(self, cx),
        }?;
        Ok(self.keep(cx, answer))
    }

    /// The flow `auto` stands for here: the browser when one can be opened,
    /// else paste on a terminal, else device code when prompts are allowed
    /// with no terminal (`GIT_CREDENTIAL_ENTRA_INTERACTIVE=always`).
    fn pick(&self, cx: &AcquireCx, flow: UserFlow) -> Result<UserFlow, Error> {
        if flow != UserFlow::Auto {
            return Ok(flow);
        }
        if browser::can_open(cx.env) {
            Ok(UserFlow::Browser)
        } else if paste::has_terminal() {
            Ok(UserFlow::Paste)
        } else if cx.interactivity == Interactivity::Always {
            Ok(UserFlow::DeviceCode)
        } else {
            Err(Error::SignIn {
                identity: cx.identity.to_string(),
                flow: "auto",
                problem: "no browser can be opened here (BROWSER, DISPLAY and WAYLAND_DISPLAY are unset) and there is no terminal to paste into. Fix: run `git-credential-entra login --flow device-code` (or --flow paste in a terminal), or set BROWSER".into(),
            })
        }
    }

    /// Stores the refresh token (rotated ones replace the old) and returns
    /// the access token.
    fn keep(&self, cx: &AcquireCx, answer: TokenResponse) -> AccessToken {
        if let Some(rt) = &answer.refresh_token {
            self.save_refresh(cx, rt);
        }
        answer.into_access_token()
    }

    /// The refusal when sign-in is needed and prompts are forbidden; `None`
    /// when a prompt may be shown.
    fn forbidden(&self, cx: &AcquireCx, reason: &str) -> Option<Error> {
        let Interactivity::Forbidden(forbidden_by) = cx.may_prompt() else {
            return None;
        };
        Some(Error::SignInRequired {
            identity: cx.identity.to_string(),
            reason: reason.to_string(),
            forbidden_by,
        })
    }
}

impl TokenSource for User {
    fn kind(&self) -> Kind {
        Kind::User
    }

    fn describe(&self) -> String {
        format!(
            "{}, tenant {}, client {}, flow {}{}",
            self.kind(),
            self.tenant.as_deref().unwrap_or("(discovered)"),
            self.client_id,
            self.flow.name(),
            self.login_hint
                .as_deref()
                .map(|h| format!(", account {h}"))
                .unwrap_or_default()
        )
    }

    /// The key with the configured tenant, else `organizations` (what a
    /// request with no organization signs in to).
    fn fingerprint(&self) -> Fingerprint {
        self.key(self.tenant.as_deref().unwrap_or(ORGANIZATIONS))
    }

    /// With the tenant this request uses: found from git's challenge or a
    /// remembered answer without network, so a cache hit stays local; a
    /// first request for an organization probes Azure DevOps once.
    fn fingerprint_for(&self, cx: &AcquireCx) -> Option<Fingerprint> {
        Some(self.fingerprint_in(cx))
    }

    /// One key per tenant remembered for an organization, and the
    /// `organizations` one.
    fn fingerprints(&self, cache_dir: Option<&std::path::Path>) -> Vec<Fingerprint> {
        if self.tenant.is_some() {
            return vec![self.fingerprint()];
        }
        let mut all = vec![self.fingerprint()];
        let remembered = cache_dir
            .map(crate::azure_devops::tenant::remembered)
            .unwrap_or_default();
        for tenant in remembered {
            let fp = self.key(&tenant);
            if !all.contains(&fp) {
                all.push(fp);
            }
        }
        all
    }

    fn acquire(&self, cx: &AcquireCx) -> Result<AccessToken, Error> {
        let reason = match refresh::silently(self, cx)? {
            refresh::Outcome::Token(answer) => return Ok(self.keep(cx, answer)),
            refresh::Outcome::SignIn(reason) => reason,
        };
        if let Some(refusal) = self.forbidden(cx, &reason) {
            return Err(refusal);
        }
        cx.prompt.say(format_args!(
            "identity '{}': {reason}; signing in",
            cx.identity
        ));
        self.sign_in(cx, None)
    }
}

impl UserFlow {
    /// The name used in the config and `--flow`.
    pub fn name(self) -> &'static str {
        match self {
            UserFlow::Auto => "auto",
            UserFlow::Browser => "browser",
            UserFlow::Paste => "paste",
            UserFlow::DeviceCode => "device-code",
        }
    }
}
