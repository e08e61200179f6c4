use super::*;
use crate::sys::trace::Trace;

fn resolve_with(pairs: &[(&str, &str)], probe: &ImdsProbe) -> Result<String, Error> {
    let env = Env::from_pairs(pairs.iter().copied());
    let config = Config::default();
    let authority = || super::super::authority(None, &config, &env);
    resolve(
        "auto",
        &authority,
        &config,
        &env,
        probe,
        Interactivity::from_env(&env, false),
    )
    .map(|s| s.describe())
}

const SECRET_VARS: [(&str, &str); 3] = [
    ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
    ("AZURE_CLIENT_ID", "00001111-aaaa-2222-bbbb-3333cccc4444"),
    ("AZURE_CLIENT_SECRET", "s"),
];
/// IMDS pointed at a closed port; a refused connection is "absent".
const CLOSED: (&str, &str) = ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");

#[test]
fn the_chain_takes_the_first_link_with_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = Trace::off();
    let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
    let shown = resolve_with(
        &[SECRET_VARS[0], SECRET_VARS[1], SECRET_VARS[2], CLOSED],
        &probe,
    )
    .expect("environment");
    assert!(shown.starts_with("environment,"), "{shown}");
    let app_service = [
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
        ("IDENTITY_HEADER", "h"),
    ];
    let shown = resolve_with(&app_service, &probe).expect("managed identity");
    assert!(shown.contains("App Service"), "{shown}");
    let e = resolve_with(&[CLOSED], &probe).expect_err("nothing here");
    let text = e.to_string();
    for link in [
        "environment (",
        "workload identity (",
        "managed identity (no IMDS",
    ] {
        assert!(text.contains(link), "{link}: {text}");
    }
}

#[test]
fn azure_token_credentials_narrows_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = Trace::off();
    let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
    let mut pairs = vec![SECRET_VARS[0], SECRET_VARS[1], SECRET_VARS[2], CLOSED];
    pairs.push(("AZURE_TOKEN_CREDENTIALS", "prod"));
    assert!(resolve_with(&pairs, &probe).is_ok());
    pairs.pop();
    pairs.push(("AZURE_TOKEN_CREDENTIALS", "dev"));
    let text = resolve_with(&pairs, &probe)
        .expect_err("dev tools only")
        .to_string();
    assert!(
        text.contains("Azure CLI (") && !text.contains("environment ("),
        "{text}"
    );
    pairs.pop();
    pairs.push(("AZURE_TOKEN_CREDENTIALS", "SomethingElse"));
    assert!(matches!(
        resolve_with(&pairs, &probe),
        Err(Error::Environment {
            var: "AZURE_TOKEN_CREDENTIALS",
            ..
        })
    ));
}

#[test]
fn a_named_managed_identity_is_taken_without_a_probe() {
    let trace = Trace::off();
    // An offline probe says IMDS is absent: it must not be asked.
    let probe = ImdsProbe::offline(&trace);
    let pairs = [
        SECRET_VARS[0],
        SECRET_VARS[1],
        SECRET_VARS[2],
        CLOSED,
        ("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential"),
    ];
    let shown = resolve_with(&pairs, &probe).expect("named");
    // AZURE_CLIENT_ID selects the user-assigned identity, as in the SDKs.
    assert_eq!(
        shown,
        format!(
            "managed-identity, client_id {}, via IMDS at http://127.0.0.1:9",
            SECRET_VARS[1].1
        )
    );
    let shown = resolve_with(&pairs[3..], &probe).expect("named, system-assigned");
    assert!(
        shown.starts_with("managed-identity, system-assigned,"),
        "{shown}"
    );
}

#[test]
fn azure_client_id_is_checked_only_when_the_managed_identity_is_taken() {
    let trace = Trace::off();
    let probe = ImdsProbe::offline(&trace);
    let bad = ("AZURE_CLIENT_ID", "my-app");
    // IMDS absent: the managed identity is not taken, the value not read.
    let text = resolve_with(&[bad, CLOSED], &probe)
        .expect_err("nothing here")
        .to_string();
    assert!(text.contains("found no credentials"), "{text}");
    let named = ("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential");
    assert!(matches!(
        resolve_with(&[bad, CLOSED, named], &probe),
        Err(Error::Environment {
            var: "AZURE_CLIENT_ID",
            ..
        })
    ));
}

#[test]
fn interactive_browser_credential_selects_the_user_sign_in() {
    let trace = Trace::off();
    let probe = ImdsProbe::offline(&trace);
    let shown = resolve_with(
        &[
            ("AZURE_TOKEN_CREDENTIALS", "interactivebrowsercredential"),
            ("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always"),
        ],
        &probe,
    )
    .expect("user");
    assert!(shown.starts_with("user,"), "{shown}");
    let text = resolve_with(
        &[("AZURE_TOKEN_CREDENTIALS", "VisualStudioCredential")],
        &probe,
    )
    .expect_err("unsupported")
    .to_string();
    assert!(text.contains("this helper does not support"), "{text}");
}

