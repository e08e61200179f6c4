use super::keyring_store::spill;
use super::notice::{Notice, Notices};
use super::*;
use crate::token::{AccessToken, MAX_TOKEN_BYTES};

fn secret(text: &str) -> Secret<String> {
    Secret::new(text.to_string())
}

/// What `store` holds for `fp`, unwrapped for comparison.
fn loaded(store: &dyn TokenStore, fp: &Fingerprint) -> Option<String> {
    store.load(fp).expect("load").map(|s| s.expose().clone())
}

#[test]
fn fingerprint_is_stable_and_separates_principals() {
    let a = Fingerprint::of(
        "app",
        "https://login.microsoftonline.com/",
        "Contoso.onmicrosoft.com",
        "C1",
        "r",
    );
    let b = Fingerprint::of(
        "app",
        "https://login.microsoftonline.com",
        "contoso.onmicrosoft.com",
        "c1",
        "r",
    );
    assert_eq!(a, b, "case and trailing slash do not matter");
    assert_eq!(a.as_str().len(), 32);
    assert_eq!(Fingerprint::parse(a.as_str()), Some(a.clone()));
    for other in [
        Fingerprint::of(
            "managed-identity",
            "https://login.microsoftonline.com",
            "contoso.onmicrosoft.com",
            "c1",
            "r",
        ),
        Fingerprint::of(
            "app",
            "https://login.microsoftonline.us",
            "contoso.onmicrosoft.com",
            "c1",
            "r",
        ),
        Fingerprint::of(
            "app",
            "https://login.microsoftonline.com",
            "fabrikam",
            "c1",
            "r",
        ),
        Fingerprint::of(
            "app",
            "https://login.microsoftonline.com",
            "contoso.onmicrosoft.com",
            "c2",
            "r",
        ),
        Fingerprint::of(
            "app",
            "https://login.microsoftonline.com",
            "contoso.onmicrosoft.com",
            "c1",
            "r2",
        ),
    ] {
        assert_ne!(a, other);
    }
    assert_eq!(Fingerprint::parse("../../etc/passwd"), None);
}

#[test]
fn stored_entries_cannot_be_printed_by_accident() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(dir.path().join("tokens"));
    let fp = Fingerprint::of("app", "a", "t", "c", "r");
    let entry = AccessToken::with_times(5000, 1000, None).to_json();
    assert_eq!(format!("{entry:?}"), "***");
    store.save(&fp, &entry).expect("save");
    let shown = format!("{:?}", store.load(&fp));
    assert_eq!(shown, "Ok(Some(***))");
}

#[cfg(unix)]
#[test]
fn file_store_is_private_and_atomic() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(dir.path().join("c").join("tokens"));
    let fp = Fingerprint::of("app", "a", "t", "c", "r");
    assert_eq!(store.load(&fp).expect("load"), None);
    store.save(&fp, &secret("one")).expect("save");
    store.save(&fp, &secret("two")).expect("replace");
    assert_eq!(loaded(&store, &fp).as_deref(), Some("two"));
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("c").join("tokens")), 0o700);
    let file = dir
        .path()
        .join("c")
        .join("tokens")
        .join(format!("{fp}.json"));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(store.list(), Some(vec![fp.clone()]));
    let names: Vec<_> = std::fs::read_dir(dir.path().join("c").join("tokens"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp files left: {names:?}");
    store.delete(&fp).expect("delete");
    store.delete(&fp).expect("delete twice");
    assert_eq!(store.load(&fp).expect("load"), None);
}

/// A store that refuses everything it is given, like a keyring over its size limit.
struct Refusing;

impl TokenStore for Refusing {
    fn name(&self) -> &'static str {
        "refusing"
    }
    fn load(&self, _: &Fingerprint) -> Result<Option<Secret<String>>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &Fingerprint, _: &Secret<String>) -> Result<(), StoreError> {
        Err(StoreError("too large".into()))
    }
    fn delete(&self, _: &Fingerprint) -> Result<(), StoreError> {
        Ok(())
    }
}

