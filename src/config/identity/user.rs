//! `user`: a person signs in once (browser, paste or device code), then the
//! helper refreshes silently.

use super::IdentityKind;
use crate::config::ConfigError;
use crate::config::fields::Obj;

/// Visual Studio's public client id, which Azure DevOps accepts for users.
const VS_CLIENT_ID: &str = "872cd9fa-d31f-45e0-9eab-6e460a02d1f1";

/// A user identity's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// Tenant id or domain; discovered from the organization when absent.
    pub tenant: Option<String>,
    /// Public client id.
    pub client_id: String,
    /// How to sign in.
    pub flow: UserFlow,
    /// Account to preselect.
    pub login_hint: Option<String>,
    /// Per-identity authority host.
    pub authority_host: Option<String>,
}

impl Default for UserConfig {
    /// `{"type": "user"}`: Visual Studio's client, tenant discovered, flow auto.
    fn default() -> UserConfig {
        UserConfig {
            tenant: None,
            client_id: VS_CLIENT_ID.into(),
            flow: UserFlow::Auto,
            login_hint: None,
            authority_host: None,
        }
    }
}

/// How a user signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserFlow {
    /// Browser when one can be opened, else paste on a terminal.
    Auto,
    /// System browser with PKCE and a loopback redirect.
    Browser,
    /// Authorize URL printed; the person pastes the redirect address back.
    Paste,
    /// Device code.
    DeviceCode,
}

impl UserFlow {
    /// Parses a flow name as written in the config or `login --flow`.
    pub fn parse(s: &str) -> Option<UserFlow> {
        Some(match s {
            "auto" => UserFlow::Auto,
            "browser" => UserFlow::Browser,
            "paste" => UserFlow::Paste,
            "device-code" => UserFlow::DeviceCode,
            _ => return None,
        })
    }
}

pub(super) fn parse(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    o.allow(&[
        "type",
        "tenant",
        "client_id",
        "flow",
        "login_hint",
        "authority_host",
    ])?;
    let flow = match o.string("flow")? {
        None => UserFlow::Auto,
        Some(f) => UserFlow::parse(&f)
            .ok_or_else(|| o.err("flow", "must be one of auto, browser, paste, device-code"))?,
    };
    Ok(IdentityKind::User(UserConfig {
        tenant: o.tenant("tenant")?,
        client_id: o.guid("client_id")?.unwrap_or_else(|| VS_CLIENT_ID.into()),
        flow,
        login_hint: o.string("login_hint")?,
        authority_host: o.authority_host("authority_host")?,
    }))
}