#[cfg(unix)]
#[test]
fn the_azure_cli_link_is_taken_when_az_is_on_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = Trace::off();
    let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let path = bin.display().to_string();
    let text = resolve_with(&[CLOSED, ("PATH", &path)], &probe)
        .expect_err("no az yet")
        .to_string();
    assert!(text.contains("Azure CLI (az is not"), "{text}");
    let az = bin.join("az");
    std::fs::write(&az, "#!/bin/sh\n").expect("write az");
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let shown = resolve_with(&[CLOSED, ("PATH", &path)], &probe).expect("az");
    assert!(shown.starts_with("azure-cli,"), "{shown}");
    // Before it in the chain, the environment still wins.
    let shown = resolve_with(
        &[
            SECRET_VARS[0],
            SECRET_VARS[1],
            SECRET_VARS[2],
            ("PATH", &path),
        ],
        &probe,
    )
    .expect("environment");
    assert!(shown.starts_with("environment,"), "{shown}");
    // A bad value only other links read does not fail it: the authority
    // (environment, workload identity, sign-in), the tenant and certificate
    // path of an environment credential that `dev` leaves out.
    for extra in [
        &[("AZURE_AUTHORITY_HOST", "http://login.example")][..],
        &[
            ("AZURE_AUTHORITY_HOST", "https://login.example@evil.example"),
            ("AZURE_TENANT_ID", "contoso/../evil"),
            SECRET_VARS[1],
            ("AZURE_FEDERATED_TOKEN_FILE", "token"),
            ("AZURE_TOKEN_CREDENTIALS", "dev"),
        ],
        &[
            SECRET_VARS[0],
            SECRET_VARS[1],
            ("AZURE_CLIENT_CERTIFICATE_PATH", "app.pfx"),
            ("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential"),
        ],
    ] {
        let mut pairs = vec![CLOSED, ("PATH", path.as_str())];
        pairs.extend_from_slice(extra);
        let shown = resolve_with(&pairs, &probe).expect("az despite the variable");
        assert!(shown.starts_with("azure-cli,"), "{extra:?}: {shown}");
    }
    // Where the environment link is taken, its bad value is the error.
    let e = resolve_with(
        &[
            SECRET_VARS[0],
            SECRET_VARS[1],
            SECRET_VARS[2],
            ("AZURE_AUTHORITY_HOST", "http://login.example"),
            ("PATH", &path),
        ],
        &probe,
    );
    assert!(
        matches!(
            e,
            Err(Error::Environment {
                var: "AZURE_AUTHORITY_HOST",
                ..
            })
        ),
        "{e:?}"
    );
}

#[cfg(unix)]
#[test]
fn powershell_and_azd_links_are_taken_only_when_set_up_here() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = Trace::off();
    let probe = ImdsProbe::offline(&trace);
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let program = |name: &str| {
        let p = bin.join(name);
        std::fs::write(&p, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    let (path, home_s) = (bin.display().to_string(), home.display().to_string());
    let vars = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![CLOSED, ("PATH", path.as_str()), ("HOME", home_s.as_str())];
        v.extend_from_slice(extra);
        v
    };
    // pwsh and azd without Az.Accounts or a sign-in: both skipped, saying why.
    program("pwsh");
    program("azd");
    let text = resolve_with(&vars(&[]), &probe)
        .expect_err("nothing set up")
        .to_string();
    assert!(
        text.contains("Azure PowerShell (PowerShell has no Az.Accounts module")
            && text.contains("Azure Developer CLI (azd has no sign-in recorded"),
        "{text}"
    );
    // Named, each is taken without looking.
    for (name, kind) in [
        ("AzurePowerShellCredential", "azure-powershell,"),
        ("AzureDeveloperCliCredential", "azure-developer-cli,"),
    ] {
        let shown =
            resolve_with(&vars(&[("AZURE_TOKEN_CREDENTIALS", name)]), &probe).expect("named");
        assert!(shown.starts_with(kind), "{name}: {shown}");
    }
    // A signed-in azd is taken.
    std::fs::create_dir_all(home.join(".azd")).expect("azd dir");
    std::fs::write(
        home.join(".azd/auth.json"),
        r#"{"auth":{"account":{"currentUser":{"homeAccountId":"h"}}}}"#,
    )
    .expect("auth.json");
    let shown = resolve_with(&vars(&[]), &probe).expect("azd");
    assert!(shown.starts_with("azure-developer-cli,"), "{shown}");
    // Az.Accounts installed: PowerShell comes first, after the Azure CLI.
    std::fs::create_dir_all(home.join(".local/share/powershell/Modules/Az.Accounts"))
        .expect("module");
    let shown = resolve_with(&vars(&[]), &probe).expect("pwsh");
    assert!(shown.starts_with("azure-powershell,"), "{shown}");
    program("az");
    let shown = resolve_with(&vars(&[]), &probe).expect("az");
    assert!(shown.starts_with("azure-cli,"), "{shown}");
    // `dev` keeps all three in that order.
    let shown = resolve_with(&vars(&[("AZURE_TOKEN_CREDENTIALS", "dev")]), &probe).expect("dev");
    assert!(shown.starts_with("azure-cli,"), "{shown}");
}
