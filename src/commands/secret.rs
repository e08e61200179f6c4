//! `secret set` and `secret delete`: a service principal's client secret or
//! certificate password in the OS keyring, read from stdin (never from the
//! command line).

use std::io::{Read, Write};

use crate::app::cli::SecretCommand;
use crate::app::error::Error;
use crate::app::session::Session;
use crate::config::{AUTO, IdentityKind};
use crate::identity::{self, configured_app};
use crate::sys::secret::Secret;

/// `secret set|delete --identity NAME`.
pub fn run(
    session: &Session,
    command: SecretCommand,
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let config = session.config()?;
    let Some(name) = session.identity_flag.clone() else {
        return Err(Error::Command(
            "secret needs --identity NAME (the service principal whose secret this is)".into(),
        ));
    };
    let sp = match config.identities.get(&name) {
        Some(IdentityKind::ServicePrincipal(sp)) if sp.credential.in_keyring() => sp,
        None | Some(IdentityKind::Auto { .. }) if name == AUTO => {
            return Err(Error::Command(format!(
                "'auto' is the built-in identity; it finds its credentials itself and keeps no secret in the keyring. Fix: define a service-principal identity with \"client_secret_keyring\": true in {} and pass its name to --identity",
                config.describe_file()
            )));
        }
        Some(_) => {
            return Err(Error::Command(format!(
                "identity '{name}' does not read a secret from the keyring. Fix: set \"client_secret_keyring\": true on it (instead of its other secret source), or \"certificate_password_keyring\": true for a certificate's password"
            )));
        }
        None => {
            return Err(identity::Error::UnknownIdentity {
                name,
                file: config.describe_file(),
                known: config.identities.keys().cloned().collect(),
            }
            .into());
        }
    };
    let sp = configured_app(sp, &config, session.env)?;
    let secrets = crate::keyring::secrets::Secrets::new(session.env, session.interactivity);
    let keyring = secrets
        .keyring()
        .map_err(|cause| Error::Store {
            context: "no OS keyring is available (Fix: use client_secret_file (mode 600) or client_secret_env instead)".into(),
            cause,
        })?;
    let account = sp.keyring_account();
    let keyring_err = |cause| Error::Store {
        context: format!("the {} keyring failed", keyring.name_str()),
        cause,
    };
    match command {
        SecretCommand::Set => {
            let secret = if session.stdin_is_terminal {
                // A person pastes it: one line, never shown on the screen.
                crate::sys::terminal::read_hidden_line(stdin, crate::sys::terminal::stdin_console(), stderr).map_err(|e| {
                    Error::Command(format!("cannot read the secret from the terminal: {e}. Fix: pipe it in: git-credential-entra secret set --identity {name} < file-with-the-secret"))
                })?
            } else {
                let mut text = String::new();
                stdin
                    .take(64 * 1024)
                    .read_to_string(&mut text)
                    .map_err(|e| {
                        Error::Command(format!("cannot read the secret from stdin: {e}"))
                    })?;
                Secret::from_text(text)
            };
            if secret.expose().is_empty() {
                return Err(Error::Command("no secret on stdin. Fix: git-credential-entra secret set --identity NAME < file-with-the-secret".into()));
            }
            keyring
                .set(&account, secret.expose())
                .map_err(keyring_err)?;
            let _ = writeln!(
                stderr,
                "stored the secret of identity '{name}' in the {} keyring",
                keyring.name_str()
            );
        }
        SecretCommand::Delete => {
            keyring.remove(&account).map_err(keyring_err)?;
            let _ = writeln!(
                stderr,
                "removed the secret of identity '{name}' from the {} keyring",
                keyring.name_str()
            );
        }
    }
    Ok(())
}
