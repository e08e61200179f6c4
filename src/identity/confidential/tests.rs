//! Confidential clients as configured: what `environment` reads, and what
//! does (not) change the principal.

use crate::config::Config;
use crate::identity::Error;
use crate::identity::{ImdsProbe, Interactivity, resolve};
use crate::sys::env::Env;
use crate::sys::trace::Trace;

/// No person to ask, as in a test process.
const NO_PROMPTS: Interactivity = Interactivity::Forbidden("test");

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";

/// The resolved identity as shown to users (tenant and client id included).
fn resolve_env(pairs: &[(&str, &str)]) -> Result<String, Error> {
    let mut all = vec![("AZURE_CLIENT_SECRET", "a-secret-value")];
    all.extend_from_slice(pairs);
    let env = Env::from_pairs(all);
    let config = Config::parse(
        r#"{"identities":{"env":{"type":"environment"}}}"#,
        std::path::Path::new("/cfg/config.json"),
        None,
    )
    .expect("valid config");
    let result = resolve(
        "env",
        &config,
        &env,
        &ImdsProbe::offline(&Trace::off()),
        NO_PROMPTS,
    );
    // `auto` reads the same variables and must refuse the same values.
    assert_eq!(
        resolve(
            "auto",
            &config,
            &env,
            &ImdsProbe::offline(&Trace::off()),
            NO_PROMPTS
        )
        .err()
        .map(|e| e.to_string()),
        result.as_ref().err().map(ToString::to_string)
    );
    result.map(|r| r.to_string())
}

fn refused_var(pairs: &[(&str, &str)]) -> &'static str {
    match resolve_env(pairs) {
        Err(Error::Environment { var, .. }) => var,
        other => panic!("{pairs:?} must be refused, got {other:?}"),
    }
}

#[test]
fn azure_variables_are_validated_like_the_config() {
    let shown = resolve_env(&[
        ("AZURE_TENANT_ID", "Contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", &CLIENT.to_ascii_uppercase()),
    ])
    .expect("valid");
    assert!(
        shown.contains(&format!("tenant contoso.onmicrosoft.com, client {CLIENT},")),
        "{shown}"
    );
    for tenant in [
        "contoso/../../evil",
        "x?y=1",
        "x#y",
        "evil.example/",
        "a b",
        "..",
    ] {
        let var = refused_var(&[("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", CLIENT)]);
        assert_eq!(var, "AZURE_TENANT_ID", "{tenant}");
    }
    for client in ["my-app", "00001111-aaaa-2222-bbbb-3333cccc444", "../x"] {
        let var = refused_var(&[("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_ID", client)]);
        assert_eq!(var, "AZURE_CLIENT_ID", "{client}");
    }
    let var = refused_var(&[
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        (
            "AZURE_AUTHORITY_HOST",
            "https://login.microsoftonline.com@evil.example",
        ),
    ]);
    assert_eq!(var, "AZURE_AUTHORITY_HOST");
}

#[test]
fn azure_certificate_variables_make_a_certificate_credential() {
    let shown = resolve_env(&[
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_CLIENT_CERTIFICATE_PATH", "/etc/app.pfx"),
    ]);
    // AZURE_CLIENT_SECRET (set by resolve_env) wins, as in Azure's SDKs.
    assert!(
        shown
            .expect("valid")
            .contains("secret from $AZURE_CLIENT_SECRET")
    );
    let pfx = crate::abs("/etc/app.pfx");
    let env = Env::from_pairs([
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pfx.as_str()),
    ]);
    let config = Config::parse(
        r#"{"identities":{"env":{"type":"environment"}}}"#,
        std::path::Path::new("/cfg/config.json"),
        None,
    )
    .expect("valid config");
    let shown = resolve(
        "env",
        &config,
        &env,
        &ImdsProbe::offline(&Trace::off()),
        NO_PROMPTS,
    )
    .expect("valid")
    .to_string();
    assert!(
        shown.contains("environment, tenant") && shown.ends_with(&format!("certificate {pfx})")),
        "{shown}"
    );
    let env = Env::from_pairs([
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_CLIENT_CERTIFICATE_PATH", "app.pfx"),
    ]);
    assert!(matches!(
        resolve(
            "env",
            &config,
            &env,
            &ImdsProbe::offline(&Trace::off()),
            NO_PROMPTS
        ),
        Err(Error::Environment {
            var: "AZURE_CLIENT_CERTIFICATE_PATH",
            ..
        })
    ));
}

