//! The built-in `auto` identity with no config file: the chain of Azure's
//! SDKs (environment, workload identity, managed identity), narrowed by
//! `AZURE_TOKEN_CREDENTIALS`, with the IMDS probe remembered, and one message
//! listing what was tried when nothing is there.

use std::time::{Duration, Instant};

use crate::support::{FakeEntra, FakeImds, MiKind, RunOutput, TestEnv, register_sensitive};
use crate::world::field;

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
    entra.add_app(TENANT, APP, SECRET);
    let imds = FakeImds::start(MiKind::Imds, &entra.tenant_id(TENANT));
    let env = machine(
        &entra,
        &[
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", APP),
            ("AZURE_CLIENT_SECRET", SECRET),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url()),
            ("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential"),
        ],
    );
    let (out, _) = get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        field(&out.stdout, "username"),
        Some(imds.system_client_id().as_str())
    );
    assert_eq!(entra.token_requests().len(), 0, "the secret was not used");
    assert!(
        out.stderr.contains("auto: using the managed identity link"),
        "{}",
        out.stderr
    );
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
