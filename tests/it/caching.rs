//! The token cache across processes: reuse, single flight, expiry, outage
//! fallback, erase, and the stores themselves.

use std::os::unix::fs::PermissionsExt;

use crate::support::world::{CLIENT, SECRET, TENANT, World, field, token_of};
use crate::support::{
    Ci, Scripted, assert_no_leak, now_secs, secret_service_available, skip_unless,
};

#[test]
fn second_get_makes_no_token_request() {
    let w = World::new();
    let first = w.helper(&["get"], &w.request());
    let second = w.helper(&["get"], &w.bearer_request());
    assert!(
        first.status.success() && second.status.success(),
        "{}{}",
        first.stderr,
        second.stderr
    );
    assert_eq!(w.token_requests(), 1);
    assert_eq!(token_of(&first.stdout), token_of(&second.stdout));
}

#[test]
fn two_names_for_one_principal_share_the_entry() {
    let w = World::new();
    w.write_config(&format!(
        r#", "alias": {{ "type": "service-principal", "tenant": "{}", "client_id": "{}", "client_secret_env": "CI_SECRET" }}"#,
        TENANT.to_uppercase(),
        CLIENT
    ));
    w.helper(&["get"], &w.request());
    let out = w.helper(&["get", "--identity", "alias"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 1);
}

fn concurrent_cold_gets(cache: &str, n: usize) {
    let w = World::with_cache(cache);
    let mut tokens = Vec::new();
    for (code, out, err) in w.concurrent_gets(n) {
        assert_eq!(code, Some(0), "{err}");
        tokens.push(token_of(&out));
    }
    assert_eq!(
        w.token_requests(),
        1,
        "{n} concurrent cold gets ({cache}) made one token request"
    );
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "every process returned the same token"
    );
}

#[test]
fn thirty_two_concurrent_cold_gets_make_one_request() {
    concurrent_cold_gets("file", 32);
}

#[test]
fn expiry_uses_the_effective_margin() {
    let w = World::new();
    w.entra.set_lifetime(200);
    let before = now_secs() as i64;
    let out = w.helper(&["get"], &w.request());
    let after = now_secs() as i64;
    let expiry: i64 = field(&out.stdout, "password_expiry_utc")
        .expect("expiry")
        .parse()
        .expect("number");
    // lifetime 200 → margin min(300, 100) = 100 → expiry = received + 200 − 100.
    assert!(
        (before + 100..=after + 100).contains(&expiry),
        "{before} {expiry} {after}"
    );
    let again = w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 1, "still fresh: reused");
    assert_eq!(
        field(&again.stdout, "password_expiry_utc"),
        Some(expiry.to_string().as_str())
    );
}

#[test]
fn short_lived_token_is_replaced_after_half_its_life() {
    let w = World::new();
    w.entra.set_lifetime(400);
    let first = token_of(&w.helper(&["get"], &w.request()).stdout);
    w.age_cache(150);
    let kept = token_of(&w.helper(&["get"], &w.request()).stdout);
    assert_eq!(first, kept, "before half its life (margin min(300, 200))");
    w.age_cache(60);
    let second = token_of(&w.helper(&["get"], &w.request()).stdout);
    assert_ne!(first, second);
    assert_eq!(w.token_requests(), 2);
}

#[test]
fn refresh_in_is_honoured_and_strings_are_numbers() {
    let w = World::new();
    w.entra.set_numbers_as_strings(true);
    w.entra.set_refresh_in(Some(600));
    let first = w.helper(&["get"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 1, "refresh_in not yet elapsed");
    w.age_cache(601);
    w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 2, "refresh_in elapsed: a new token");
}

#[test]
fn outage_serves_the_still_valid_cached_token() {
    let w = World::new();
    w.entra.set_refresh_in(Some(600));
    let first = w.helper(&["get"], &w.request());
    w.age_cache(601);
    let mut down = Scripted::status(503);
    down.retry_after = Some("0".into());
    w.entra.set_outage(Some(down));
    let mut cmd = w.env.helper();
    cmd.args(["get", "-v"]);
    let out = w.env.run(&mut cmd, w.request().as_bytes());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), token_of(&first.stdout));
    assert!(
        out.stderr.contains("serving the cached token"),
        "{}",
        out.stderr
    );
    let expiry: u64 = field(&out.stdout, "password_expiry_utc")
        .expect("expiry")
        .parse()
        .expect("n");
    assert!(expiry > now_secs(), "git must not see it as expired");
    assert!(w.token_requests() >= 2, "Entra was asked");
}

#[test]
fn erase_drops_only_the_rejected_token() {
    let w = World::new();
    let token = token_of(&w.helper(&["get"], &w.request()).stdout);

    let other = format!("{}password=some-other-token-value\n", w.request());
    w.helper(&["erase"], &other);
    w.helper(&["get"], &w.request());
    assert_eq!(
        w.token_requests(),
        1,
        "a different token leaves the cache alone"
    );

    let rejected = format!(
        "capability[]=authtype\nauthtype=Bearer\ncredential={token}\n{}",
        w.request()
    );
    let out = w.helper(&["erase"], &rejected);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        out.stderr
    );
    let fresh = token_of(&w.helper(&["get"], &w.request()).stdout);
    assert_eq!(w.token_requests(), 2, "the rejected token was dropped");
    assert_ne!(fresh, token);
}