fn config(identities: &str) -> Config {
    Config::parse(
        &format!(r#"{{"identities":{{{identities}}}}}"#),
        std::path::Path::new("/cfg/config.json"),
        None,
    )
    .expect("valid config")
}

fn workload(name: &str, assertion: &str) -> String {
    format!(
        r#""{name}":{{"type":"workload-identity","tenant":"{TENANT}","client_id":"{CLIENT}",{assertion}}}"#
    )
}

#[test]
fn the_assertion_source_does_not_change_the_principal() {
    let c = config(
        &[
            workload("aks", r#""assertion":"file","token_file":"/t/token""#),
            workload("gh", r#""assertion":"github-actions""#),
            workload(
                "ado",
                r#""assertion":"azure-pipelines","service_connection_id":"sc-1""#,
            ),
            r#""env":{"type":"environment"}"#.to_string(),
        ]
        .join(","),
    );
    let token_file = crate::abs("/var/run/token");
    let env = Env::from_pairs([
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_FEDERATED_TOKEN_FILE", token_file.as_str()),
    ]);
    let fp = |name: &str| {
        resolve(
            name,
            &c,
            &env,
            &ImdsProbe::offline(&Trace::off()),
            NO_PROMPTS,
        )
        .expect(name)
        .fingerprint()
    };
    assert_eq!(fp("aks"), fp("gh"));
    assert_eq!(fp("aks"), fp("ado"));
    assert_eq!(fp("aks"), fp("env"), "AKS variables: the same app");
    let shown = resolve(
        "env",
        &c,
        &env,
        &ImdsProbe::offline(&Trace::off()),
        NO_PROMPTS,
    )
    .expect("env")
    .to_string();
    assert!(
        shown.contains("environment") && shown.contains(&token_file),
        "{shown}"
    );
    let other = config(&workload(
        "aks",
        r#""assertion":"file","token_file":"/t/token","authority_host":"https://login.microsoftonline.us""#,
    ));
    assert_ne!(
        resolve(
            "aks",
            &other,
            &env,
            &ImdsProbe::offline(&Trace::off()),
            NO_PROMPTS
        )
        .expect("aks")
        .fingerprint(),
        fp("aks"),
        "another cloud is another principal"
    );
}

#[test]
fn a_relative_federated_token_file_is_refused() {
    // git runs helpers inside the repository: a relative path would read
    // a file the repository ships.
    let c = config(r#""env":{"type":"environment"}"#);
    let env = Env::from_pairs([
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_FEDERATED_TOKEN_FILE", "token"),
    ]);
    let e = resolve(
        "env",
        &c,
        &env,
        &ImdsProbe::offline(&Trace::off()),
        NO_PROMPTS,
    )
    .expect_err("relative");
    let text = e.to_string();
    assert!(
        text.starts_with("AZURE_FEDERATED_TOKEN_FILE") && text.contains("absolute"),
        "{text}"
    );
}

#[test]
fn a_managed_identity_assertion_is_the_identitys_token_for_the_audience() {
    let uami = "11112222-aaaa-2222-bbbb-3333cccc4444";
    let c = config(&workload(
        "x",
        &format!(r#""assertion":"managed-identity","managed_identity_client_id":"{uami}""#),
    ));
    let shown = resolve(
        "x",
        &c,
        &Env::default(),
        &ImdsProbe::offline(&Trace::off()),
        NO_PROMPTS,
    )
    .expect("resolves without I/O")
    .to_string();
    assert!(
        shown.contains("managed identity token for api://AzureADTokenExchange")
            && shown.contains(uami)
            && shown.contains(&format!("client {CLIENT}")),
        "{shown}"
    );
}
