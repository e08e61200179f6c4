//! `doctor` through the real binary against the fakes: a working setup
//! passes every check (exit 0); each way to break it fails (non-zero) with
//! its own fix line; `--json` keeps its shape.

use serde_json::Value;

use crate::support::world::{CLIENT, SECRET, TENANT, World};
use crate::support::{RunOutput, Scripted, assert_no_leak};

/// A second app in the organization's tenant.
const OTHER: &str = "99998888-aaaa-2222-bbbb-3333cccc4444";

fn doctor(w: &World, args: &[&str]) -> RunOutput {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let out = w.helper(&all, "");
    assert_no_leak("doctor's stdout", &out.stdout);
    out
}

/// The line of check `name`, and the fix line under it when there is one.
fn line<'a>(out: &'a str, name: &str) -> (&'a str, Option<&'a str>) {
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with(' ')
            && l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{name}:")))
        {
            let fix = lines.next().filter(|f| f.starts_with("    fix: "));
            return (l, fix);
        }
    }
    panic!("no '{name}' check in:\n{out}");
}

fn assert_fails(out: &RunOutput, name: &str, fix_part: &str) {
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    let (l, fix) = line(&out.stdout, name);
    assert!(l.starts_with("✗ "), "{l}\n{}", out.stdout);
    let fix = fix.unwrap_or_else(|| panic!("no fix under {l}"));
    assert!(fix.contains(fix_part), "{fix_part:?} not in {fix}");
    assert!(out.stderr.contains("check(s) failed"), "{}", out.stderr);
}

fn repo(w: &World) -> String {
    w.repo_url.clone()
}

#[test]
fn a_working_setup_passes_every_check_and_shows_who_azure_devops_sees() {
    let w = World::new();
    w.configure_git();
    let out = doctor(&w, &[&repo(&w)]);
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains('✗'), "{}", out.stdout);
    for name in [
        "config",
        "git-helper",
        "identity",
        "org-tenant",
        "token",
        "claims",
        "azure-devops",
        "repo-read",
        "repo-push",
    ] {
        assert!(
            line(&out.stdout, name).0.starts_with("✓ "),
            "{name}: {}",
            out.stdout
        );
    }
    assert!(
        line(&out.stdout, "azure-devops")
            .0
            .contains(&format!("sees '{CLIENT}'")),
        "{}",
        out.stdout
    );
    assert!(
        line(&out.stdout, "claims")
            .0
            .contains(&format!("appid={CLIENT}"))
    );
    assert!(
        line(&out.stdout, "identity").0.contains("route"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains('\x1b'), "no colour into a pipe");
    // The token went through the cache: a second run asks Entra nothing.
    let before = w.token_requests();
    assert!(doctor(&w, &[&repo(&w)]).status.success());
    assert_eq!(w.token_requests(), before);
}

#[test]
fn json_is_a_stable_array_of_check_status_detail_fix() {
    let w = World::new();
    w.configure_git();
    let out = doctor(&w, &[&repo(&w), "--json"]);
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("doctor --json prints JSON");
    let items = v.as_array().expect("an array");
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["check"].as_str().expect("check"))
        .collect();
    assert_eq!(
        names,
        [
            "config",
            "git-helper",
            "identity",
            "keyring",
            "network",
            "org-tenant",
            "token",
            "claims",
            "azure-devops",
            "repo-read",
            "repo-push"
        ]
    );
    for i in items {
        let keys: Vec<&String> = i.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["check", "detail", "fix", "status"], "{i}");
        assert!(["pass", "fail", "warn"].contains(&i["status"].as_str().expect("status")));
    }
    let broken = World::new();
    let out = doctor(&broken, &[&repo(&broken), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&out.stdout).expect("JSON also on failure");
    let helper = &v[1];
    assert_eq!(
        (helper["check"].as_str(), helper["status"].as_str()),
        (Some("git-helper"), Some("fail"))
    );
    assert!(
        helper["fix"]
            .as_str()
            .is_some_and(|f| f.contains("configure --host"))
    );
}

#[test]
fn a_missing_helper_is_caught_with_the_configure_command() {
    let w = World::new();
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(
        &out,
        "git-helper",
        &format!("git-credential-entra configure --host {}", w.ado.base_url()),
    );
}

#[test]
fn a_helper_asked_first_shadows_this_one() {
    let w = World::new();
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    let cfg = w.env.path().join("home/.gitconfig");
    std::fs::write(
        &cfg,
        format!("[credential]\n\thelper = manager\n\thelper = {bin}\n"),
    )
    .expect("write gitconfig");
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(&out, "git-helper", "configure");
    assert!(
        line(&out.stdout, "git-helper")
            .0
            .contains("'manager' first"),
        "{}",
        out.stdout
    );
}

