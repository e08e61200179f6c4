//! The fuzz targets' checks, on stable: every input in the checked-in corpus
//! (`fuzz/corpus/{target}/`) is replayed through the same check functions
//! the cargo-fuzz targets run, so what the fuzzers found stays tested in CI
//! without a nightly toolchain. The checks live in `fuzz/checks/`, shared by
//! both drivers; nothing of them is in the product.

#[path = "../../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

use checks::git_url::{GitCredential, credential_from_url};

#[test]
fn every_corpus_input_passes_its_target_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, check) in checks::TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        inputs.sort();
        assert!(
            inputs.len() >= 3,
            "the {target} corpus is missing or nearly empty"
        );
        for input in inputs {
            let data = std::fs::read(&input).expect("read corpus input");
            // A failing input is named so it can be run again with `cargo fuzz run`.
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", input.display());
        }
    }
}

fn git(url: &str) -> Option<GitCredential> {
    credential_from_url(url.as_bytes())
}

/// The reference model itself agrees with git's own tests (t0300) and the
/// C code's edge cases, so the differential compares against git, not
/// against a copy of our parser's mistakes.
#[test]
fn the_git_url_model_splits_as_git_does() {
    let c = git("https://user:pa%3ass@Host.example:8443//a/b%2F//?q#f").expect("parses");
    assert_eq!(c.protocol, b"https");
    assert_eq!(c.username.as_deref(), Some(&b"user"[..]));
    assert_eq!(c.password.as_deref(), Some(&b"pa:ss"[..]));
    assert_eq!(c.host, b"Host.example:8443");
    assert_eq!(c.path.as_deref(), Some(&b"a/b///?q#f"[..]));
    // A query or fragment ends the host, so this '@' is not a user name's end.
    let c = git("https://evil.example?@dev.azure.com/").expect("parses");
    assert_eq!(c.host, b"evil.example");
    assert_eq!(c.username, None);
    // t0300: "url parser ignores embedded newlines" -> refused.
    assert_eq!(
        git("https://one.example.com?%0ahost=two.example.com/"),
        None
    );
    assert_eq!(git("https://a%0a@b/"), None);
    // No scheme, or an empty one.
    assert_eq!(git("dev.azure.com/x"), None);
    assert_eq!(git("://dev.azure.com/x"), None);
    // %00 stays as text; a colon past the first byte keeps what precedes it raw.
    let c = git("https://h%41:%41@x/%00/%2F").expect("parses");
    assert_eq!(c.username.as_deref(), Some(&b"hA"[..]));
    assert_eq!(c.password.as_deref(), Some(&b"A"[..]));
    assert_eq!(c.path.as_deref(), Some(&b"%00"[..]));
    let c = git("https://x/p%41:%41/").expect("parses");
    assert_eq!(c.path.as_deref(), Some(&b"p%41:A"[..]));
    // A path of only slashes is no path; one that decodes to "/" keeps it.
    assert_eq!(git("https://x///").expect("parses").path, None);
    assert_eq!(
        git("https://x/%2F").expect("parses").path.as_deref(),
        Some(&b"/"[..])
    );
}

/// The differential on the URLs that decide which host gets a token, and on
/// the one deviation allowed (a component that is not UTF-8 once decoded,
/// which git passes on and the helper must refuse).
#[test]
fn the_helper_splits_tricky_urls_as_git_does() {
    for url in [
        "https://evil.example?@dev.azure.com/",
        "https://ann@dev.azure.com/contoso/",
        "https://u:p:q@h:1/p%2F/",
        "https://h%C3%A9/%FF",
    ] {
        checks::url::check(url.as_bytes());
    }
}
