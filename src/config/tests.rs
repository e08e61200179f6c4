use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(
        text,
        Path::new("/cfg/config.json"),
        Some(Path::new("/home/u")),
    )
}

fn error(text: &str) -> ConfigError {
    parse(text).expect_err("should be refused")
}

const CI: &str = r#""ci": {"type":"service-principal","tenant":"contoso.onmicrosoft.com","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_env":"CI_SECRET"}"#;

#[test]
fn parses_the_contract_example() {
    let text = r#"{
      "identities": {
        "ci":     { "type": "service-principal", "tenant": "contoso.onmicrosoft.com",
                    "client_id": "00001111-aaaa-2222-bbbb-3333cccc4444", "client_secret_env": "CI_CLIENT_SECRET" },
        "ci-cert":{ "type": "service-principal", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47", "client_id": "00001111-aaaa-2222-bbbb-3333cccc4445",
                    "certificate": "/etc/ci/app.pem", "send_certificate_chain": false },
        "vm":     { "type": "managed-identity" },
        "vm-uami":{ "type": "managed-identity", "client_id": "00001111-aaaa-2222-bbbb-3333cccc4446" },
        "aks":    { "type": "workload-identity", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47", "client_id": "00001111-aaaa-2222-bbbb-3333cccc4447",
                    "assertion": "file", "token_file": "/var/run/secrets/azure/tokens/azure-identity-token" },
        "me":     { "type": "azure-cli" },
        "me-ps":  { "type": "azure-powershell", "tenant": "Contoso.onmicrosoft.com" },
        "me-azd": { "type": "azure-developer-cli" },
        "me-sso": { "type": "user", "flow": "auto" },
        "env":    { "type": "environment" },
        "pipe":   { "type": "pipeline-token" }
      },
      "routes": [
        { "url": "https://dev.azure.com/contoso", "identity": "ci" },
        { "url": "https://dev.azure.com",         "identity": "me" },
        { "url": "https://Fabrikam.visualstudio.com/", "identity": "vm" }
      ],
      "hosts": ["http://127.0.0.1:8080"],
      "authority_host": "https://login.microsoftonline.com",
      "cache": "auto",
      "refresh_margin_seconds": 300
    }"#;
    let c = parse(text).expect("valid");
    assert_eq!(c.identities.len(), 11);
    assert_eq!(c.routes[2].url, "https://dev.azure.com/fabrikam");
    assert_eq!(
        c.hosts,
        [HostEntry {
            scheme: "http".into(),
            host: "127.0.0.1:8080".into()
        }]
    );
    assert_eq!(c.cache, Some(CacheMode::Auto));
    // Each type's parser makes an identity of that type.
    let kinds: Vec<(&str, &str)> = c
        .identities
        .iter()
        .map(|(name, id)| (name.as_str(), id.kind().config_name()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("aks", "workload-identity"),
            ("ci", "service-principal"),
            ("ci-cert", "service-principal"),
            ("env", "environment"),
            ("me", "azure-cli"),
            ("me-azd", "azure-developer-cli"),
            ("me-ps", "azure-powershell"),
            ("me-sso", "user"),
            ("pipe", "pipeline-token"),
            ("vm", "managed-identity"),
            ("vm-uami", "managed-identity"),
        ]
    );
    assert_eq!(
        c.identities["me-ps"],
        IdentityKind::AzurePowerShell(DevToolConfig {
            tenant: Some("contoso.onmicrosoft.com".into())
        })
    );
    assert_eq!(
        c.identities["me-azd"],
        IdentityKind::AzureDeveloperCli(DevToolConfig { tenant: None })
    );
    for ty in ["azure-powershell", "azure-developer-cli"] {
        let e = error(&format!(
            r#"{{"identities":{{"x":{{"type":"{ty}","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444"}}}}}}"#
        ));
        assert!(
            e.to_string().contains("unknown key") && e.to_string().contains("type, tenant"),
            "{ty}: {e}"
        );
        let e = error(&format!(
            r#"{{"identities":{{"x":{{"type":"{ty}","tenant":"a b"}}}}}}"#
        ));
        assert!(e.to_string().contains("tenant"), "{ty}: {e}");
    }
    let auto = parse(r#"{"identities":{"auto":{"type":"auto"}}}"#).expect("valid");
    assert_eq!(auto.identities["auto"].kind(), Kind::Auto);
    match &c.identities["ci"] {
        IdentityKind::ServicePrincipal(sp) => {
            assert_eq!(
                sp.credential,
                Credential::Secret(SecretSource::Env("CI_CLIENT_SECRET".into()))
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_variables_holding_secrets_are_listed() {
    let c = parse(
        r#"{ "identities": {
          "a": {"type":"service-principal","tenant":"contoso.onmicrosoft.com","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_env":"A_SECRET"},
          "b": {"type":"service-principal","tenant":"contoso.onmicrosoft.com","client_id":"00001111-aaaa-2222-bbbb-3333cccc4445","certificate":"/etc/b.pfx","certificate_password_env":"B_PASSWORD"},
          "c": {"type":"service-principal","tenant":"contoso.onmicrosoft.com","client_id":"00001111-aaaa-2222-bbbb-3333cccc4446","certificate":"/etc/c.pem"},
          "d": {"type":"pipeline-token","variable":"D_TOKEN"},
          "e": {"type":"user"}
        } }"#,
    )
    .expect("valid");
    assert_eq!(c.secret_variables(), ["A_SECRET", "B_PASSWORD", "D_TOKEN"]);
}

#[test]
fn longest_route_wins_on_segment_boundaries() {
    let c = parse(&format!(
        r#"{{"identities":{{{CI}}},"routes":[
        {{"url":"https://dev.azure.com","identity":"auto"}},
        {{"url":"https://dev.azure.com/contoso","identity":"ci"}}]}}"#
    ))
    .expect("valid");
    assert_eq!(
        c.route("https://dev.azure.com/contoso/p/_git/r")
            .map(|r| r.identity.as_str()),
        Some("ci")
    );
    assert_eq!(
        c.route("https://dev.azure.com/contoso")
            .map(|r| r.identity.as_str()),
        Some("ci")
    );
    assert_eq!(
        c.route("https://dev.azure.com/contosox/p")
            .map(|r| r.identity.as_str()),
        Some("auto")
    );
    assert!(c.route("http://127.0.0.1:1/contoso").is_none());
    assert!(c.has_org_routes("https://dev.azure.com"));
}

