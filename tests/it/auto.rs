//! The built-in `auto` identity with no config file: the chain of Azure's
//! SDKs (environment, workload identity, managed identity), narrowed by
//! `AZURE_TOKEN_CREDENTIALS`, `AZURE_CLIENT_ID` selecting a user-assigned
//! managed identity, the IMDS probe (the SDKs' patience, a miss remembered
//! briefly, none when the managed identity is named), and one message listing
//! what was tried when nothing is there.

use std::time::{Duration, Instant};

use crate::support::world::field;
use crate::support::{
    Delivery, FakeEntra, FakeImds, MiKind, RunOutput, Scripted, TestEnv, register_sensitive,
};

const TENANT: &str = "contoso.onmicrosoft.com";
const APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
const SECRET: &str = "auto~chain~secret~Zq4";
const REQUEST: &[u8] = b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n";

/// A machine with no config file, the given extra variables, and Entra at `entra`.
fn machine(entra: &FakeEntra, vars: &[(&str, &str)]) -> TestEnv {
    let mut env = TestEnv::new();
    env.set_env("AZURE_AUTHORITY_HOST", &entra.url());
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "none");
    for (k, v) in vars {
        env.set_env(k, v);
    }
    env
}

fn get(env: &TestEnv) -> (RunOutput, Duration) {
    let started = Instant::now();
    let out = env.run(env.helper().args(["get", "-vv"]), REQUEST);
    (out, started.elapsed())
}

#[test]
fn auto_uses_the_azure_variables_without_a_config_file() {
    register_sensitive(SECRET);
    let entra = FakeEntra::start();
    entra.add_app(TENANT, APP, SECRET);
    let env = machine(
        &entra,
        &[
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", APP),
            ("AZURE_CLIENT_SECRET", SECRET),
        ],
    );
    assert!(!env.config_path().exists());
    let (out, _) = get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(field(&out.stdout, "username"), Some(APP));
    assert!(
        out.stderr.contains("auto: using the environment link"),
        "{}",
        out.stderr
    );
    assert_eq!(entra.token_requests().len(), 1);
}

#[test]
fn azure_token_credentials_narrows_auto_to_the_managed_identity() {
    register_sensitive(SECRET);
    let entra = FakeEntra::start();
    let imds = FakeImds::start(MiKind::Imds, &entra.tenant_id(TENANT));
    // As DefaultAzureCredential does, the managed identity link takes
    // AZURE_CLIENT_ID as the user-assigned identity's client id.
    let uami = imds.add_user_assigned("build");
    entra.add_app(TENANT, &uami.client_id, SECRET);
    let env = machine(
        &entra,
        &[
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", &uami.client_id),
            ("AZURE_CLIENT_SECRET", SECRET),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url()),
            ("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential"),
        ],
    );
    let (out, _) = get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        field(&out.stdout, "username"),
        Some(uami.client_id.as_str())
    );
    assert_eq!(entra.token_requests().len(), 0, "the secret was not used");
    assert!(
        out.stderr.contains("auto: using the managed identity link"),
        "{}",
        out.stderr
    );
    let asked = imds.requests();
    assert_eq!(asked.len(), 1, "named: no probe, one token request");
    assert_eq!(asked[0].query.get("client_id"), Some(&uami.client_id));
}

#[test]
fn azure_client_id_selects_the_user_assigned_managed_identity() {
    let entra = FakeEntra::start();
    let imds = FakeImds::start(MiKind::Imds, &entra.tenant_id(TENANT));
    let uami = imds.add_user_assigned("build");
    // No secret, certificate or token file goes with it.
    let env = machine(
        &entra,
        &[
            ("AZURE_CLIENT_ID", &uami.client_id),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url()),
        ],
    );
    let (out, _) = get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        field(&out.stdout, "username"),
        Some(uami.client_id.as_str())
    );
    let token_request = imds.requests().pop().expect("a token request");
    assert_eq!(
        token_request.query.get("client_id"),
        Some(&uami.client_id),
        "{token_request:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("client_id {}", uami.client_id)),
        "{}",
        out.stderr
    );
}

