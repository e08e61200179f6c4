//! Managed identity through IMDS: the request shapes, the documented
//! retries, the failures, caching across processes, and git end to end.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::support::mi_world::{MiWorld, one_error};
use crate::support::world::{field, token_of};
use crate::support::{ADO_RESOURCE, MiKind, Scripted, SeenAuth, now_secs};

#[test]
fn system_and_each_user_assigned_selector_make_the_right_query() {
    let m = MiWorld::new(MiKind::Imds);
    let u = m.mi.add_user_assigned("build");
    m.config(
        &format!(
            r#""vm": {{ "type": "managed-identity" }},
               "by-client": {{ "type": "managed-identity", "client_id": "{}" }},
               "by-object": {{ "type": "managed-identity", "object_id": "{}" }},
               "by-resource": {{ "type": "managed-identity", "resource_id": "{}" }}"#,
            u.client_id, u.object_id, u.resource_id
        ),
        "",
    );
    let cases = [
        ("vm", None, m.mi.system_client_id()),
        (
            "by-client",
            Some(("client_id", &u.client_id)),
            u.client_id.clone(),
        ),
        (
            "by-object",
            Some(("object_id", &u.object_id)),
            u.client_id.clone(),
        ),
        (
            "by-resource",
            Some(("msi_res_id", &u.resource_id)),
            u.client_id.clone(),
        ),
    ];
    for (name, selector, client) in cases {
        let (out, _) = m.get(name);
        assert!(out.status.success(), "{name}: {}", out.stderr);
        let rq = m.mi.requests().pop().expect("a request");
        assert_eq!(
            (rq.method.as_str(), rq.path.as_str()),
            ("GET", "/metadata/identity/oauth2/token")
        );
        let mut expected = vec![
            ("api-version".to_string(), "2018-02-01".to_string()),
            ("resource".to_string(), ADO_RESOURCE.to_string()),
        ];
        if let Some((k, v)) = selector {
            expected.push((k.to_string(), v.to_string()));
        }
        expected.sort();
        assert_eq!(rq.query.into_iter().collect::<Vec<_>>(), expected, "{name}");
        assert_eq!(
            rq.headers.get("metadata").map(String::as_str),
            Some("true"),
            "{name}"
        );
        // Item 3: the Basic username is the identity's client id, never with a colon.
        assert_eq!(
            field(&out.stdout, "username"),
            Some(client.as_str()),
            "{name}"
        );
    }
    assert_eq!(m.mi.requests().len(), 4, "no retries, no probes");
}

#[test]
fn an_explicit_managed_identity_does_not_read_azure_client_id() {
    // As the SDK's ManagedIdentityCredential: AZURE_CLIENT_ID selects the
    // identity only for `auto` (DefaultAzureCredential); `vm` has no selector.
    let mut m = MiWorld::new(MiKind::Imds);
    let u = m.mi.add_user_assigned("build");
    m.w.env.set_env("AZURE_CLIENT_ID", &u.client_id);
    let (out, _) = m.get("vm");
    assert!(out.status.success(), "{}", out.stderr);
    let rq = m.mi.requests().pop().expect("a request");
    assert!(!rq.query.contains_key("client_id"), "{:?}", rq.query);
    assert_eq!(
        field(&out.stdout, "username"),
        Some(m.mi.system_client_id().as_str())
    );
}

#[test]
fn updating_twice_then_a_token_succeeds() {
    let m = MiWorld::new(MiKind::Imds);
    m.mi.push_response(Scripted::status(410));
    m.mi.push_response(Scripted::status(410));
    let (out, took) = m.get("vm");
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(m.mi.requests().len(), 3);
    // Backoff of 1 s then 2 s between the attempts.
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    assert_eq!(token_of(&out.stdout), m.mi.issued_tokens()[0]);
}

#[test]
fn throttling_waits_as_long_as_retry_after_says() {
    let m = MiWorld::new(MiKind::Imds);
    m.mi.push_response(Scripted {
        retry_after: Some("3".into()),
        ..Scripted::status(429)
    });
    let (out, took) = m.get("vm");
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(m.mi.requests().len(), 2);
    // The backoff alone would have waited 1 s.
    assert!(took >= Duration::from_millis(2900), "{took:?}");
}

