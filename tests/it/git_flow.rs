//! End to end: real git clones and pushes through the helper.

use crate::support::world::{CLIENT, NEW_GIT, OLD_GIT, TENANT, World, field, git_has_authtype};
use crate::support::{Ci, SeenAuth, skip_unless};

#[test]
fn clone_and_push_with_bearer_on_new_git() {
    let w = World::new();
    w.configure_git();
    w.env.git_ok(NEW_GIT, &["clone", &w.repo_url, "work"]);
    let work = w.env.path().join("work");
    std::fs::write(work.join("new.txt"), "hello\n").expect("write");
    let dir = work.to_str().expect("utf8");
    w.env.git_ok(NEW_GIT, &["-C", dir, "add", "new.txt"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "commit", "-qm", "add new.txt"]);
    w.env
        .git_ok(NEW_GIT, &["-C", dir, "push", "origin", "main"]);
    let authed = w.authed_requests();
    assert!(!authed.is_empty());
    let bearer = skip_unless(
        git_has_authtype(),
        Ci::MayLack,
        "the Bearer check, as the git on PATH is older than 2.46 (it uses Basic)",
    );
    let expected = if bearer {
        SeenAuth::Bearer
    } else {
        SeenAuth::Basic {
            username: CLIENT.to_string(),
        }
    };
    assert!(
        authed.iter().all(|r| r.auth == expected && r.status == 200),
        "{authed:?}"
    );
    assert!(
        authed.iter().any(|r| r.path.contains("git-receive-pack")),
        "a push happened"
    );
    assert_eq!(
        w.token_requests(),
        1,
        "clone and push share one cached token"
    );

    // A second clone sees the pushed commit.
    w.env.git_ok(NEW_GIT, &["clone", &w.repo_url, "again"]);
    assert!(w.env.path().join("again/new.txt").exists());
}

#[test]
fn clone_and_push_with_basic_on_old_git() {
    let old_git = std::path::Path::new(OLD_GIT).exists();
    if !skip_unless(old_git, Ci::MayLack, format!("no second git at {OLD_GIT}")) {
        return;
    }
    let w = World::new();
    w.configure_git();
    let version = w.env.git_ok(OLD_GIT, &["--version"]).stdout;
    w.env.git_ok(OLD_GIT, &["clone", &w.repo_url, "work"]);
    let dir = w.env.path().join("work");
    let dir = dir.to_str().expect("utf8");
    w.env.git_ok(
        OLD_GIT,
        &["-C", dir, "commit", "--allow-empty", "-qm", "empty"],
    );
    w.env
        .git_ok(OLD_GIT, &["-C", dir, "push", "origin", "main"]);
    let authed = w.authed_requests();
    assert!(!authed.is_empty(), "{version}");
    for r in &authed {
        assert_eq!(
            r.auth,
            SeenAuth::Basic {
                username: CLIENT.to_string()
            },
            "{version}: {r:?}"
        );
        assert_eq!(r.status, 200);
    }
}

#[test]
fn credential_fill_without_capability_gives_username_and_password() {
    let w = World::new();
    w.configure_git();
    let out = w.env.run(
        w.env.git(NEW_GIT).args(["credential", "fill"]),
        w.request().as_bytes(),
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(field(&out.stdout, "username"), Some(CLIENT));
    assert!(field(&out.stdout, "password").is_some_and(|p| p.starts_with("ey")));
    assert!(field(&out.stdout, "credential").is_none());
    let reason = "the capability half, as the git on PATH is older than 2.46";
    if !skip_unless(git_has_authtype(), Ci::MayLack, reason) {
        return;
    }
    let with_cap = format!("capability[]=authtype\n{}", w.request());
    let out = w.env.run(
        w.env.git(NEW_GIT).args(["credential", "fill"]),
        with_cap.as_bytes(),
    );
    assert_eq!(field(&out.stdout, "authtype"), Some("Bearer"));
    assert!(field(&out.stdout, "credential").is_some());
}

#[test]
fn one_correct_client_credentials_request_per_cold_get() {
    let w = World::with_cache("none");
    for i in 1..=2 {
        let out = w.helper(&["get"], &w.request());
        assert!(out.status.success(), "{}", out.stderr);
        assert_eq!(w.token_requests(), i, "cache none: every get asks once");
    }
    for r in w.entra.token_requests() {
        assert_eq!(r.method, "POST");
        assert_eq!(r.tenant, TENANT);
        assert_eq!(r.path, format!("/{TENANT}/oauth2/v2.0/token"));
        assert_eq!(
            r.form.get("grant_type").map(String::as_str),
            Some("client_credentials")
        );
        assert_eq!(r.form.get("client_id").map(String::as_str), Some(CLIENT));
        assert_eq!(
            r.form.get("scope").map(String::as_str),
            Some("499b84ac-1321-427f-aa17-267ca6975798/.default")
        );
        assert!(r.secret_ok);
    }
}

#[test]
fn bearer_answer_is_exactly_the_contract() {
    let w = World::new();
    let out = w.helper(&["get"], &w.bearer_request());
    assert!(out.status.success(), "{}", out.stderr);
    let keys: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "capability[]",
            "authtype",
            "credential",
            "ephemeral",
            "password_expiry_utc"
        ]
    );
    assert_eq!(field(&out.stdout, "capability[]"), Some("authtype"));
    assert_eq!(field(&out.stdout, "ephemeral"), Some("1"));
    assert!(
        out.stderr.is_empty(),
        "a successful get is silent: {}",
        out.stderr
    );
}

#[test]
fn identity_flag_and_environment_variable_bypass_routing() {
    let w = World::new();
    // A request for another organization has no route: it would use `auto`.
    let other = format!(
        "protocol=http\nhost={}\npath=fabrikam/p/_git/r\n",
        w.ado.host()
    );
    let out = w.helper(&["get"], &other);
    assert_eq!(
        out.stdout, "quit=1\n",
        "auto finds nothing here: {}",
        out.stderr
    );
    let out = w.helper(&["get", "--identity", "ci"], &other);
    assert_eq!(
        field(&out.stdout, "username"),
        Some(CLIENT),
        "{}",
        out.stderr
    );
    let mut env = w.env.helper();
    env.env("GIT_CREDENTIAL_ENTRA_IDENTITY", "ci").arg("get");
    let out = w.env.run(&mut env, other.as_bytes());
    assert_eq!(
        field(&out.stdout, "username"),
        Some(CLIENT),
        "{}",
        out.stderr
    );
    let out = w.helper(&["--identity", "nobody", "get"], &other);
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("no identity named 'nobody'"),
        "{}",
        out.stderr
    );
}
