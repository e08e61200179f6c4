//! Detection, request shapes and cache keys, without a network.

use super::exchange::{request_url, server_message};
use super::*;
use crate::net::retry::MANAGED_IDENTITY as POLICY;

const CLIENT: &str = "11112222-3333-4444-5555-666677778888";
const RES_ID: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u";

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied())
}

#[test]
fn detection_follows_the_documented_order() {
    let app = [
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token"),
        ("IDENTITY_HEADER", "hdr"),
    ];
    let arc = [
        (
            "IDENTITY_ENDPOINT",
            "http://localhost:40342/metadata/identity/oauth2/token",
        ),
        ("IMDS_ENDPOINT", "http://localhost:40342"),
    ];
    let shell = [("MSI_ENDPOINT", "http://localhost:50342/oauth2/token")];
    assert!(matches!(
        detect(&env(&app), false),
        Detected::AppService { header: "hdr", .. }
    ));
    // App Service wins over everything after it.
    let mut all = app.to_vec();
    all.extend_from_slice(&[("IMDS_ENDPOINT", "http://localhost:40342")]);
    all.extend_from_slice(&shell);
    assert!(matches!(
        detect(&env(&all), true),
        Detected::AppService { .. }
    ));
    assert_eq!(detect(&env(&arc), false), Detected::Arc { url: arc[0].1 });
    // The installed agent alone means Arc, on its default endpoint, ahead of Cloud Shell.
    assert_eq!(
        detect(&env(&shell), true),
        Detected::Arc {
            url: ARC_DEFAULT_ENDPOINT
        }
    );
    assert_eq!(
        detect(&env(&shell), false),
        Detected::CloudShell { url: shell[0].1 }
    );
    assert_eq!(
        detect(&env(&[]), false),
        Detected::Imds {
            authority: IMDS_AUTHORITY,
            var: None
        }
    );
    assert_eq!(
        detect(
            &env(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9/")]),
            false
        ),
        Detected::Imds {
            authority: "http://127.0.0.1:9",
            var: Some("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        }
    );
    // IDENTITY_ENDPOINT alone is neither App Service nor Arc.
    assert!(matches!(
        detect(
            &env(&[("IDENTITY_ENDPOINT", "http://127.0.0.1:1/x")]),
            false
        ),
        Detected::Imds { .. }
    ));
    let mut fabric = app.to_vec();
    fabric.push(("IDENTITY_SERVER_THUMBPRINT", "ab"));
    assert!(matches!(
        detect(&env(&fabric), false),
        Detected::Unsupported("Service Fabric", _)
    ));
    let mut ml = shell.to_vec();
    ml.push(("MSI_SECRET", "s"));
    assert!(matches!(
        detect(&env(&ml), false),
        Detected::Unsupported("Azure Machine Learning", _)
    ));
}

#[test]
fn endpoint_variables_must_name_a_local_endpoint() {
    for (var, pairs) in [
        (
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://evil.example")],
        ),
        (
            "MSI_ENDPOINT",
            vec![("MSI_ENDPOINT", "https://10.0.0.1/token")],
        ),
        (
            "IDENTITY_ENDPOINT",
            vec![
                ("IDENTITY_ENDPOINT", "http://evil.example/msi/token"),
                ("IDENTITY_HEADER", "h"),
            ],
        ),
    ] {
        let e = ManagedIdentity::detect("vm", MiSelector::System, 30, &env(&pairs))
            .expect_err(var)
            .to_string();
        assert!(
            e.starts_with("identity 'vm': ") && e.contains(var) && e.contains("Fix: unset"),
            "{e}"
        );
    }
}

#[test]
fn arc_and_cloud_shell_refuse_user_assigned_selectors() {
    let arc = env(&[
        (
            "IDENTITY_ENDPOINT",
            "http://localhost:40342/metadata/identity/oauth2/token",
        ),
        ("IMDS_ENDPOINT", "http://localhost:40342"),
    ]);
    let e = ManagedIdentity::detect("arc", MiSelector::ClientId(CLIENT.into()), 30, &arc)
        .expect_err("user-assigned on Arc")
        .to_string();
    assert!(
        e.contains("Azure Arc")
            && e.contains(&format!("client_id {CLIENT}"))
            && e.contains("only the system-assigned"),
        "{e}"
    );
    assert!(ManagedIdentity::detect("arc", MiSelector::System, 30, &arc).is_ok());
    let shell = env(&[("MSI_ENDPOINT", "http://localhost:50342/oauth2/token")]);
    assert!(
        ManagedIdentity::detect("cs", MiSelector::ObjectId(CLIENT.into()), 30, &shell).is_err()
    );
}

fn query(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

#[test]
fn each_endpoint_names_selectors_its_own_way() {
    let res = "499b84ac-1321-427f-aa17-267ca6975798";
    let imds = Endpoint::Imds {
        authority: "http://169.254.169.254".into(),
    };
    let app = Endpoint::AppService {
        url: "http://127.0.0.1:41741/msi/token".into(),
        header: Secret::new("h".into()),
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let cases = [
        (&imds, MiSelector::System, None),
        (
            &imds,
            MiSelector::ClientId(CLIENT.into()),
            Some(pair("client_id", CLIENT)),
        ),
        (
            &imds,
            MiSelector::ObjectId(CLIENT.into()),
            Some(pair("object_id", CLIENT)),
        ),
        (
            &imds,
            MiSelector::ResourceId(RES_ID.into()),
            Some(pair("msi_res_id", RES_ID)),
        ),
        (&app, MiSelector::System, None),
        (
            &app,
            MiSelector::ClientId(CLIENT.into()),
            Some(pair("client_id", CLIENT)),
        ),
        (
            &app,
            MiSelector::ObjectId(CLIENT.into()),
            Some(pair("principal_id", CLIENT)),
        ),
        (
            &app,
            MiSelector::ResourceId(RES_ID.into()),
            Some(pair("mi_res_id", RES_ID)),
        ),
    ];
    for (endpoint, selector, extra) in cases {
        let url = request_url(endpoint, &selector, res).expect("url");
        let version = if matches!(endpoint, Endpoint::Imds { .. }) {
            "2018-02-01"
        } else {
            "2019-08-01"
        };
        let mut expected = vec![pair("api-version", version), pair("resource", res)];
        expected.extend(extra);
        assert_eq!(query(&url), expected, "{selector:?}");
    }
    let url = request_url(&imds, &MiSelector::System, res).expect("url");
    assert_eq!(url.path(), "/metadata/identity/oauth2/token");
    let arc = Endpoint::Arc {
        url: ARC_DEFAULT_ENDPOINT.into(),
        key_dir: PathBuf::from("/var/opt/azcmagent/tokens"),
    };
    let url = request_url(&arc, &MiSelector::System, res).expect("url");
    assert_eq!(
        query(&url),
        vec![pair("api-version", "2020-06-01"), pair("resource", res)]
    );
    let shell = Endpoint::CloudShell {
        url: "http://localhost:50342/oauth2/token".into(),
    };
    assert_eq!(
        request_url(&shell, &MiSelector::System, res)
            .expect("url")
            .query(),
        None
    );
}

#[test]
fn cache_keys_differ_by_endpoint_and_selector_but_not_by_name_or_budget() {
    let mi = |endpoint: Endpoint, selector: MiSelector, secs| ManagedIdentity {
        selector,
        endpoint,
        timeout: Duration::from_secs(secs),
    };
    let imds = || Endpoint::Imds {
        authority: IMDS_AUTHORITY.into(),
    };
    let app = || Endpoint::AppService {
        url: "http://127.0.0.1:41741/msi/token".into(),
        header: Secret::new("rotating".into()),
    };
    let a = mi(imds(), MiSelector::System, 30).fingerprint();
    assert_eq!(a, mi(imds(), MiSelector::System, 5).fingerprint());
    assert_ne!(a, mi(app(), MiSelector::System, 30).fingerprint());
    assert_ne!(
        a,
        mi(imds(), MiSelector::ClientId(CLIENT.into()), 30).fingerprint()
    );
    assert_ne!(
        mi(imds(), MiSelector::ClientId(CLIENT.into()), 30).fingerprint(),
        mi(imds(), MiSelector::ObjectId(CLIENT.into()), 30).fingerprint()
    );
    let shown = mi(app(), MiSelector::ClientId(CLIENT.into()), 30).describe();
    assert!(
        shown.contains(&format!("client_id {CLIENT}"))
            && shown.contains("App Service at http://127.0.0.1:41741/msi/token"),
        "{shown}"
    );
    assert!(
        !format!("{:?}", app()).contains("rotating"),
        "the header is a secret"
    );
}

#[test]
fn budgets_come_from_the_identity_then_the_file() {
    let config = Config::parse(
        r#"{"identities":{"a":{"type":"managed-identity"},"b":{"type":"managed-identity","managed_identity_timeout_seconds":7}},"managed_identity_timeout_seconds":12}"#,
        std::path::Path::new("/cfg/config.json"),
        None,
    )
    .expect("valid config");
    let budget = |name: &str| match config.identities.get(name) {
        Some(crate::config::IdentityKind::ManagedIdentity(c)) => {
            ManagedIdentity::configured(name, c, &config, &env(&[]))
                .expect("imds")
                .timeout
        }
        _ => panic!("no identity {name}"),
    };
    assert_eq!(budget("a"), Duration::from_secs(12));
    assert_eq!(budget("b"), Duration::from_secs(7));
    assert_eq!(Config::default().managed_identity_timeout_seconds, 30);
    let zero = ManagedIdentity::detect("z", MiSelector::System, 0, &env(&[])).expect("imds");
    assert_eq!(
        zero.timeout,
        Duration::from_secs(1),
        "a zero budget still tries once"
    );
}

#[test]
fn the_policy_retries_what_microsoft_says_and_nothing_else() {
    for s in [404, 410, 429, 500, 503, 599] {
        assert!(POLICY.retries(s), "{s}");
    }
    for s in [400, 401, 403, 405, 409, 200] {
        assert!(!POLICY.retries(s), "{s}");
    }
}

#[test]
fn server_messages_are_read_from_each_shape_and_sanitized() {
    assert_eq!(
        server_message(r#"{"error":"invalid_request","error_description":"Identity not found"}"#),
        "Identity not found"
    );
    assert_eq!(
        server_message(
            r#"{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"c"}"#
        ),
        "Unable to load the proper Managed Identity."
    );
    assert_eq!(
        server_message(r#"{"error":{"code":"x","message":"bad\u001b[31m red"}}"#),
        "bad [31m red"
    );
    assert_eq!(server_message("plain\ntext"), "plain text");
    assert_eq!(server_message(""), "");
}
