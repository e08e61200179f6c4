//! Requests that are not ours, malformed input, and every failure a user can
//! cause: each ends in one clear stderr message and the right stdout.

use std::os::unix::fs::PermissionsExt;

use crate::support::Scripted;
use crate::support::world::{CLIENT, SECRET, TENANT, World};

#[test]
fn requests_that_are_not_ours_get_no_answer_and_no_network() {
    let w = World::new();
    for req in [
        "protocol=https\nhost=github.com\npath=org/repo.git\n".to_string(),
        "protocol=http\nhost=dev.azure.com\npath=contoso/p/_git/r\n".to_string(),
        "protocol=https\nhost=contoso.visualstudio.com.evil.example\n".to_string(),
        "protocol=http\nhost=127.0.0.1:9\npath=contoso/p/_git/r\n".to_string(),
        format!(
            "protocol=https\nhost={}\npath=contoso/p/_git/r\n",
            w.ado.host()
        ),
    ] {
        let out = w.helper(&["get"], &req);
        assert!(out.status.success(), "{req}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{req}");
        assert_eq!(out.stderr, "", "{req}");
    }
    assert_eq!(w.token_requests(), 0);
}

#[test]
fn wrong_secret_names_identity_and_aadsts_code() {
    let mut w = World::new();
    w.env.set_env("CI_SECRET", "this-is-the-wrong-secret-value");
    crate::support::register_sensitive("this-is-the-wrong-secret-value");
    let out = w.helper(&["get"], &w.request());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, "quit=1\n");
    assert!(out.stderr.contains("identity 'ci'"), "{}", out.stderr);
    assert!(
        out.stderr.contains("AADSTS7000215 (invalid client secret)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Fix:"), "{}", out.stderr);
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("git-credential-entra:"))
            .count(),
        1,
        "one message"
    );
}

#[test]
fn entra_errors_are_translated() {
    let w = World::new();
    for (status, error, code, meaning) in [
        (401, "invalid_client", 7000222, "expired"),
        (400, "unauthorized_client", 700016, "application not found"),
        (400, "invalid_request", 90002, "tenant not found"),
        (400, "invalid_scope", 70011, "invalid scope"),
        (400, "invalid_resource", 500011, "not present in the tenant"),
        (400, "invalid_request", 50196, "loop"),
        (400, "invalid_grant", 53003, "Conditional Access"),
    ] {
        w.entra
            .push_response(Scripted::aadsts(status, error, code, "scripted"));
        let out = w.helper(&["get"], &w.request());
        assert_eq!(out.stdout, "quit=1\n");
        assert!(
            out.stderr.contains(&format!("AADSTS{code}")) && out.stderr.contains(meaning),
            "{code}: {}",
            out.stderr
        );
    }
}

