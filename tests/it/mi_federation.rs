//! A user-assigned managed identity as the federated credential of an app
//! registration in another tenant: the secret-free way to an organization
//! whose tenant is not the machine's.

use crate::support::world::{TENANT, World, field};
use crate::support::{EXCHANGE_AUDIENCE, FakeImds, Federation, MiKind, jwt};

/// The app registration, in the organization's tenant.
const APP: &str = "77778888-aaaa-2222-bbbb-3333cccc4444";
/// The tenant the machine and its managed identity live in.
const HOME: &str = "fabrikam-home.onmicrosoft.com";

#[test]
fn a_managed_identity_token_is_the_assertion_for_an_app_in_another_tenant() {
    let mut w = World::new();
    let home_tid = w.entra.tenant_id(HOME);
    let imds = FakeImds::start(MiKind::Imds, &home_tid);
    w.env
        .set_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url());
    let uami = imds.add_user_assigned("bridge");
    w.entra.add_federated_app(
        TENANT,
        APP,
        Federation {
            issuer: format!("https://login.microsoftonline.com/{home_tid}/v2.0"),
            subject: uami.object_id.clone(),
            audience: EXCHANGE_AUDIENCE.into(),
        },
    );
    w.ado.allow("contoso", APP);
    w.write_config(&format!(
        r#", "xt": {{ "type": "workload-identity", "tenant": "{TENANT}", "client_id": "{APP}",
                    "assertion": "managed-identity", "managed_identity_client_id": "{}" }}"#,
        uami.client_id
    ));

    let out = w.helper(&["get", "--identity", "xt"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(field(&out.stdout, "username"), Some(APP));
    let token = field(&out.stdout, "password").expect("a token");
    let claims = jwt::verify(token).expect("issued by the fake Entra");
    assert_eq!(claims["tid"], w.entra.tenant_id(TENANT).as_str());
    assert_eq!(claims["appid"], APP);

    // The managed identity was asked for the exchange audience, as itself.
    let asked = imds.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0].query.get("resource").map(String::as_str),
        Some(EXCHANGE_AUDIENCE)
    );
    assert_eq!(asked[0].query.get("client_id"), Some(&uami.client_id));
    // Entra received that very token as the client assertion.
    let sent = w.entra.token_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].tenant, TENANT);
    assert_eq!(
        sent[0]
            .form
            .get("client_assertion_type")
            .map(String::as_str),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert!(
        sent[0]
            .assertion
            .as_ref()
            .is_some_and(|a| imds.issued_tokens().iter().any(|t| a.value() == t)),
        "the managed identity's token was the assertion"
    );

    // Cached like any workload token: a second get asks nobody.
    let again = w.helper(&["get", "--identity", "xt"], &w.request());
    assert!(again.status.success(), "{}", again.stderr);
    assert_eq!(
        (imds.requests().len(), w.entra.token_requests().len()),
        (1, 1)
    );
}