#[test]
fn use_http_path_missing_on_dev_azure_com_is_caught() {
    let w = World::new();
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    let cfg = w.env.path().join("home/.gitconfig");
    std::fs::write(
        &cfg,
        format!("[credential \"https://dev.azure.com\"]\n\thelper =\n\thelper = {bin}\n"),
    )
    .expect("write gitconfig");
    // An unknown identity stops doctor before any request leaves the machine.
    let out = doctor(
        &w,
        &["--identity", "nosuch", "https://dev.azure.com/contoso"],
    );
    assert_fails(
        &out,
        "use-http-path",
        "credential.https://dev.azure.com.useHttpPath true",
    );
    assert!(
        line(&out.stdout, "git-helper").0.starts_with("✓ "),
        "{}",
        out.stdout
    );
    std::fs::write(&cfg, format!("[credential \"https://dev.azure.com\"]\n\thelper =\n\thelper = {bin}\n\tuseHttpPath = true\n")).expect("write gitconfig");
    let out = doctor(
        &w,
        &["--identity", "nosuch", "https://dev.azure.com/contoso"],
    );
    assert!(
        line(&out.stdout, "use-http-path").0.starts_with("✓ "),
        "{}",
        out.stdout
    );
}

#[test]
fn a_hosts_entry_without_git_config_is_caught() {
    let w = World::new();
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    let base = w.ado.base_url();
    std::fs::write(
        w.env.path().join("home/.gitconfig"),
        format!("[credential \"{base}\"]\n\thelper =\n\thelper = {bin}\n\tuseHttpPath = true\n"),
    )
    .expect("write gitconfig");
    let config = std::fs::read_to_string(w.env.config_path()).expect("read config");
    w.env.write_config(&config.replace(
        &format!("\"hosts\": [ \"{base}\" ]"),
        &format!("\"hosts\": [ \"{base}\", \"https://ado.example.com\" ]"),
    ));
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(
        &out,
        "hosts",
        "git-credential-entra configure --host https://ado.example.com",
    );
}

