//! `cache list` and `cache clear`: what is cached for which identity, never
//! printing a token.

use std::collections::BTreeMap;
use std::io::Write;

use crate::app::cli::CacheCommand;
use crate::app::error::Error;
use crate::app::session::Session;
use crate::cache::Fingerprint;
use crate::config::AUTO;
use crate::identity;
use crate::sys::time::{now, rfc3339};
use crate::token::{AccessToken, Freshness};

/// `cache list` / `cache clear [--identity NAME]`.
pub fn run(session: &Session, command: CacheCommand, stdout: &mut dyn Write) -> Result<(), Error> {
    let config = session.config()?;
    let store = session.store(&config)?;
    // Fingerprint → (identity names, type). Every configured identity plus `auto`.
    let mut known: BTreeMap<Fingerprint, (Vec<String>, &'static str)> = BTreeMap::new();
    let mut unresolved = Vec::new();
    let mut auto_error = None;
    let names = config
        .identities
        .keys()
        .cloned()
        .chain((!config.identities.contains_key(AUTO)).then(|| AUTO.to_string()));
    let stored = store.list().unwrap_or_default();
    for name in names {
        if session.identity_flag.as_ref().is_some_and(|f| *f != name) {
            continue;
        }
        match session.resolve(&name, &config) {
            Ok(id) => {
                // A user's tokens, one per tenant: those stored, else its main key.
                let mut fps: Vec<Fingerprint> = id
                    .fingerprints(session.cache_dir().ok())
                    .into_iter()
                    .filter(|fp| stored.contains(fp))
                    .collect();
                if fps.is_empty() {
                    fps.push(id.fingerprint());
                }
                for fp in fps {
                    known
                        .entry(fp)
                        .or_insert_with(|| (Vec::new(), id.kind().display_name()))
                        .0
                        .push(name.clone());
                }
            }
            Err(e) if name != AUTO => unresolved.push((name, e)),
            // Without a flag naming it, an unusable `auto` is simply not listed.
            Err(e) => auto_error = Some(e),
        }
    }
    if let Some(flag) = &session.identity_flag
        && known.is_empty()
    {
        return Err(unresolved
            .into_iter()
            .next()
            .map(|(_, e)| e)
            .or(auto_error)
            .unwrap_or_else(|| {
                identity::Error::UnknownIdentity {
                    name: flag.clone(),
                    file: config.describe_file(),
                    known: config.identities.keys().cloned().collect(),
                }
                .into()
            }));
    }
    if session.identity_flag.is_none() {
        for fp in stored {
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
                    Ok(Some(text)) => match AccessToken::from_json(text.expose()) {
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
                    config.identities[name].kind().to_string(),
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
                    store.delete(fp).map_err(|e| Error::Store {
                        context: format!("cannot clear the {} cache", store.name()),
                        cause: e,
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