#[test]
fn spill_falls_back_to_the_file_store_and_says_so_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notices = Notices::new(dir.path(), Trace::off().stderr());
    let s = spill(
        Box::new(Refusing),
        Box::new(FileStore::new(dir.path().join("t"))),
        notices.clone(),
    );
    let fp = Fingerprint::of("app", "a", "t", "c", "r");
    s.save(&fp, &secret("entry")).expect("spilled");
    assert_eq!(loaded(&s, &fp).as_deref(), Some("entry"));
    assert!(
        !notices.first_time(Notice::Spilled),
        "the spill was announced (and remembered)"
    );
    s.delete(&fp).expect("delete");
    assert_eq!(s.load(&fp).expect("load"), None);

    let accepting = spill(
        Box::new(FileStore::new(dir.path().join("k"))),
        Box::new(FileStore::new(dir.path().join("t"))),
        notices.clone(),
    );
    accepting.save(&fp, &secret("entry")).expect("kept");
    assert!(
        notices.first_time(Notice::Spilled),
        "a keyring that accepts again clears the notice"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_forced_keyring_that_is_missing_means_no_cache_and_a_notice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = Trace::off();
    // No session bus in this environment: the Secret Service cannot answer.
    let env = Env::from_pairs([("GIT_CREDENTIAL_ENTRA_CACHE", "keyring")]);
    let store = open(
        &env,
        None,
        dir.path(),
        &trace,
        Interactivity::Forbidden("test"),
    );
    assert_eq!(store.name(), "none");
    let notices = Notices::new(dir.path(), Trace::off().stderr());
    assert!(
        !notices.first_time(Notice::KeyringUnusable),
        "the degraded cache was announced"
    );
}

#[test]
fn a_lock_directory_that_cannot_be_created_is_announced_until_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let said = crate::sys::trace::Captured::default();
    let trace = Trace::new(0, &Env::default(), Box::new(said.clone()));
    let locks = dir.path().join("locks");
    std::fs::write(&locks, b"").expect("block the lock directory");
    check_lock_dir(&locks, dir.path(), &trace);
    // Said once, on the invocation's stream, never on the process's stderr.
    check_lock_dir(&locks, dir.path(), &trace);
    let text = said.text();
    assert_eq!(
        text.matches("cannot create the lock directory").count(),
        1,
        "{text}"
    );
    assert!(
        text.starts_with("git-credential-entra: ") && text.contains("Fix:"),
        "{text}"
    );
    let notices = Notices::new(dir.path(), Trace::off().stderr());
    assert!(!notices.first_time(Notice::LockDir), "announced");
    std::fs::remove_file(&locks).expect("unblock");
    check_lock_dir(&locks, dir.path(), &trace);
    assert!(locks.is_dir());
    assert!(
        notices.first_time(Notice::LockDir),
        "fixed: the marker is gone"
    );
}

#[test]
fn forced_none_and_file_modes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = Trace::off();
    let store_for = |env: &Env| {
        open(
            env,
            Some(CacheMode::File),
            dir.path(),
            &trace,
            Interactivity::Forbidden("test"),
        )
        .name()
    };
    let forced = Env::from_pairs([("GIT_CREDENTIAL_ENTRA_CACHE", "none")]);
    assert_eq!(store_for(&forced), "none");
    let said = crate::sys::trace::Captured::default();
    let bogus = Env::from_pairs([("GIT_CREDENTIAL_ENTRA_CACHE", "bogus")]);
    let told = Trace::new(0, &bogus, Box::new(said.clone()));
    open(
        &bogus,
        None,
        dir.path(),
        &told,
        Interactivity::Forbidden("test"),
    );
    assert!(
        said.text()
            .contains("GIT_CREDENTIAL_ENTRA_CACHE=bogus is not one of auto"),
        "{}",
        said.text()
    );
    assert_eq!(store_for(&Env::default()), "file");
    assert_eq!(CacheMode::parse("KeyRing"), Some(CacheMode::Keyring));
    assert_eq!(CacheMode::parse("disk"), None);
}

#[test]
fn write_and_read_limits_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    let store = FileStore::new(tokens.clone());
    let fp = Fingerprint::of("app", "a", "t", "c", "r");

    let widest = AccessToken {
        token: secret(&"x".repeat(MAX_TOKEN_BYTES)),
        ..AccessToken::with_times(i64::MIN, i64::MIN, Some(i64::MIN))
    };
    assert!(
        widest.to_json().expose().len() <= MAX_ENTRY_BYTES,
        "the longest token with the widest numbers fits"
    );
    let longest = AccessToken {
        token: secret(&"x".repeat(MAX_TOKEN_BYTES)),
        ..AccessToken::with_times(5000, 1000, Some(3000))
    };
    let entry = longest.to_json();
    store
        .save(&fp, &entry)
        .expect("the longest token is stored");
    let back = store.load(&fp).expect("read").expect("present");
    assert_eq!(AccessToken::from_json(back.expose()), Some(longest));

    let oversized = secret(&"x".repeat(MAX_ENTRY_BYTES + 1));
    let refused = store
        .save(&fp, &oversized)
        .expect_err("larger than a reader accepts");
    assert!(refused.0.contains("not stored"), "{refused}");
    assert!(
        loaded(&store, &fp).is_some_and(|t| t == *entry.expose()),
        "the old entry stays"
    );

    std::fs::write(tokens.join(format!("{fp}.json")), oversized.expose()).expect("plant");
    let err = store
        .load(&fp)
        .expect_err("an oversized file is not an entry");
    assert!(err.0.contains("larger than"), "{err}");
    assert_eq!(AccessToken::from_json(oversized.expose()), None);
}
