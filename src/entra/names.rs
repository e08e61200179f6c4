//! How Entra names a tenant and an application, checked wherever a name
//! arrives (the config file, `AZURE_*` variables, a tenant Azure DevOps
//! reports): a tenant becomes a path segment of the token endpoint, so only
//! a GUID or a domain name is accepted.

/// A tenant: its id (GUID) or a domain name, lower-cased. It becomes a path
/// segment of the token endpoint, so nothing but letters, digits, '-' and
/// non-empty dot-separated labels is accepted (no '/', '?', '#', '..').
pub fn check_tenant(t: &str) -> Result<String, &'static str> {
    let ok = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        && t.split('.').all(|label| !label.is_empty());
    if ok {
        Ok(t.to_ascii_lowercase())
    } else {
        Err("expected a tenant id (GUID) or domain name")
    }
}

/// An application (client) id: a GUID, lower-cased.
pub fn check_client_id(s: &str) -> Result<String, &'static str> {
    if is_guid(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(
            "expected a GUID such as 00001111-aaaa-2222-bbbb-3333cccc4444 (the application/client id, not its name or the secret id)",
        )
    }
}

/// Whether `s` is a GUID (8-4-4-4-12 hex digits).
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}
