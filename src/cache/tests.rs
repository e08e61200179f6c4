use super::keyring::spill;
use super::*;

fn token(expires_on: i64, obtained: i64, refresh_on: Option<i64>) -> CachedToken {
    CachedToken {
        token: Secret::new("tok".into()),
        expires_on,
        obtained,
        refresh_on,
    }
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
fn effective_margin_is_min_of_margin_and_half_life() {
    let t = token(1000 + 3600, 1000, None);
    assert_eq!(t.margin(300), 300);
    assert_eq!(t.git_expiry(300, 1000), 4300);
    assert_eq!(
        t.git_expiry(300, 4300),
        4600,
        "past the margin: the real expiry"
    );
    let short = token(1200, 1000, None);
    assert_eq!(short.margin(300), 100);
    assert_eq!(short.git_expiry(300, 1000), 1100);
    assert_eq!(short.freshness(1099, 300), Freshness::Fresh);
    assert_eq!(short.freshness(1100, 300), Freshness::RefreshDue);
    assert_eq!(short.freshness(1200, 300), Freshness::Expired);
}

#[test]
fn refresh_in_makes_a_token_due_early() {
    let t = token(10_000, 1000, Some(2000));
    assert_eq!(t.freshness(1999, 300), Freshness::Fresh);
    assert_eq!(t.freshness(2000, 300), Freshness::RefreshDue);
}

#[test]
fn margin_arithmetic_survives_extreme_times() {
    let far = token(i64::MAX, i64::MIN, None);
    assert_eq!(far.margin(300), 300);
    assert_eq!(far.freshness(0, 300), Freshness::Fresh);
    assert_eq!(far.git_expiry(300, 0), i64::MAX - 300);
    let backwards = token(i64::MIN, i64::MAX, None);
    assert_eq!(backwards.margin(300), 0);
    assert_eq!(backwards.freshness(0, 300), Freshness::Expired);
    let early = token(i64::MIN + 10, i64::MIN, None);
    assert_eq!(early.margin(300), 5);
    assert_eq!(early.git_expiry(300, i64::MIN), i64::MIN + 5);
    assert_eq!(early.freshness(i64::MIN, 300), Freshness::Fresh);
    assert_eq!(
        token(1000, 0, None).margin(-50),
        0,
        "a negative margin never extends a token"
    );
}

#[test]
fn entries_round_trip_and_corrupt_ones_are_misses() {
    let t = token(5000, 1000, Some(3000));
    let json = t.to_json();
    assert_eq!(CachedToken::from_json(&json), Some(t));
    for bad in [
        "",
        "{",
        "null",
        r#"{"v":2,"access_token":"a","expires_on":2,"obtained":1}"#,
        r#"{"v":1,"access_token":"","expires_on":2,"obtained":1}"#,
        r#"{"v":1,"access_token":"a","expires_on":2,"obtained":1,"refresh_token":"r"}"#,
    ] {
        assert_eq!(CachedToken::from_json(bad), None, "{bad}");
    }
    assert!(!json.contains("refresh_token"));
}

#[cfg(unix)]
#[test]
fn file_store_is_private_and_atomic() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(dir.path().join("c").join("tokens"));
    let fp = Fingerprint::of("app", "a", "t", "c", "r");
    assert_eq!(store.load(&fp).expect("load"), None);
    store.save(&fp, "one").expect("save");
    store.save(&fp, "two").expect("replace");
    assert_eq!(store.load(&fp).expect("load").as_deref(), Some("two"));
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
    fn load(&self, _: &Fingerprint) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &Fingerprint, _: &str) -> Result<(), StoreError> {
        Err(StoreError("too large".into()))
    }
    fn delete(&self, _: &Fingerprint) -> Result<(), StoreError> {
        Ok(())
    }
}

#[test]
fn spill_falls_back_to_the_file_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = spill(
        Box::new(Refusing),
        Box::new(FileStore::new(dir.path().join("t"))),
    );
    let fp = Fingerprint::of("app", "a", "t", "c", "r");
    s.save(&fp, "entry").expect("spilled");
    assert_eq!(s.load(&fp).expect("load").as_deref(), Some("entry"));
    s.delete(&fp).expect("delete");
    assert_eq!(s.load(&fp).expect("load"), None);
}

#[test]
fn forced_none_and_file_modes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = Trace::new(0, &Env::default());
    let env = Env::from_pairs([("GIT_CREDENTIAL_ENTRA_CACHE", "none")]);
    assert_eq!(
        open(&env, Some(CacheMode::File), dir.path(), &trace).name(),
        "none"
    );
    let env = Env::default();
    assert_eq!(
        open(&env, Some(CacheMode::File), dir.path(), &trace).name(),
        "file"
    );
    assert_eq!(CacheMode::parse("KeyRing"), Some(CacheMode::Keyring));
    assert_eq!(CacheMode::parse("disk"), None);
}
