//! Managed identity on App Service, Azure Arc and Cloud Shell: each
//! platform's request shape, and the failures its users meet.

use std::path::{Path, PathBuf};

use crate::support::mi_world::{MiWorld, one_error};
use crate::support::world::field;
use crate::support::{ADO_RESOURCE, CLOUD_SHELL_USER, MiKind, register_sensitive};

const HEADER: &str = "app-service-identity-header-7f3a";

#[test]
fn app_service_sends_its_header_and_selector_names() {
    register_sensitive(HEADER);
    let mut m = MiWorld::new(MiKind::AppService {
        header: HEADER.into(),
    });
    // Traced, so the leak check of stderr covers the header and the tokens.
    m.w.env.set_env("GIT_CREDENTIAL_ENTRA_TRACE", "1");
    let u = m.mi.add_user_assigned("web");
    m.config(
        &format!(
            r#""vm": {{ "type": "managed-identity", "client_id": "{}" }},
               "by-object": {{ "type": "managed-identity", "object_id": "{}" }},
               "by-resource": {{ "type": "managed-identity", "resource_id": "{}" }},
               "sys": {{ "type": "managed-identity" }}"#,
            u.client_id, u.object_id, u.resource_id
        ),
        "",
    );
    for (name, selector) in [
        ("vm", Some(("client_id", &u.client_id))),
        ("by-object", Some(("principal_id", &u.object_id))),
        ("by-resource", Some(("mi_res_id", &u.resource_id))),
        ("sys", None),
    ] {
        let (out, _) = m.get(name);
        assert!(out.status.success(), "{name}: {}", out.stderr);
        let rq = m.mi.requests().pop().expect("a request");
        assert_eq!(
            (rq.method.as_str(), rq.path.as_str()),
            ("GET", "/msi/token")
        );
        assert_eq!(
            rq.headers.get("x-identity-header").map(String::as_str),
            Some(HEADER)
        );
        assert_eq!(
            rq.query.get("api-version").map(String::as_str),
            Some("2019-08-01")
        );
        assert_eq!(
            rq.query.get("resource").map(String::as_str),
            Some(ADO_RESOURCE)
        );
        let sent: Vec<&String> = rq
            .query
            .keys()
            .filter(|k| !["api-version", "resource"].contains(&k.as_str()))
            .collect();
        match selector {
            Some((k, v)) => {
                assert_eq!(sent, [k], "{name}");
                assert_eq!(&rq.query[k], v, "{name}");
            }
            None => assert!(sent.is_empty(), "{name}: {sent:?}"),
        }
    }
    // Item 3: the Basic username of a user-assigned identity is its client id.
    let (out, _) = m.get("vm");
    assert_eq!(field(&out.stdout, "username"), Some(u.client_id.as_str()));
    assert!(!field(&out.stdout, "username").unwrap_or(":").contains(':'));
}

#[test]
fn app_service_with_a_wrong_header_says_what_to_fix() {
    register_sensitive(HEADER);
    let mut m = MiWorld::new(MiKind::AppService {
        header: HEADER.into(),
    });
    let stale = "stale-identity-header-0000";
    register_sensitive(stale);
    m.w.env.set_env("IDENTITY_HEADER", stale);
    let line = one_error(&m.get("vm").0);
    assert!(
        line.contains("refused the X-IDENTITY-HEADER value")
            && line.contains("HTTP 401")
            && line.contains("Fix: do not set IDENTITY_ENDPOINT or IDENTITY_HEADER yourself"),
        "{line}"
    );
    assert_eq!(m.mi.requests().len(), 1, "not retried");
}