#[test]
fn identity_not_found_is_one_clear_error_without_retry() {
    let m = MiWorld::new(MiKind::Imds);
    let missing = "0badc0de-1111-2222-3333-444455556666";
    m.config(
        &format!(r#""vm": {{ "type": "managed-identity", "client_id": "{missing}" }}"#),
        "",
    );
    let (out, took) = m.get("vm");
    let line = one_error(&out);
    assert!(
        line.contains("identity 'vm'")
            && line.contains(&format!("client_id {missing}"))
            && line.contains("Identity not found")
            && line.contains("Fix: assign that user-assigned identity"),
        "{line}"
    );
    assert_eq!(m.mi.requests().len(), 1, "not retried");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn other_client_errors_are_not_retried() {
    let m = MiWorld::new(MiKind::Imds);
    m.mi.push_response(Scripted::status(403));
    let line = one_error(&m.get("vm").0);
    assert!(
        line.contains("HTTP 403") && line.contains("scripted HTTP 403"),
        "{line}"
    );
    assert_eq!(m.mi.requests().len(), 1);
}

#[test]
fn no_endpoint_fails_within_two_seconds() {
    let mut m = MiWorld::new(MiKind::Imds);
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    m.w.env.set_env(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        &format!("http://127.0.0.1:{port}"),
    );
    let (out, took) = m.get("vm");
    let line = one_error(&out);
    assert!(
        line.contains("no managed identity endpoint answered here")
            && line.contains(&format!("127.0.0.1:{port}"))
            && line.contains("Fix: run this on an Azure resource"),
        "{line}"
    );
    // Measured well under a second; 5 s leaves room for a loaded machine.
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn an_outage_ends_within_the_configured_budget() {
    let m = MiWorld::new(MiKind::Imds);
    m.config(
        r#""vm": { "type": "managed-identity" }"#,
        r#""managed_identity_timeout_seconds": 3,"#,
    );
    for _ in 0..20 {
        m.mi.push_response(Scripted::status(503));
    }
    let (out, took) = m.get("vm");
    let line = one_error(&out);
    assert!(
        line.contains("HTTP 503") && line.contains("time(s) over"),
        "{line}"
    );
    assert!(m.mi.requests().len() >= 2, "retried");
    assert!(
        took < Duration::from_secs(6),
        "bounded by the 3 s budget: {took:?}"
    );
}

#[test]
fn string_and_number_lifetimes_both_set_the_expiry() {
    for strings in [true, false] {
        let m = MiWorld::new(MiKind::Imds);
        m.mi.set_numbers_as_strings(strings);
        let before = now_secs() as i64;
        let (out, _) = m.get("vm");
        assert!(out.status.success(), "{}", out.stderr);
        let expiry: i64 = field(&out.stdout, "password_expiry_utc")
            .expect("an expiry")
            .parse()
            .expect("a number");
        // 86399 s minus the 300 s margin.
        let expected = before + 86_399 - 300;
        assert!(
            (expiry - expected).abs() <= 5,
            "strings={strings}: {expiry} vs {expected}"
        );
    }
}

#[test]
fn tokens_are_cached_across_processes() {
    let m = MiWorld::new(MiKind::Imds);
    let (first, _) = m.get("vm");
    let second = m.w.helper(&["get"], &m.w.bearer_request());
    assert!(
        first.status.success() && second.status.success(),
        "{}{}",
        first.stderr,
        second.stderr
    );
    assert_eq!(token_of(&first.stdout), token_of(&second.stdout));
    assert_eq!(m.mi.requests().len(), 1, "the second get made no request");
}

#[test]
fn thirty_two_concurrent_cold_gets_make_one_request() {
    let m = MiWorld::new(MiKind::Imds);
    let mut tokens = Vec::new();
    for (code, out, err) in m.w.concurrent_gets(32) {
        assert_eq!(code, Some(0), "{err}");
        tokens.push(token_of(&out));
    }
    assert_eq!(m.mi.requests().len(), 1, "32 cold gets, one request");
    assert!(tokens.iter().all(|t| *t == tokens[0]));
}

#[test]
fn clone_and_push_with_a_user_assigned_identity() {
    let m = MiWorld::new(MiKind::Imds);
    let u = m.mi.add_user_assigned("deploy");
    m.w.ado.allow("contoso", &u.client_id);
    m.config(
        &format!(
            r#""vm": {{ "type": "managed-identity", "client_id": "{}" }}"#,
            u.client_id
        ),
        "",
    );
    m.w.configure_git();
    let env = &m.w.env;
    env.git_ok("git", &["clone", "-q", &m.w.repo_url, "work"]);
    let work = env.path().join("work");
    std::fs::write(work.join("mi.txt"), "pushed by a managed identity\n").expect("write");
    let dir = work.to_str().expect("utf8");
    env.git_ok("git", &["-C", dir, "add", "mi.txt"]);
    env.git_ok("git", &["-C", dir, "commit", "-qm", "mi"]);
    let started = Instant::now();
    env.git_ok("git", &["-C", dir, "push", "-q", "origin", "main"]);
    eprintln!(
        "push with a cached managed-identity token took {:?}",
        started.elapsed()
    );
    let authed = m.w.authed_requests();
    assert!(
        authed.iter().any(|r| r.path.contains("git-receive-pack")),
        "a push happened"
    );
    assert!(
        authed
            .iter()
            .all(|r| r.status == 200 && r.auth != SeenAuth::None),
        "{authed:?}"
    );
    assert_eq!(m.mi.requests().len(), 1, "clone and push share one token");
    env.git_ok("git", &["clone", "-q", &m.w.repo_url, "again"]);
    assert!(env.path().join("again/mi.txt").exists());
}

#[test]
fn an_outage_is_asked_about_once_by_waiting_processes() {
    let m = MiWorld::new(MiKind::Imds);
    m.config(
        r#""vm": { "type": "managed-identity" }"#,
        r#""managed_identity_timeout_seconds": 2,"#,
    );
    for _ in 0..50 {
        m.mi.push_response(Scripted::status(500));
    }
    let mut children: Vec<_> = (0..4).map(|_| m.w.spawn_get()).collect();
    for c in &mut children {
        c.stdin
            .take()
            .expect("stdin")
            .write_all(m.w.request().as_bytes())
            .expect("write the request");
    }
    let mut shared = 0;
    for mut c in children {
        let mut err = String::new();
        c.stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read");
        assert!(!c.wait().expect("wait").success());
        assert!(err.contains("HTTP 500"), "{err}");
        shared += usize::from(err.contains("another git-credential-entra process failed this way"));
    }
    assert_eq!(
        shared, 3,
        "the waiting processes report the first one's failure"
    );
    // One process's attempts within its 2 s budget (1 s backoff, then 2 s no longer fits).
    assert!(m.mi.requests().len() <= 3, "{}", m.mi.requests().len());
}
