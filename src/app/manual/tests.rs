use std::path::Path;

use super::*;
use crate::config::Config;

#[test]
fn every_identity_type_the_loader_knows_is_described_once() {
    let described: Vec<&str> = IDENTITY_TYPES.iter().map(|t| t.name).collect();
    let known: Vec<&str> = Kind::ALL.into_iter().map(Kind::config_name).collect();
    assert_eq!(described, known);
}

#[test]
fn the_config_keys_are_the_ones_the_loader_accepts() {
    let file = Path::new("/config.json");
    for key in CONFIG_KEYS {
        let text = format!(r#"{{ "{}": null }}"#, key.name);
        if let Err(e) = Config::parse(&text, file, None) {
            assert!(!e.problem.contains("unknown key"), "{}: {e}", key.name);
        }
    }
    let e = Config::parse(r#"{ "not-a-key": 1 }"#, file, None).expect_err("refused");
    let allowed = e
        .problem
        .split_once("allowed here: ")
        .and_then(|(_, rest)| rest.split(')').next())
        .unwrap_or_else(|| panic!("the loader names the allowed keys: {e}"));
    let described: Vec<&str> = CONFIG_KEYS.iter().map(|k| k.name).collect();
    assert_eq!(allowed.split(", ").collect::<Vec<_>>(), described);
}

/// Names shaped like environment variables in the source that the helper
/// does not read from its environment.
const NOT_READ: &[&str] = &[
    // Set for `az`, `pwsh` and `azd`, not read.
    "AZURE_CORE_NO_COLOR",
    "AZURE_CORE_SURVEY_MESSAGE",
    "POWERSHELL_UPDATECHECK",
    "POWERSHELL_TELEMETRY_OPTOUT",
    "AZD_SKIP_UPDATE_CHECK",
    "AZURE_DEV_COLLECT_TELEMETRY",
    // Not a variable: what the Azure PowerShell script prints without Az.Accounts.
    "NO_AZ_ACCOUNTS_MODULE",
    // Read by rustc at build time.
    "CARGO_PKG_VERSION",
    // An example variable name in configure's advice.
    "CI_CLIENT_SECRET",
    // A test-only override of the Arc agent's token directory.
    "GIT_CREDENTIAL_ENTRA_TEST_ARC_TOKEN_DIR",
];

/// Every string literal in `text` shaped like an environment variable:
/// upper-case words joined by `_` (or a lower-case `*_proxy`).
fn variable_literals(text: &str) -> Vec<&str> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            let upper = s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            let proxy =
                s.ends_with("_proxy") && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            (upper || proxy) && s.contains('_') && !s.ends_with('_')
        })
        .collect()
}

/// The source files under `dir`, without test code (`tests.rs`, and the
/// `#[cfg(test)] mod` that ends a file).
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("tests"))
        {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let code = match text.find("\n#[cfg(test)]\nmod ") {
                Some(end) => text[..end].to_string(),
                None => text,
            };
            let shown = path
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .unwrap_or(&path);
            out.push((shown.display().to_string(), code));
        }
    }
}

#[test]
fn every_variable_the_source_reads_is_in_the_environment_table() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let listed = |name: &str| {
        ENVIRONMENT.iter().any(|i| {
            i.name
                .split([',', ' ', '(', ')'])
                .any(|n| n == name || n.eq_ignore_ascii_case(name) && i.name.contains("lower case"))
        })
    };
    let mut missing = Vec::new();
    for (file, code) in &files {
        for name in variable_literals(code) {
            if !NOT_READ.contains(&name) && !listed(name) {
                missing.push(format!("{name} ({file})"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "read by the source but not in manual::ENVIRONMENT (or add to NOT_READ, saying why): {missing:#?}"
    );
}

#[test]
fn long_help_has_every_table() {
    let help = long_help();
    for title in [
        "Configuration:",
        "Identity types:",
        "Environment:",
        "Files:",
    ] {
        assert!(help.contains(title), "{title}");
    }
    for i in CONFIG_KEYS
        .iter()
        .chain(IDENTITY_TYPES)
        .chain(ENVIRONMENT)
        .chain(FILES)
    {
        assert!(help.contains(i.name) && help.contains(i.what), "{}", i.name);
    }
}