#[test]
fn app_service_identity_not_found_names_the_selector() {
    let m = MiWorld::new(MiKind::AppService {
        header: HEADER.into(),
    });
    let missing = "0badc0de-aaaa-bbbb-cccc-ddddeeeeffff";
    m.config(
        &format!(r#""vm": {{ "type": "managed-identity", "object_id": "{missing}" }}"#),
        "",
    );
    let line = one_error(&m.get("vm").0);
    assert!(
        line.contains(&format!("object_id {missing}"))
            && line.contains("Unable to load the proper Managed Identity"),
        "{line}"
    );
    assert_eq!(m.mi.requests().len(), 1);
}

/// An Arc world whose agent's token directory is `dir` (the test-only
/// override), with a key file `name` holding `contents`.
fn arc_world(tmp: &Path, name: &str, contents: &str) -> (MiWorld, PathBuf) {
    let dir = tmp.join("tokens");
    std::fs::create_dir_all(&dir).expect("mkdir tokens");
    let key_file = dir.join(name);
    std::fs::write(&key_file, contents).expect("write the key");
    let mut m = MiWorld::new(MiKind::Arc {
        realm: key_file.display().to_string(),
        key_file: key_file.clone(),
    });
    m.w.env.set_env(
        "GIT_CREDENTIAL_ENTRA_TEST_ARC_TOKEN_DIR",
        dir.to_str().expect("utf8"),
    );
    (m, key_file)
}

#[test]
fn arc_challenge_is_answered_with_the_key_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = "arc-agent-key-3b9c1d7e";
    register_sensitive(key);
    let (mut m, _) = arc_world(tmp.path(), "0f1e2d3c.key", &format!("{key}\n"));
    // Traced, so the leak check of stderr covers the key and the token.
    m.w.env.set_env("GIT_CREDENTIAL_ENTRA_TRACE", "1");
    let (out, _) = m.get("vm");
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr.contains("-> 200 (challenge answered)"),
        "{}",
        out.stderr
    );
    let rqs = m.mi.requests();
    assert_eq!(rqs.len(), 2, "the challenge, then the answer");
    for rq in &rqs {
        assert_eq!(rq.path, "/metadata/identity/oauth2/token");
        assert_eq!(
            rq.query.get("api-version").map(String::as_str),
            Some("2020-06-01")
        );
        assert_eq!(rq.headers.get("metadata").map(String::as_str), Some("true"));
    }
    assert_eq!(rqs[0].headers.get("authorization"), None);
    assert_eq!(
        rqs[1].headers.get("authorization"),
        Some(&format!("Basic {key}"))
    );
    assert_eq!(
        field(&out.stdout, "username"),
        Some(m.mi.system_client_id().as_str())
    );
}

#[test]
fn arc_refuses_key_files_outside_its_rules() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside_secret = "not-for-arc-9d8e7f6a";
    register_sensitive(outside_secret);
    let outside = tmp.path().join("elsewhere.key");
    std::fs::write(&outside, outside_secret).expect("write");
    let cases: [(&str, String, &str); 3] = [
        (
            "outside",
            outside.display().to_string(),
            "is not in the agent's token directory",
        ),
        ("not .key", "agent.pem".into(), "is not a .key file"),
        ("oversized", "big.key".into(), "is larger than 4096 bytes"),
    ];
    for (what, realm, why) in cases {
        let (m, dir_key) = arc_world(tmp.path(), "good.key", "good-key-value-1234");
        let tokens = dir_key.parent().expect("dir").to_path_buf();
        std::fs::write(tokens.join("agent.pem"), "pem-contents-abcdef").expect("write");
        std::fs::write(tokens.join("big.key"), "k".repeat(4097)).expect("write");
        let realm = if realm.starts_with('/') {
            realm
        } else {
            tokens.join(realm).display().to_string()
        };
        m.mi.set_realm(&realm);
        let line = one_error(&m.get("vm").0);
        assert!(
            line.contains(why) && line.contains("Azure Arc"),
            "{what}: {line}"
        );
        let rqs = m.mi.requests();
        assert_eq!(rqs.len(), 1, "{what}: nothing sent after the challenge");
        assert!(!rqs[0].headers.contains_key("authorization"));
    }
}

#[test]
fn arc_refuses_user_assigned_identities_before_any_request() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (m, _) = arc_world(tmp.path(), "k.key", "key-value-abcdef12");
    let id = "11112222-3333-4444-5555-666677778888";
    m.config(
        &format!(r#""vm": {{ "type": "managed-identity", "client_id": "{id}" }}"#),
        "",
    );
    let line = one_error(&m.get("vm").0);
    assert!(
        line.contains("Azure Arc")
            && line.contains("only the system-assigned identity")
            && line.contains(id),
        "{line}"
    );
    assert!(m.mi.requests().is_empty());
}

#[test]
fn cloud_shell_posts_a_form_and_yields_the_user() {
    let m = MiWorld::new(MiKind::CloudShell);
    let (out, _) = m.get("vm");
    assert!(out.status.success(), "{}", out.stderr);
    let rq = m.mi.requests().pop().expect("a request");
    assert_eq!(
        (rq.method.as_str(), rq.path.as_str()),
        ("POST", "/oauth2/token")
    );
    assert_eq!(rq.headers.get("metadata").map(String::as_str), Some("true"));
    assert_eq!(
        rq.form.get("resource").map(String::as_str),
        Some(ADO_RESOURCE)
    );
    assert_eq!(field(&out.stdout, "username"), Some(CLOUD_SHELL_USER));
}