#[test]
fn org_routes_are_found_on_a_slash_boundary() {
    let c = parse(
        r#"{"hosts":["https://ado.example.com","https://ado.example.community"],"routes":[
        {"url":"https://ado.example.community/org","identity":"auto"},
        {"url":"https://ado.example.com","identity":"auto"}]}"#,
    )
    .expect("valid");
    assert!(c.has_org_routes("https://ado.example.community"));
    assert!(!c.has_org_routes("https://ado.example.com"));
    assert!(!c.has_org_routes("https://dev.azure.com"));
}

#[test]
fn visualstudio_routes_keep_collections_that_only_start_like_default() {
    let c = parse(
        r#"{"routes":[
        {"url":"https://contoso.visualstudio.com/DefaultCollectionX/p","identity":"auto"},
        {"url":"https://contoso.visualstudio.com/DEFAULTCOLLECTION/p/","identity":"auto"}]}"#,
    )
    .expect("valid");
    assert_eq!(
        c.routes[0].url,
        "https://dev.azure.com/contoso/defaultcollectionx/p"
    );
    assert_eq!(c.routes[1].url, "https://dev.azure.com/contoso/p");
}

#[test]
fn routes_with_dot_segments_are_refused() {
    for url in [
        "https://dev.azure.com/contoso/../fabrikam",
        "https://dev.azure.com/./contoso",
        "https://dev.azure.com/contoso/%2e%2E/x",
    ] {
        let e = error(&format!(
            r#"{{"routes":[{{"url":"{url}","identity":"auto"}}]}}"#
        ));
        assert_eq!(e.path, "routes[0].url", "{url}");
        assert!(e.problem.contains("'..' segment"), "{url}: {}", e.problem);
    }
}

