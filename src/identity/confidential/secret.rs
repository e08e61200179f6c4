//! The secret proof: a client secret from an environment variable, a
//! private file or the OS keyring, read for each token request.

use std::path::Path;

use crate::config::SecretSource;
use crate::identity::{AcquireCx, Error, SecretError};
use crate::sys::files::{Links, open_regular, read_at_most, refuse_if_shared};
use crate::sys::secret::Secret;

/// The client secret `source` names; one in the keyring is under
/// `keyring_account`. The error names the source and the fix.
pub fn read(
    source: &SecretSource,
    keyring_account: &str,
    cx: &AcquireCx,
) -> Result<Secret<String>, Error> {
    let fail = |cause: SecretError| Error::Secret {
        identity: cx.identity.to_string(),
        cause,
    };
    match source {
        SecretSource::Env(var) => cx
            .env
            .get(var)
            .map(|v| Secret::new(v.to_string()))
            .ok_or_else(|| fail(SecretError::EnvUnset { var: var.clone() })),
        SecretSource::File(path) => {
            read_file(path).map_err(|problem| fail(SecretError::File { problem }))
        }
        SecretSource::Keyring => from_keyring(keyring_account, cx),
    }
}

/// The secret `secret set` stored under `account` in the OS keyring (a
/// client secret or a certificate's password).
pub fn from_keyring(account: &str, cx: &AcquireCx) -> Result<Secret<String>, Error> {
    let name = cx.identity;
    let fail = |cause: SecretError| Error::Secret {
        identity: name.to_string(),
        cause,
    };
    let found = cx
        .secrets
        .keyring()
        .map_err(|e| fail(SecretError::NoKeyring(e)))?
        .get(account)
        .map_err(|e| fail(SecretError::Keyring(e)))?;
    found.ok_or_else(|| {
        fail(SecretError::NotStored {
            identity: name.to_string(),
        })
    })
}

/// Reads `client_secret_file`: refused when group or others may read it
/// (like ssh keys), one trailing newline trimmed.
fn read_file(path: &Path) -> Result<Secret<String>, String> {
    const MAX: u64 = 64 * 1024;
    let shown = path.display();
    let (file, meta) = open_regular(path, Links::Follow).map_err(|e| {
        format!(
            "cannot read {shown} (client_secret_file): {e}. Fix: check the path in the config file"
        )
    })?;
    refuse_if_shared(path, &meta, "client_secret_file")?;
    let text = read_at_most(file, MAX)
        .map_err(|e| format!("cannot read {shown} (client_secret_file): {e}"))
        .and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| format!("{shown} (client_secret_file) is not text"))
        })?;
    let secret = Secret::from_text(text);
    if secret.expose().is_empty() {
        return Err(format!(
            "{shown} (client_secret_file) is empty. Fix: write the client secret's value into it"
        ));
    }
    Ok(secret)
}
