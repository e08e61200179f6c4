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
mod listener;
mod paste;
mod refresh;

use std::cell::OnceCell;
use std::time::Duration;

use crate::azure_devops::RESOURCE;
use crate::cache::Fingerprint;
use crate::config::{UserConfig, UserFlow};
use crate::error::Error;
use crate::secret::Secret;
use crate::token::{AccessToken, TokenResponse};

use super::{AcquireCx, Interactivity, TokenSource};

pub use crate::tenant::ORGANIZATIONS;

/// How long a browser or paste sign-in may take before the helper gives up.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// A user identity.
#[derive(Debug, Clone)]
pub struct User {
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
    pub fn configured(c: &UserConfig, authority: String, secret_vars: Vec<String>) -> User {
        User {
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
                let found = crate::tenant::discover(org, &target.base, wwwauth, cx.cache_dir);
                cx.trace.decision(format_args!(
                    "{}: tenant {} for organization {org} ({})",
                    cx.identity, found.id, found.how
                ));
                found.id
            })
            .clone()
    }

    /// The keyring account of this user's refresh token.
    pub fn refresh_account(&self) -> String {
        format!("refresh:{}", self.fingerprint())
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

    fn save_refresh(&self, cx: &AcquireCx, rt: &Secret<String>) {
        let saved = cx
            .secrets
            .keyring()
            .and_then(|k| k.set(&self.refresh_account(), rt.expose()));
        if let Err(e) = saved {
            // Never a file: the person signs in again when this token expires.
            cx.prompt.say(format_args!(
                "identity '{}': no OS keyring could keep the sign-in ({e}), so you will sign in again when this access token expires (in about an hour). Fix: run a Secret Service (gnome-keyring, KeePassXC) in your session",
                cx.identity
            ));
        } else {
            cx.trace.decision(format_args!(
                "{}: refresh token kept in the OS keyring",
                cx.identity
            ));
        }
    }

    /// Removes the refresh token; whether one was there.
    pub fn forget(&self, cx: &AcquireCx) -> Result<bool, crate::cache::StoreError> {
        let keyring = cx.secrets.keyring()?;
        let account = self.refresh_account();
        let had = keyring.get(&account)?.is_some();
        keyring.remove(&account)?;
        Ok(had)
    }

    /// The refusal when sign-in is needed and prompts are forbidden; `None`
    /// when a prompt may be shown.
    fn forbidden(&self, cx: &AcquireCx, reason: &str) -> Option<Error> {
        let forbidden_by = match cx.interactivity {
            Interactivity::Always => return None,
            Interactivity::Forbidden(why) => why,
            Interactivity::Allowed => git_forbids_prompts(cx)?,
        };
        Some(Error::SignInRequired {
            identity: cx.identity.to_string(),
            reason: reason.to_string(),
            forbidden_by,
        })
    }
}

/// git's `credential.interactive` (git ≥ 2.47), read only when a prompt is
/// about to be shown, with a bounded wait.
fn git_forbids_prompts(cx: &AcquireCx) -> Option<&'static str> {
    let git = crate::program::find(cx.env, "git")?;
    let value = crate::program::run_bounded(
        &git,
        &["config", "--get", "credential.interactive"],
        Duration::from_secs(2),
    )?;
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "false" | "never" | "no" | "off" | "0"
    )
    .then(|| {
        cx.trace.decision(format_args!(
            "git config credential.interactive forbids prompts"
        ));
        "git's credential.interactive is never"
    })
}

impl TokenSource for User {
    fn kind(&self) -> &'static str {
        "user"
    }

    fn describe(&self) -> String {
        format!(
            "user, tenant {}, client {}, flow {}{}",
            self.tenant.as_deref().unwrap_or("(discovered)"),
            self.client_id,
            self.flow.name(),
            self.login_hint
                .as_deref()
                .map(|h| format!(", account {h}"))
                .unwrap_or_default()
        )
    }

    /// Independent of a tenant not yet discovered, so a cache hit needs no
    /// network; the account hint tells two people on one machine apart.
    fn fingerprint(&self) -> Fingerprint {
        let principal = format!(
            "{}:{}",
            self.client_id,
            self.login_hint.as_deref().unwrap_or("")
        );
        Fingerprint::of(
            "user",
            &self.authority,
            self.tenant.as_deref().unwrap_or(""),
            &principal,
            RESOURCE,
        )
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
