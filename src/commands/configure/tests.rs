//! Unit tests of `configure` and `unconfigure` (the git config they write and undo).

use std::path::Path;

use super::binary::{quote_path, shell_word};
use super::*;

#[test]
fn recognises_this_helper_in_every_form_git_config_holds_it() {
    for v in [
        "entra",
        "git-credential-entra",
        "/home/ann/.local/bin/git-credential-entra",
        "!'/home/ann/my tools/git-credential-entra'",
        "C:\\tools\\git-credential-entra.exe",
    ] {
        assert!(is_ours(v), "{v}");
    }
    for v in [
        "",
        "manager",
        "store",
        "entra --identity ci",
        "/usr/bin/git-credential-entra-old",
    ] {
        assert!(!is_ours(v), "{v}");
    }
}

#[test]
fn paths_the_shell_would_split_are_quoted() {
    assert_eq!(
        quote_path(Path::new("/opt/bin/git-credential-entra")),
        "/opt/bin/git-credential-entra"
    );
    assert_eq!(
        quote_path(Path::new("/home/a b/git-credential-entra")),
        "!'/home/a b/git-credential-entra'"
    );
    assert_eq!(quote_path(Path::new("/x/it's/g")), r"!'/x/it'\''s/g'");
    assert!(is_ours(&quote_path(Path::new(
        "/home/it's me/git-credential-entra"
    ))));
    // What a person pastes into a shell: no `!`.
    assert_eq!(shell_word("/opt/bin/x"), "/opt/bin/x");
    assert_eq!(shell_word("/home/it's me/x"), r"'/home/it'\''s me/x'");
}

#[test]
fn sections_that_apply_to_azure_devops() {
    let path = std::env::var("PATH").unwrap_or_default();
    let env = crate::sys::env::Env::from_pairs([("PATH", path.as_str())]);
    let Ok(git) = GitConfig::find(&env) else {
        eprintln!("SKIPPED: no git on PATH");
        return;
    };
    let applies = |pattern: &str, section: &str| {
        report::overlaps(&git, &[pattern], &[section.to_string()]) == [true]
    };
    assert!(applies("", "https://dev.azure.com"));
    assert!(applies(
        "https://dev.azure.com/contoso",
        "https://dev.azure.com"
    ));
    assert!(applies(
        "https://contoso.visualstudio.com",
        "https://*.visualstudio.com"
    ));
    assert!(applies(
        "https://*.visualstudio.com",
        "https://*.visualstudio.com"
    ));
    // git normalises the default port away.
    assert!(applies(
        "https://dev.azure.com:443",
        "https://dev.azure.com"
    ));
    assert!(!applies("https://github.com", "https://dev.azure.com"));
    assert!(!applies("http://dev.azure.com", "https://dev.azure.com"));
    assert!(!applies(
        "https://evilvisualstudio.com",
        "https://*.visualstudio.com"
    ));
    assert!(!applies(
        "https://contoso.visualstudio.com.evil.example",
        "https://*.visualstudio.com"
    ));
}

#[test]
fn restores_saved_lines_then_later_foreign_ones() {
    let s = Section {
        url: "https://dev.azure.com".into(),
        helpers: vec!["".into(), "entra".into(), "later".into()],
        use_http_path: vec!["true".into()],
        saved: vec![
            "helper=".into(),
            "helper=manager".into(),
            "useHttpPath=false".into(),
        ],
    };
    assert_eq!(
        restored(&s),
        (
            vec!["".into(), "manager".into(), "later".into()],
            vec!["false".into()]
        )
    );
}