/// What only half works is a warning (`!`, `"warn"` in `--json`), not a
/// pass: an organization whose tenant lookup failed, a missing config file.
#[test]
fn a_failed_tenant_lookup_and_a_missing_config_are_warnings() {
    let w = World::new();
    w.configure_git();
    // The probe's answer names no tenant.
    w.ado.set_org_tenant("contoso", "");
    let check = |name: &str| -> Value {
        let out = doctor(&w, &[&repo(&w), "--json"]);
        let v: Value = serde_json::from_str(&out.stdout).expect("JSON");
        let found = v
            .as_array()
            .and_then(|a| a.iter().find(|c| c["check"] == name));
        found
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {}", out.stdout))
    };
    let tenant = check("org-tenant");
    assert_eq!(tenant["status"], "warn", "{tenant}");
    assert!(
        tenant["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("no tenant found for organization 'contoso' (")),
        "{tenant}"
    );
    let out = doctor(&w, &[&repo(&w)]);
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        line(&out.stdout, "org-tenant").0.starts_with("! "),
        "{}",
        out.stdout
    );

    std::fs::remove_file(w.env.config_path()).expect("remove the config");
    let config = check("config");
    assert_eq!(config["status"], "warn", "{config}");
    assert!(
        config["fix"]
            .as_str()
            .is_some_and(|f| f.starts_with("create it")),
        "{config}"
    );
    let out = doctor(&w, &[&repo(&w)]);
    assert!(
        line(&out.stdout, "config").0.starts_with("! "),
        "{}",
        out.stdout
    );
}

/// A mistyped key: doctor's fix names the key meant, not "-vv".
#[test]
fn a_mistyped_key_gets_the_key_meant_as_its_fix() {
    let w = World::new();
    w.configure_git();
    let config = std::fs::read_to_string(w.env.config_path()).expect("read config");
    w.env
        .write_config(&config.replace("\"client_secret_env\"", "\"client_secret_evn\""));
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(
        &out,
        "config",
        "rename it to \"client_secret_env\" (allowed here: ",
    );
    assert!(
        line(&out.stdout, "config")
            .0
            .ends_with("client_secret_evn: unknown key here; did you mean \"client_secret_env\"?"),
        "{}",
        out.stdout
    );
}

#[test]
fn no_route_and_no_auto_source_is_caught() {
    let w = World::new();
    w.configure_git();
    w.env
        .write_config(&format!("{{ \"hosts\": [ \"{}\" ] }}", w.ado.base_url()));
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(&out, "route", "configure an identity and a route");
}

/// doctor's route check for an unrouted organization says what `get` says:
/// the same lead and fallback on its line, the same fix under it.
#[test]
fn an_unrouted_organization_gets_the_words_get_prints() {
    let w = World::new();
    w.configure_git();
    let (_, lead, fix, fallback) = crate::routing::unrouted_message(&w);
    let out = doctor(
        &w,
        &[&format!("{}/fabrikam/proj/_git/repo", w.ado.base_url())],
    );
    assert_fails(&out, "route", &fix);
    let (l, f) = line(&out.stdout, "route");
    assert_eq!(l, format!("✗ route: {lead}; {fallback}"));
    assert_eq!(f, Some(format!("    fix: {fix}").as_str()));
}

#[test]
fn an_unreadable_secret_and_certificate_are_caught() {
    let mut w = World::new();
    w.configure_git();
    w.env.set_env("CI_SECRET", "");
    let out = doctor(&w, &[&repo(&w)]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    assert_fails(&out, "secret", "CI_SECRET");
    let config = std::fs::read_to_string(w.env.config_path()).expect("read config");
    let missing = w.env.path().join("nope.pem");
    w.env.write_config(&config.replace(
        "\"client_secret_env\": \"CI_SECRET\"",
        &format!("\"certificate\": \"{}\"", missing.display()),
    ));
    let out = doctor(&w, &[&repo(&w)]);
    let (l, _) = line(&out.stdout, "secret");
    assert!(l.contains("nope.pem"), "{}", out.stdout);
    assert_fails(&out, "secret", "");
}

#[test]
fn a_missing_keyring_costs_a_user_identity_its_sign_in() {
    let mut w = World::new();
    w.configure_git();
    w.env
        .set_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    w.env.write_config(&format!(
        r#"{{ "identities": {{ "me": {{ "type": "user", "tenant": "{TENANT}", "client_id": "{OTHER}" }} }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "me" }} ], "hosts": [ "{base}" ], "authority_host": "{auth}" }}"#,
        base = w.ado.base_url(),
        auth = w.entra.url()
    ));
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(&out, "keyring", "run a Secret Service");
    assert!(
        line(&out.stdout, "keyring").0.contains("sign in again"),
        "{}",
        out.stdout
    );
    // A service principal does not need one: a warning, not a failure.
    w.write_config("");
    let out = doctor(&w, &[&repo(&w)]);
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        line(&out.stdout, "keyring").0.starts_with("! "),
        "{}",
        out.stdout
    );
}

#[test]
fn an_entra_error_is_explained() {
    let w = World::new();
    w.configure_git();
    w.entra.push_response(Scripted::aadsts(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided.",
    ));
    let out = doctor(&w, &[&repo(&w)]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    let (l, fix) = line(&out.stdout, "entra");
    assert!(l.contains("AADSTS7000215"), "{l}");
    assert!(fix.is_some_and(|f| f.contains("secret")), "{}", out.stdout);
}

#[test]
fn a_token_from_another_tenant_is_caught() {
    let w = World::new();
    w.configure_git();
    w.entra.add_app("fabrikam.onmicrosoft.com", OTHER, SECRET);
    w.write_config(&format!(
        r#", "other": {{ "type": "service-principal", "tenant": "fabrikam.onmicrosoft.com", "client_id": "{OTHER}", "client_secret_env": "CI_SECRET" }}"#
    ));
    let out = doctor(&w, &["--identity", "other", &repo(&w)]);
    assert_fails(
        &out,
        "tenant",
        &format!("\"tenant\": \"{}\"", w.entra.tenant_id(TENANT)),
    );
}

#[test]
fn azure_devops_refusals_are_translated() {
    let w = World::new();
    w.configure_git();
    // TF401444: known to Entra, never added to the organization.
    w.ado.unmaterialize("contoso", CLIENT);
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(
        &out,
        "azure-devops",
        "Organization settings → Users → Add users",
    );
    assert!(
        line(&out.stdout, "azure-devops").0.contains("TF401444"),
        "{}",
        out.stdout
    );

    // TF400813: a valid token for a principal the organization does not let in.
    let w = World::new();
    w.configure_git();
    w.entra.add_app(TENANT, OTHER, SECRET);
    w.write_config(&format!(
        r#", "other": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{OTHER}", "client_secret_env": "CI_SECRET" }}"#
    ));
    let out = doctor(&w, &["--identity", "other", &repo(&w)]);
    assert_fails(&out, "azure-devops", "not a member");
    assert!(
        line(&out.stdout, "azure-devops").0.contains("TF400813"),
        "{}",
        out.stdout
    );

    // TF401019: no such repository (or no read permission).
    let missing = repo(&w).replace("/repo", "/nothere");
    let out = doctor(&w, &[&missing]);
    assert_fails(&out, "repo-read", "Stakeholder");
    assert!(
        line(&out.stdout, "repo-read").0.contains("TF401019"),
        "{}",
        out.stdout
    );

    // TF401027: may read, may not push.
    w.ado.read_only("contoso", CLIENT);
    let out = doctor(&w, &[&repo(&w)]);
    assert_fails(&out, "repo-push", "Contribute");
    assert!(
        line(&out.stdout, "repo-read").0.starts_with("✓ "),
        "{}",
        out.stdout
    );
}
