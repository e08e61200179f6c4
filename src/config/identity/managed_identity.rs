//! `managed-identity`: the Azure resource's own identity, no secret anywhere.

use super::IdentityKind;
use crate::config::ConfigError;
use crate::config::fields::Obj;

/// A managed identity's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentityConfig {
    /// Which identity to ask for.
    pub selector: MiSelector,
    /// Per-identity retry budget, overriding the file-wide one.
    pub timeout_seconds: Option<u64>,
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

pub(super) fn parse(o: &mut Obj) -> Result<IdentityKind, ConfigError> {
    o.allow(&[
        "type",
        "client_id",
        "object_id",
        "resource_id",
        "managed_identity_timeout_seconds",
    ])?;
    Ok(IdentityKind::ManagedIdentity(ManagedIdentityConfig {
        selector: selector(o)?,
        timeout_seconds: o.uint("managed_identity_timeout_seconds")?,
    }))
}

/// The identity `client_id`, `object_id` or `resource_id` name (at most
/// one), else the system-assigned one; also a Key Vault reader's.
pub(super) fn selector(o: &Obj) -> Result<MiSelector, ConfigError> {
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
        return Err(o.err(
            selectors[1].0,
            &format!(
                "conflicts with {}: name a managed identity by at most one of client_id, object_id, resource_id",
                selectors[0].0
            ),
        ));
    }
    Ok(selectors.pop().map_or(MiSelector::System, |(_, s)| s))
}