#[test]
fn missing_secret_variable_says_what_to_export() {
    let mut w = World::new();
    w.env.set_env("CI_SECRET", "");
    let out = w.helper(&["get"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("CI_SECRET") && out.stderr.contains("export"),
        "{}",
        out.stderr
    );
    assert_eq!(w.token_requests(), 0);
}

#[test]
fn secret_file_must_be_private() {
    let w = World::new();
    let file = w.env.path().join("secret.txt");
    std::fs::write(&file, format!("{SECRET}\n")).expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    w.write_config(&format!(
        r#", "file": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_file": "{}" }}"#,
        file.display()
    ));
    let out = w.helper(&["get", "--identity", "file"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("chmod 600") && out.stderr.contains("secret.txt"),
        "{}",
        out.stderr
    );
    assert_eq!(w.token_requests(), 0);

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = w.helper(&["get", "--identity", "file"], &w.request());
    assert!(
        out.status.success(),
        "trailing newline trimmed: {}",
        out.stderr
    );
    assert!(w.entra.token_requests()[0].secret_ok);

    std::fs::remove_file(&file).expect("rm");
    let out = w.helper(
        &["get", "--identity", "file", "-v"],
        "protocol=http\nhost=127.0.0.1:1\n",
    );
    assert_eq!(
        out.stdout, "",
        "not ours, so the missing file does not matter"
    );
}

#[test]
fn config_mistakes_name_file_and_json_path() {
    let w = World::new();
    let base = w.ado.base_url();
    let cases = [
        (r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_env":"A","colour":"blue"}}}"#.to_string(), "identities.ci.colour"),
        (format!(r#"{{"routes":[{{"url":"{base}/contoso","identity":"ghost"}}]}}"#), "routes[0].identity"),
        (r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_env":"A","client_secret_file":"/x"}}}"#.to_string(), "identities.ci.client_secret_file"),
        (r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_secret_env":"A"}}}"#.to_string(), "identities.ci.client_id"),
        (r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444"}}}"#.to_string(), "identities.ci.client_secret_env"),
        ("{ not json".to_string(), "not valid JSON"),
    ];
    let config = w.env.config_path();
    for (text, path) in cases {
        w.env.write_config(&text);
        let out = w.helper(
            &["get"],
            "protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n",
        );
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert_eq!(
            out.stdout, "quit=1\n",
            "an Azure DevOps host is ours even with a broken config"
        );
        assert!(
            out.stderr.contains(&config.display().to_string()) && out.stderr.contains(path),
            "{path}: {}",
            out.stderr
        );
    }
    // An explicit --config that does not exist is an error too.
    let out = w.helper(
        &["get", "--config", "/nonexistent/config.json"],
        "protocol=https\nhost=dev.azure.com\npath=a\n",
    );
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("/nonexistent/config.json"),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_input_is_refused_without_output() {
    let w = World::new();
    let long = format!(
        "protocol=https\nhost=dev.azure.com\npath={}\n",
        "a".repeat(70_000)
    );
    let huge = format!("protocol=https\n{}", "wwwauth[]=x\n".repeat(200_000));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"protocol=https\nhost\n".to_vec(),
            "line 2 is not of the form key=value",
        ),
        (b"protocol=https\nhost=dev.azure.com\0\n".to_vec(), "NUL"),
        (long.into_bytes(), "longer than 65535"),
        (huge.into_bytes(), "larger than"),
        (b"protocol=https\nhost=\xff\n".to_vec(), "UTF-8"),
    ];
    for (input, message) in cases {
        let out = w.env.run(w.env.helper().arg("get"), &input);
        assert_eq!(out.status.code(), Some(1), "{message}");
        assert_eq!(out.stdout, "", "{message}");
        assert!(out.stderr.contains(message), "{message}: {}", out.stderr);
    }
    assert_eq!(w.token_requests(), 0);
}

#[test]
fn unknown_operations_and_store_are_quiet() {
    let w = World::new();
    for op in ["frobnicate", "store"] {
        let out = w.helper(&[op], &w.request());
        assert!(out.status.success(), "{op}");
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""), "{op}");
    }
    let out = w.helper(&["capability"], "");
    assert_eq!(out.stdout, "version 0\ncapability authtype\n");
    assert_eq!(w.token_requests(), 0);
}

#[test]
fn missing_organization_with_org_routes_says_to_configure() {
    let w = World::new();
    let out = w.helper(&["get"], &format!("protocol=http\nhost={}\n", w.ado.host()));
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains(&format!(
            "`git config --global credential.{}.useHttpPath true`",
            w.ado.base_url()
        )) && out.stderr.contains(&format!(
            "http://ORG@{}/ORG/PROJECT/_git/REPO",
            w.ado.host()
        )) && !out.stderr.contains("git-credential-entra configure"),
        "{}",
        out.stderr
    );
    let out = w.helper(
        &["get"],
        &format!("protocol=http\nhost={}\nusername=contoso\n", w.ado.host()),
    );
    assert!(
        out.status.success(),
        "org from the username: {}",
        out.stderr
    );
}

#[test]
fn missing_secret_file_names_the_path() {
    let w = World::new();
    w.write_config(&format!(
        r#", "file": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_file": "~/nope.txt" }}"#
    ));
    let out = w.helper(&["get", "--identity", "file"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    let expected = w.env.path().join("home/nope.txt");
    assert!(
        out.stderr
            .contains(&format!("cannot read {}", expected.display())),
        "{}",
        out.stderr
    );
}

#[test]
fn without_a_config_auto_says_where_the_file_goes() {
    let env = crate::support::TestEnv::new();
    let out = env.run(
        env.helper().arg("get"),
        b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n",
    );
    assert_eq!(out.stdout, "quit=1\n");
    let expected = format!("{} (create it", env.config_path().display());
    assert!(
        out.stderr.contains("identity 'auto'") && out.stderr.contains(&expected),
        "{}",
        out.stderr
    );
}

/// A mistyped key in the config: `get`'s one line names the key meant.
#[test]
fn a_mistyped_key_names_the_key_meant() {
    let w = World::new();
    let config = std::fs::read_to_string(w.env.config_path()).expect("read config");
    w.env
        .write_config(&config.replace("\"client_secret_env\"", "\"client_secret_evn\""));
    let out = w.helper(&["get"], &w.request());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(
            "identities.ci.client_secret_evn: unknown key here; did you mean \"client_secret_env\"? Fix: rename it to \"client_secret_env\" (allowed here: "
        ),
        "{}",
        lines[0]
    );
    assert_eq!(w.token_requests(), 0);
}
