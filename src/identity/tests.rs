use std::path::Path;

use super::*;
use crate::trace::Trace;

/// One identity of each type whose tokens outlive an upgrade.
const CONFIG: &str = r#"{
  "identities": {
    "sp":     { "type": "service-principal", "tenant": "contoso.onmicrosoft.com",
                "client_id": "00001111-aaaa-2222-bbbb-3333cccc4444", "client_secret_env": "SP_SECRET" },
    "cert":   { "type": "service-principal", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "client_id": "00001111-aaaa-2222-bbbb-3333cccc4445", "certificate": "/etc/ci/app.pem" },
    "vm":     { "type": "managed-identity" },
    "uami":   { "type": "managed-identity", "client_id": "00001111-aaaa-2222-bbbb-3333cccc4446" },
    "aks":    { "type": "workload-identity", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "client_id": "00001111-aaaa-2222-bbbb-3333cccc4447",
                "assertion": "file", "token_file": "/var/run/secrets/azure/tokens/azure-identity-token" },
    "me":     { "type": "azure-cli" },
    "me-t":   { "type": "azure-cli", "tenant": "contoso.onmicrosoft.com" },
    "env":    { "type": "environment" }
  }
}"#;

/// The cache keys of every type but `user` are what earlier versions
/// computed: a changed key would orphan every cached token on upgrade.
#[test]
fn cache_keys_of_applications_and_machines_do_not_change() {
    let config = Config::parse(
        CONFIG,
        Path::new("/cfg/config.json"),
        Some(Path::new("/home/u")),
    )
    .expect("valid config");
    let env = Env::from_pairs([
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "00001111-aaaa-2222-bbbb-3333cccc4448"),
        ("AZURE_CLIENT_SECRET", "not-a-secret"),
    ]);
    let trace = Trace::off();
    let probe = ImdsProbe::offline(&trace);
    let key = |name: &str| {
        resolve(name, &config, &env, &probe)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .fingerprint()
            .to_string()
    };
    let got: Vec<(&str, String)> = ["sp", "cert", "vm", "uami", "aks", "me", "me-t", "env"]
        .into_iter()
        .map(|n| (n, key(n)))
        .collect();
    let want = [
        ("sp", "3ffc789f1845ef287a8cd99d954ca34e"),
        ("cert", "6e1be2ef5199866013b14c7d2eae4ad9"),
        ("vm", "7d728747c24cb8538bbf3564ef5b7770"),
        ("uami", "2b96ed67570018ad3b0249e61fb54324"),
        ("aks", "276c5de5cb3296511d78c0f2d9d11f53"),
        ("me", "fd3a18fdccd301af085f2d069920d2ad"),
        ("me-t", "508a7c12ce5a2c1bac02a351290100cd"),
        ("env", "97c258b76fa68cda22bccb762e5e3d87"),
    ];
    assert_eq!(got, want.map(|(n, k)| (n, k.to_string())));
}
