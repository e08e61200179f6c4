use std::path::Path;

use super::*;
use crate::azure_devops::Target;
use crate::sys::prompt::Prompt;
use crate::sys::trace::Trace;

/// One identity of each type whose tokens outlive an upgrade, and users.
const CONFIG: &str = r#"{
  "identities": {
    "sp":     { "type": "service-principal", "tenant": "contoso.onmicrosoft.com",
                "client_id": "00001111-aaaa-2222-bbbb-3333cccc4444", "client_secret_env": "SP_SECRET" },
    "cert":   { "type": "service-principal", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "client_id": "00001111-aaaa-2222-bbbb-3333cccc4445", "certificate": "/etc/ci/app.pem" },
    "kv-cert": { "type": "service-principal", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "client_id": "00001111-aaaa-2222-bbbb-3333cccc4445",
                "certificate": "https://contoso-kv.vault.azure.net/secrets/app-cert",
                "key_vault_identity": { "client_id": "00001111-aaaa-2222-bbbb-3333cccc4446" } },
    "vm":     { "type": "managed-identity" },
    "uami":   { "type": "managed-identity", "client_id": "00001111-aaaa-2222-bbbb-3333cccc4446" },
    "aks":    { "type": "workload-identity", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "client_id": "00001111-aaaa-2222-bbbb-3333cccc4447",
                "assertion": "file", "token_file": "/var/run/secrets/azure/tokens/azure-identity-token" },
    "me":     { "type": "azure-cli" },
    "me-t":   { "type": "azure-cli", "tenant": "contoso.onmicrosoft.com" },
    "ps":     { "type": "azure-powershell" },
    "ps-t":   { "type": "azure-powershell", "tenant": "contoso.onmicrosoft.com" },
    "azd":    { "type": "azure-developer-cli" },
    "azd-t":  { "type": "azure-developer-cli", "tenant": "contoso.onmicrosoft.com" },
    "env":    { "type": "environment" },
    "work":   { "type": "user" },
    "home":   { "type": "user" },
    "alice":  { "type": "user", "login_hint": "alice@contoso.com" },
    "alice2": { "type": "user", "login_hint": "alice@contoso.com", "flow": "paste" },
    "pinned": { "type": "user", "tenant": "contoso.onmicrosoft.com" }
  }
}"#;

const CONTOSO_TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const FABRIKAM_TID: &str = "11111111-2222-3333-4444-555555555555";

/// Resolves identities of [`CONFIG`] and computes their cache keys for git's
/// requests to organizations `contoso` and `fabrikam`, whose tenants (two
/// different ones) are remembered in the cache directory: no network.
struct Keys {
    config: Config,
    env: Env,
    trace: Trace,
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().expect("tempdir");
        for (org, tid) in [("contoso", CONTOSO_TID), ("fabrikam", FABRIKAM_TID)] {
            let challenge = [format!(
                "Bearer authorization_uri=https://login.microsoftonline.com/{tid}"
            )];
            crate::azure_devops::tenant::discover(
                &crate::net::http::direct(),
                org,
                "https://dev.azure.com",
                &challenge,
                Some(dir.path()),
            );
        }
        Keys {
            config: Config::parse(
                CONFIG,
                Path::new("/cfg/config.json"),
                Some(Path::new("/home/u")),
            )
            .expect("valid config"),
            env: Env::from_pairs([
                ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
                ("AZURE_CLIENT_ID", "00001111-aaaa-2222-bbbb-3333cccc4448"),
                ("AZURE_CLIENT_SECRET", "not-a-secret"),
            ]),
            trace: Trace::off(),
            dir,
        }
    }

    fn resolve(&self, name: &str) -> Resolved {
        resolve(
            name,
            &self.config,
            &self.env,
            &ImdsProbe::offline(&self.trace),
            Interactivity::Forbidden("test"),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The key `tokens::get` uses for identity `name` serving `org`.
    fn key(&self, name: &str, org: &str) -> String {
        let id = self.resolve(name);
        let target = Target::from_url(&format!("https://dev.azure.com/{org}/p/_git/r"), &[])
            .expect("a URL")
            .expect("Azure DevOps");
        let mut sink = Vec::new();
        let locks = self.dir.path().join("locks");
        let mut ctx =
            crate::context::test::context(&self.env, &self.trace, Prompt::new(&mut sink), &locks);
        ctx.cache_dir = Some(self.dir.path());
        let cx = AcquireCx::new(&ctx, name, None, Some(&target));
        id.fingerprint_for(&cx).to_string()
    }
}

/// The cache keys of every type but `user` are what earlier versions
/// computed: a changed key would orphan every cached token on upgrade.
#[test]
fn cache_keys_of_applications_and_machines_do_not_change() {
    let keys = Keys::new();
    let want = [
        ("sp", "3ffc789f1845ef287a8cd99d954ca34e"),
        ("cert", "6e1be2ef5199866013b14c7d2eae4ad9"),
        // The same application with its certificate in Key Vault: the key
        // is the application's, whatever the certificate (and resolving it
        // looks for no managed-identity endpoint).
        ("kv-cert", "6e1be2ef5199866013b14c7d2eae4ad9"),
        ("vm", "7d728747c24cb8538bbf3564ef5b7770"),
        ("uami", "2b96ed67570018ad3b0249e61fb54324"),
        ("aks", "276c5de5cb3296511d78c0f2d9d11f53"),
        ("me", "fd3a18fdccd301af085f2d069920d2ad"),
        ("me-t", "508a7c12ce5a2c1bac02a351290100cd"),
        ("env", "97c258b76fa68cda22bccb762e5e3d87"),
        ("ps", "4200c7d9704338930636409e09bab179"),
        ("ps-t", "6285a2d7075d2ea49d04d0e7bd52f889"),
        ("azd", "f4b63ad5734420ebc3c8ed21e21a2fb6"),
        ("azd-t", "c5fde4924e1ccdbf6cc9493fcb3567b1"),
    ];
    for (name, key) in want {
        for org in ["contoso", "fabrikam"] {
            assert_eq!(keys.key(name, org), key, "{name} for {org}");
        }
        let id = keys.resolve(name);
        assert_eq!(id.fingerprint().to_string(), key, "{name}");
        assert_eq!(
            id.fingerprints(Some(keys.dir.path())),
            [id.fingerprint()],
            "{name}"
        );
    }
}

#[test]
fn a_users_key_tells_identities_and_tenants_apart() {
    let keys = Keys::new();
    // Two identities with no account hint: two people, or one person's
    // two accounts.
    assert_ne!(keys.key("work", "contoso"), keys.key("home", "contoso"));
    // One identity, two organizations of different tenants.
    assert_ne!(keys.key("work", "contoso"), keys.key("work", "fabrikam"));
    // The same account under two names is one principal.
    assert_eq!(keys.key("alice", "contoso"), keys.key("alice2", "contoso"));
    assert_ne!(keys.key("alice", "contoso"), keys.key("alice", "fabrikam"));
    // A configured tenant is the tenant, whatever the organization.
    assert_eq!(
        keys.key("pinned", "contoso"),
        keys.key("pinned", "fabrikam")
    );
    assert_eq!(
        keys.key("pinned", "contoso"),
        keys.resolve("pinned").fingerprint().to_string()
    );
    // `cache` and `logout` find the key of every remembered tenant.
    let all: Vec<String> = keys
        .resolve("work")
        .fingerprints(Some(keys.dir.path()))
        .iter()
        .map(ToString::to_string)
        .collect();
    for org in ["contoso", "fabrikam"] {
        assert!(all.contains(&keys.key("work", org)), "{org}: {all:?}");
    }
}