#[test]
fn a_slow_imds_is_found_by_the_probe() {
    let entra = FakeEntra::start();
    let imds = FakeImds::start(MiKind::Imds, &entra.tenant_id(TENANT));
    // IMDS on a busy or freshly started VM: slower than 300 ms, within the
    // second Azure's SDKs wait.
    imds.set_delay(Duration::from_millis(600));
    let env = machine(
        &entra,
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url())],
    );
    let (out, _) = get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        field(&out.stdout, "username"),
        Some(imds.system_client_id().as_str())
    );
    assert!(
        out.stderr.contains("auto: using the managed identity link"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_remembered_miss_does_not_decide_when_the_managed_identity_is_named() {
    let entra = FakeEntra::start();
    let imds = FakeImds::start(MiKind::Imds, &entra.tenant_id(TENANT));
    let mut env = machine(
        &entra,
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url())],
    );
    // IMDS drops the probe: auto remembers a miss and finds nothing else.
    imds.push_response(Scripted {
        delivery: Delivery::Silent(Duration::from_secs(5)),
        ..Scripted::status(400)
    });
    let (first, _) = get(&env);
    assert!(!first.status.success(), "{}", first.stdout);
    assert!(
        first.stderr.contains("managed identity (no IMDS answered"),
        "{}",
        first.stderr
    );
    // IMDS is back; the user names the managed identity.
    env.set_env("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential");
    let (second, _) = get(&env);
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(
        field(&second.stdout, "username"),
        Some(imds.system_client_id().as_str())
    );
    assert!(!second.stderr.contains("(remembered)"), "{}", second.stderr);
    let asked = imds.requests();
    assert_eq!(
        asked.len(),
        2,
        "the dropped probe, then only a token request"
    );
    assert!(asked[1].headers.contains_key("metadata"), "{asked:?}");
}

#[test]
fn the_imds_probe_is_remembered() {
    let entra = FakeEntra::start();
    let imds = FakeImds::start(MiKind::Imds, &entra.tenant_id(TENANT));
    let env = machine(
        &entra,
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url())],
    );
    let probes = || {
        imds.requests()
            .iter()
            .filter(|r| !r.headers.contains_key("metadata"))
            .count()
    };
    let (first, _) = get(&env);
    assert!(first.status.success(), "{}", first.stderr);
    assert_eq!(
        (probes(), imds.requests().len()),
        (1, 2),
        "a probe, then a token"
    );
    let (second, _) = get(&env);
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(
        (probes(), imds.requests().len()),
        (1, 3),
        "remembered: no probe"
    );
    assert!(second.stderr.contains("(remembered)"), "{}", second.stderr);
}

#[test]
fn with_nothing_available_auto_fails_fast_and_lists_what_it_tried() {
    let entra = FakeEntra::start();
    // The isolated environment points IMDS at a closed loopback port.
    let env = machine(&entra, &[]);
    let (out, took) = get(&env);
    assert_eq!(out.stdout, "quit=1\n");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let message: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("git-credential-entra: "))
        .collect();
    assert_eq!(message.len(), 1, "{}", out.stderr);
    for part in [
        "identity 'auto': found no credentials",
        "environment (",
        "workload identity (",
        "managed identity (no IMDS answered",
        "Azure CLI (",
        "interactive sign-in (",
        "configure an identity and a route in",
    ] {
        assert!(message[0].contains(part), "{part}: {}", message[0]);
    }
    assert_eq!(entra.token_requests().len(), 0);
}

#[test]
fn azure_token_credentials_reads_every_name_of_the_sdks() {
    let entra = FakeEntra::start();
    let mut env = machine(&entra, &[]);
    let supported = "dev, prod, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, AzureCliCredential, AzurePowerShellCredential, AzureDeveloperCliCredential or InteractiveBrowserCredential";
    for (value, expected) in [
        (
            "visualstudiocredential",
            "AZURE_TOKEN_CREDENTIALS is VisualStudioCredential, a credential of Azure's SDKs that this helper does not support",
        ),
        (
            "VisualStudioCodeCredential",
            "is VisualStudioCodeCredential, a credential of Azure's SDKs that this helper does not support",
        ),
        (
            "BrokerCredential",
            "is BrokerCredential, a credential of Azure's SDKs that this helper does not support",
        ),
        (
            "Nonsense",
            "AZURE_TOKEN_CREDENTIALS is \"Nonsense\", which is not a value Azure's SDKs accept",
        ),
        // The `user` sign-in, the only link left: no prompt may be shown here.
        (
            "INTERACTIVEBROWSERCREDENTIAL",
            "found no credentials to use; tried interactive sign-in (no prompt may be shown: ",
        ),
    ] {
        env.set_env("AZURE_TOKEN_CREDENTIALS", value);
        let (out, _) = get(&env);
        assert_eq!(out.stdout, "quit=1\n", "{value}");
        let message: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("git-credential-entra: "))
            .collect();
        assert_eq!(message.len(), 1, "{value}: {}", out.stderr);
        assert!(message[0].contains(expected), "{value}: {}", message[0]);
        let selected = value.eq_ignore_ascii_case("InteractiveBrowserCredential");
        assert_eq!(
            message[0].contains(supported),
            !selected,
            "the names this helper supports: {}",
            message[0]
        );
    }
}