#[test]
fn file_store_is_private_holds_no_refresh_token_and_heals() {
    let w = World::new();
    w.helper(&["get"], &w.request());
    let dir = w.env.path().join("cache/git-credential-entra/tokens");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        mode(&w.env.path().join("cache/git-credential-entra")),
        0o700
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), 0o600);
    let text = std::fs::read_to_string(&files[0]).expect("read");
    assert!(!text.contains("refresh_token") && !text.contains(SECRET));

    std::fs::write(&files[0], "{ corrupt").expect("corrupt it");
    let out = w.helper(&["get"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 2, "corrupt entry is a miss");
    let healed = std::fs::read_to_string(&files[0]).expect("read");
    assert!(healed.starts_with("{\"v\":1"), "replaced by a valid entry");
    let runtime = w.env.path().join("runtime/git-credential-entra");
    assert_eq!(
        std::fs::read_dir(runtime).expect("locks").count(),
        1,
        "one lock file, kept"
    );
}

#[test]
fn cache_list_and_clear_never_print_a_token() {
    let w = World::new();
    w.helper(&["get"], &w.request());
    let list = w.helper(&["cache", "list"], "");
    assert!(list.status.success(), "{}", list.stderr);
    assert_no_leak("cache list", &list.stdout);
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with("ci "))
        .expect("a row for ci");
    assert!(
        row.contains("service-principal") && row.contains("file") && row.contains("fresh"),
        "{row}"
    );
    let clear = w.helper(&["cache", "clear"], "");
    assert!(clear.stdout.contains("removed 1"), "{}", clear.stdout);
    let list = w.helper(&["cache", "list"], "");
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("ci ") && l.contains("not cached")),
        "{}",
        list.stdout
    );
    w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 2);
}

#[test]
fn secret_service_store_caches_and_keeps_tokens_out_of_files() {
    if !secret_service_available() {
        return;
    }
    let w = World::with_cache("keyring");
    let first = w.helper(&["get", "-vv"], &w.request());
    assert!(
        first.stderr.contains("using the secret-service store"),
        "{}",
        first.stderr
    );
    let second = w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 1, "{}", second.stderr);
    assert_eq!(token_of(&first.stdout), token_of(&second.stdout));
    let list = w.helper(&["cache", "list"], "");
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("ci ") && l.contains("secret-service") && l.contains("fresh")),
        "{}",
        list.stdout
    );
    crate::leaks::assert_no_token_in_files(w.env.path(), &token_of(&first.stdout));
    w.helper(&["cache", "clear"], "");
}

#[test]
fn secret_service_single_flight() {
    if secret_service_available() {
        concurrent_cold_gets("keyring", 16);
    }
}

#[test]
fn keyutils_store_when_the_kernel_allows_it() {
    let w = World::with_cache("keyutils");
    let first = w.helper(&["get", "-vv"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    let usable = !first.stderr.contains("keyutils unusable");
    let why = first.stderr.lines().find(|l| l.contains("keyutils"));
    let reason = format!("keyutils is not usable here: {}", why.unwrap_or(""));
    if !skip_unless(usable, Ci::MayLack, reason) {
        return;
    }
    w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 1);
    crate::leaks::assert_no_token_in_files(w.env.path(), &token_of(&first.stdout));
    w.helper(&["cache", "clear"], "");
}

#[test]
fn cache_clear_for_one_identity_keeps_the_others() {
    let w = World::new();
    w.write_config(&format!(
        r#", "other": {{ "type": "service-principal", "tenant": "{}", "client_id": "00001111-aaaa-2222-bbbb-3333cccc9999", "client_secret_env": "CI_SECRET" }}"#,
        TENANT
    ));
    w.entra
        .add_app(TENANT, "00001111-aaaa-2222-bbbb-3333cccc9999", SECRET);
    w.helper(&["get"], &w.request());
    w.helper(&["get", "--identity", "other"], &w.request());
    let out = w.helper(&["cache", "clear", "--identity", "other"], "");
    assert!(out.stdout.contains("removed 1"), "{}", out.stdout);
    w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 2, "ci's token survived");
    w.helper(&["get", "--identity", "other"], &w.request());
    assert_eq!(w.token_requests(), 3, "other's token was dropped");
}

#[test]
fn secret_set_keeps_a_client_secret_in_the_os_keyring() {
    // No token cache, so no file under the test root may hold anything secret.
    let w = World::with_cache("none");
    // A unique client id: keyring items outlive the test's temporary HOME.
    let client = crate::support::random_guid();
    w.entra.add_app(TENANT, &client, SECRET);
    w.write_config(&format!(
        r#", "kr": {{ "type": "service-principal", "tenant": "{}", "client_id": "{client}", "client_secret_keyring": true }}"#,
        TENANT
    ));
    let set = w.helper(
        &["secret", "set", "--identity", "kr"],
        &format!("{}\n", SECRET),
    );
    let no_keyring = !set.status.success() && set.stderr.contains("no OS keyring is available");
    let reason = format!("no OS keyring here: {}", set.stderr);
    if !skip_unless(!no_keyring, Ci::Provides, reason) {
        return;
    }
    assert!(set.status.success(), "{}", set.stderr);
    assert!(
        set.stderr.contains("stored the secret of identity 'kr'"),
        "{}",
        set.stderr
    );
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        w.entra.token_requests()[0].secret_ok,
        "the stored secret, without its newline"
    );
    crate::leaks::assert_no_token_in_files(w.env.path(), &token_of(&out.stdout));

    let del = w.helper(&["secret", "delete", "--identity", "kr"], "");
    assert!(del.status.success(), "{}", del.stderr);
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert_eq!(out.stdout, "quit=1\n");
    assert!(
        out.stderr.contains("secret set --identity kr"),
        "{}",
        out.stderr
    );

    let refused = w.helper(&["secret", "set", "--identity", "ci"], "x\n");
    assert!(
        !refused.status.success() && refused.stderr.contains("client_secret_keyring"),
        "{}",
        refused.stderr
    );
}