#[test]
fn errors_name_file_and_json_path() {
    let e = error(&format!(
        r#"{{"identities":{{{CI}}},"routes":[{{"url":"https://dev.azure.com/x","identity":"nope"}}]}}"#
    ));
    assert_eq!(e.path, "routes[0].identity");
    assert!(
        e.problem.contains("'nope'") && e.problem.contains("ci"),
        "{}",
        e.problem
    );
    assert!(
        e.to_string()
            .starts_with("config file /cfg/config.json: routes[0].identity: "),
        "{e}"
    );

    let e = error(
        r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_envv":"X"}}}"#,
    );
    assert_eq!(e.path, "identities.ci.client_secret_envv");
    assert!(
        e.problem
            .starts_with("unknown key here; did you mean \"client_secret_env\"? Fix: rename it"),
        "{}",
        e.problem
    );
    let e = error(r#"{"identities":{},"cache":"file","nonsense":1}"#);
    assert!(
        e.problem
            .starts_with("unknown key here. Fix: remove or correct it (allowed here: identities,"),
        "{}",
        e.problem
    );

    let e = error(
        r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444"}}}"#,
    );
    assert_eq!(e.path, "identities.ci.client_secret_env");
    assert!(e.problem.contains("exactly one"), "{}", e.problem);

    let e = error(
        r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_env":"A","client_secret_file":"/s"}}}"#,
    );
    assert_eq!(e.path, "identities.ci.client_secret_file");
    assert!(
        e.problem.contains("conflicts with client_secret_env"),
        "{}",
        e.problem
    );

    let e = error(
        r#"{"identities":{"ci":{"type":"service-principal","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_env":"A"}}}"#,
    );
    assert_eq!(e.path, "identities.ci.tenant");

    let e = error(
        r#"{"identities":{"ci":{"type":"service-principal","tenant":"t","client_id":"my-app","client_secret_env":"A"}}}"#,
    );
    assert_eq!(e.path, "identities.ci.client_id");

    let e = error(r#"{"identities":{"x":{"type":"magic"}}}"#);
    assert_eq!(e.path, "identities.x.type");
    let e = error(r#"{"identities":{"x":{}}}"#);
    assert_eq!(e.path, "identities.x.type");
    let e = error(r#"{"identitis":{}}"#);
    assert_eq!(e.path, "identitis");
    let e = error(r#"{"cache":"disk"}"#);
    assert_eq!(e.path, "cache");
    let e = error(r#"{"refresh_margin_seconds":-1}"#);
    assert_eq!(e.path, "refresh_margin_seconds");
    let e = error(
        r#"{"identities":{"m":{"type":"managed-identity","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","object_id":"00001111-aaaa-2222-bbbb-3333cccc4444"}}}"#,
    );
    assert_eq!(e.path, "identities.m.object_id");
    let e = error(
        r#"{"identities":{"w":{"type":"workload-identity","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","assertion":"file"}}}"#,
    );
    assert_eq!(e.path, "identities.w.token_file");
    let e = error(r#"{"identities":{"auto":{"type":"azure-cli"}}}"#);
    assert_eq!(e.path, "identities.auto");
}

#[test]
fn json_syntax_errors_have_a_position() {
    let e = error("{\n  \"identities\": {,\n}");
    assert!(e.path.is_empty());
    assert!(e.problem.contains("line 2"), "{}", e.problem);
}

#[test]
fn urls_must_be_https_except_loopback() {
    assert_eq!(
        error(r#"{"authority_host":"http://login.example.com"}"#).path,
        "authority_host"
    );
    assert!(parse(r#"{"authority_host":"http://127.0.0.1:9999/"}"#).is_ok());
    assert_eq!(
        error(r#"{"hosts":["http://ado.example.com"]}"#).path,
        "hosts[0]"
    );
    assert_eq!(
        error(r#"{"hosts":["https://ado.example.com/path"]}"#).path,
        "hosts[0]"
    );
    assert!(
        parse(
            r#"{"hosts":["https://ADO.example.com", "http://localhost:8080", "http://[::1]:9"]}"#
        )
        .is_ok()
    );
    assert_eq!(
        error(r#"{"routes":[{"url":"http://dev.azure.com/x","identity":"auto"}]}"#).path,
        "routes[0].url"
    );
}

#[test]
fn secret_file_paths_resolve_home_and_relative() {
    let c = parse(r#"{"identities":{
        "a":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_file":"~/s"},
        "b":{"type":"service-principal","tenant":"t","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444","client_secret_file":"rel/s"}}}"#).expect("valid");
    let file = |n: &str| match &c.identities[n] {
        IdentityKind::ServicePrincipal(sp) => sp.credential.clone(),
        other => panic!("{other:?}"),
    };
    let file = |n| match file(n) {
        Credential::Secret(SecretSource::File(path)) => path,
        other => panic!("{other:?}"),
    };
    assert_eq!(file("a"), Path::new("/home/u/s"));
    assert_eq!(file("b"), Path::new("/cfg/rel/s"));
}

#[test]
fn missing_default_file_is_empty_but_explicit_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("none.json");
    assert!(
        Config::load(&path, false, None)
            .expect("empty")
            .identities
            .is_empty()
    );
    let e = Config::load(&path, true, None).expect_err("explicit");
    assert!(e.problem.contains("cannot read"));
}

#[test]
fn a_private_key_file_goes_with_a_certificate_only() {
    let sp = |fields: &str| {
        format!(
            r#"{{"identities":{{"c":{{"type":"service-principal","tenant":"t.example","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444",{fields}}}}}}}"#
        )
    };
    let c = parse(&sp(
        r#""certificate":"certs/app.crt","private_key":"~/keys/app.key""#,
    ))
    .expect("valid");
    match &c.identities["c"] {
        IdentityKind::ServicePrincipal(ServicePrincipalConfig {
            credential:
                Credential::Certificate(CertificateConfig {
                    source,
                    private_key,
                    ..
                }),
            ..
        }) => {
            assert_eq!(
                source,
                &CertSource::File(PathBuf::from("/cfg/certs/app.crt"))
            );
            assert_eq!(
                private_key.as_deref(),
                Some(Path::new("/home/u/keys/app.key"))
            );
        }
        other => panic!("{other:?}"),
    }
    let e = error(&sp(r#""client_secret_env":"X","private_key":"/k.pem""#));
    assert_eq!(e.path, "identities.c.private_key");
    assert!(
        e.problem
            .contains("only applies together with \"certificate\""),
        "{}",
        e.problem
    );
}

#[test]
fn errors_escape_control_characters_from_the_file() {
    // Found by the config fuzz target: a key is quoted in the JSON path.
    let e = error(r#"{"identities":{"x\u001b[31m":{"type":"azure-cli"}}}"#);
    let message = e.to_string();
    assert!(!message.chars().any(char::is_control), "{message:?}");
    assert!(message.contains(r"identities.x\u{1b}[31m"), "{message}");
}

#[test]
fn a_certificate_in_key_vault_and_the_identity_that_reads_it() {
    let sp = |fields: &str| {
        format!(
            r#"{{"identities":{{"c":{{"type":"service-principal","tenant":"t.example","client_id":"00001111-aaaa-2222-bbbb-3333cccc4444",{fields}}}}}}}"#
        )
    };
    let kv = |text: &str| match parse(text).map(|c| c.identities["c"].clone()) {
        Ok(IdentityKind::ServicePrincipal(ServicePrincipalConfig {
            credential:
                Credential::Certificate(CertificateConfig {
                    source: CertSource::KeyVault(kv),
                    ..
                }),
            ..
        })) => *kv,
        other => panic!("{other:?}"),
    };
    let system = kv(&sp(
        r#""certificate":"https://Contoso-KV.vault.azure.net/secrets/app-cert/""#,
    ));
    assert_eq!(
        (system.url.as_str(), system.reader),
        (
            "https://contoso-kv.vault.azure.net/secrets/app-cert",
            MiSelector::System
        )
    );
    let uami = "00001111-aaaa-2222-bbbb-3333cccc4446";
    let user = kv(&sp(&format!(
        r#""certificate":"https://kv1.vault.usgovcloudapi.net/secrets/c/0123456789abcdef0123456789abcdef","key_vault_identity":{{"client_id":"{uami}"}},"certificate_password_env":"P""#
    )));
    assert_eq!(user.reader, MiSelector::ClientId(uami.into()));
    assert_eq!(user.resource, "https://vault.usgovcloudapi.net");
    assert_eq!(
        user.version.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    for (fields, key, why) in [
        (
            r#""certificate":"https://evil.example/secrets/c""#,
            "identities.c.certificate",
            "is not a Key Vault",
        ),
        (
            r#""certificate":"https://kv1.vault.azure.net/secrets/c","private_key":"/k.pem""#,
            "identities.c.private_key",
            "certificate file only",
        ),
        (
            r#""certificate":"/etc/app.pfx","key_vault_identity":{"client_id":"00001111-aaaa-2222-bbbb-3333cccc4446"}"#,
            "identities.c.key_vault_identity",
            "Key Vault secret URL",
        ),
        (
            r#""client_secret_env":"X","key_vault_identity":{"object_id":"00001111-aaaa-2222-bbbb-3333cccc4446"}"#,
            "identities.c.key_vault_identity",
            "only applies together with \"certificate\"",
        ),
        (
            r#""certificate":"https://kv1.vault.azure.net/secrets/c","key_vault_identity":{}"#,
            "identities.c.key_vault_identity",
            "names no identity",
        ),
        (
            r#""certificate":"https://kv1.vault.azure.net/secrets/c","key_vault_identity":{"client_id":"x","object_id":"y"}"#,
            "identities.c.key_vault_identity.client_id",
            "",
        ),
        (
            r#""certificate":"https://kv1.vault.azure.net/secrets/c","key_vault_identity":{"clientid":"00001111-aaaa-2222-bbbb-3333cccc4446"}"#,
            "identities.c.key_vault_identity.clientid",
            "did you mean \"client_id\"",
        ),
        (
            r#""certificate":"https://kv1.vault.azure.net/secrets/c","key_vault_identity":{"resource_id":"rg/x"}"#,
            "identities.c.key_vault_identity.resource_id",
            "/subscriptions/",
        ),
    ] {
        let e = error(&sp(fields));
        assert_eq!(e.path, key, "{fields}: {e}");
        assert!(e.problem.contains(why), "{fields}: {e}");
        assert!(e.to_string().contains("/cfg/config.json"), "{e}");
    }
}
