//! The human subcommands that manage state: `cache list|clear`, `secret set|delete`.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::app::App;
use crate::cache::{CachedToken, Fingerprint, Freshness};
use crate::cli::{CacheCommand, SecretCommand};
use crate::config::{AUTO, IdentityKind, SecretSource};
use crate::error::Error;
use crate::identity::{self, configured_app};
use crate::secret::Secret;
use crate::timefmt::{now, rfc3339};

/// `cache list` / `cache clear [--identity NAME]`.
pub fn cache(app: &App, command: CacheCommand, stdout: &mut dyn Write) -> Result<(), Error> {
    let config = app.config()?;
    let store = app.store(&config)?;
    // Fingerprint → (identity names, type). Every configured identity plus `auto`.
    let mut known: BTreeMap<Fingerprint, (Vec<String>, &'static str)> = BTreeMap::new();
    let mut unresolved = Vec::new();
    let mut auto_error = None;
    let names = config
        .identities
        .keys()
        .cloned()
        .chain((!config.identities.contains_key(AUTO)).then(|| AUTO.to_string()));
    for name in names {
        if app.identity_flag.as_ref().is_some_and(|f| *f != name) {
            continue;
        }
        match identity::resolve(&name, &config, app.env) {
            Ok(id) => known
                .entry(id.fingerprint())
                .or_insert_with(|| (Vec::new(), id.kind()))
                .0
                .push(name),
            Err(e) if name != AUTO => unresolved.push((name, e)),
            // Without a flag naming it, an unusable `auto` is simply not listed.
            Err(e) => auto_error = Some(e),
        }
    }
    if let Some(flag) = &app.identity_flag
        && known.is_empty()
    {
        return Err(unresolved
            .into_iter()
            .next()
            .map(|(_, e)| e)
            .or(auto_error)
            .unwrap_or_else(|| Error::UnknownIdentity {
                name: flag.clone(),
                file: config.describe_file(),
                known: config.identities.keys().cloned().collect(),
            }));
    }
    if app.identity_flag.is_none() {
        for fp in store.list().unwrap_or_default() {
            known
                .entry(fp)
                .or_insert_with(|| (vec!["(not configured)".into()], "-"));
        }
    }
    let io = |e: std::io::Error| Error::Io(e);
    match command {
        CacheCommand::List => {
            let mut rows = vec![[
                "IDENTITY".to_string(),
                "TYPE".into(),
                "BACKEND".into(),
                "EXPIRES".into(),
                "STATE".into(),
                "FINGERPRINT".into(),
            ]];
            let t = now();
            for (fp, (names, kind)) in &known {
                let entry = store.load(fp);
                let (expires, state) = match &entry {
                    Ok(Some(text)) => match CachedToken::from_json(text.expose()) {
                        Some(c) => (
                            rfc3339(c.expires_on),
                            match c.freshness(t, config.refresh_margin_seconds) {
                                Freshness::Fresh => "fresh",
                                Freshness::RefreshDue => "refresh due",
                                Freshness::Expired => "expired",
                            },
                        ),
                        None => ("-".into(), "unreadable"),
                    },
                    Ok(None) => ("-".into(), "not cached"),
                    Err(_) => ("-".into(), "store error"),
                };
                rows.push([
                    names.join(","),
                    kind.to_string(),
                    store.name().into(),
                    expires,
                    state.into(),
                    fp.to_string(),
                ]);
            }
            for (name, _) in &unresolved {
                rows.push([
                    name.clone(),
                    config.identities[name].type_name().into(),
                    store.name().into(),
                    "-".into(),
                    "cannot resolve".into(),
                    "-".into(),
                ]);
            }
            let widths: Vec<usize> = (0..6)
                .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
                .collect();
            for row in rows {
                let line: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:w$}"))
                    .collect();
                writeln!(stdout, "{}", line.join("  ").trim_end()).map_err(io)?;
            }
        }
        CacheCommand::Clear => {
            let mut removed = 0;
            for fp in known.keys() {
                if matches!(store.load(fp), Ok(Some(_))) {
                    store.delete(fp).map_err(|e| {
                        Error::Command(format!("cannot clear the {} cache: {e}", store.name()))
                    })?;
                    removed += 1;
                }
            }
            writeln!(
                stdout,
                "removed {removed} cached token(s) from the {} cache",
                store.name()
            )
            .map_err(io)?;
        }
    }
    Ok(())
}

/// `secret set|delete --identity NAME`.
pub fn secret(
    app: &App,
    command: SecretCommand,
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<(), Error> {
    let config = app.config()?;
    let Some(name) = app.identity_flag.clone() else {
        return Err(Error::Command(
            "secret needs --identity NAME (the service principal whose secret this is)".into(),
        ));
    };
    let sp = match config.identities.get(&name) {
        Some(IdentityKind::ServicePrincipal(sp)) if matches!(sp.secret, SecretSource::Keyring) => {
            sp
        }
        None | Some(IdentityKind::Auto { .. }) if name == AUTO => {
            return Err(Error::Command(format!(
                "'auto' is the built-in identity; it finds its credentials itself and keeps no secret in the keyring. Fix: define a service-principal identity with \"client_secret_keyring\": true in {} and pass its name to --identity",
                config.describe_file()
            )));
        }
        Some(_) => {
            return Err(Error::Command(format!(
                "identity '{name}' does not read its secret from the keyring. Fix: set \"client_secret_keyring\": true on it (instead of its other secret source)"
            )));
        }
        None => {
            return Err(Error::UnknownIdentity {
                name,
                file: config.describe_file(),
                known: config.identities.keys().cloned().collect(),
            });
        }
    };
    let sp = configured_app(sp, &config, app.env)?;
    let secrets = crate::secrets::Secrets::new(app.env);
    let keyring = secrets
        .keyring()
        .map_err(|e| Error::Command(format!("no OS keyring is available: {e}. Fix: use client_secret_file (mode 600) or client_secret_env instead")))?;
    let account = sp.keyring_account();
    let keyring_err = |e| Error::Command(format!("the {} keyring failed: {e}", keyring.name_str()));
    match command {
        SecretCommand::Set => {
            let secret = if app.stdin_is_terminal {
                // A person pastes it: one line, never shown on the screen.
                crate::terminal::read_hidden_line(stdin, 0, stderr).map_err(|e| {
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
