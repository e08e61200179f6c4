//! `user` identities whose organizations belong to different tenants: each
//! token is cached, and each refresh token kept, for the identity and the
//! tenant it was issued for, so one sign-in never replaces another's and a
//! token of one tenant is never served for an organization of another.

use crate::support::jwt;
use crate::support::world::{TENANT, World, token_of};
use crate::user_signin::{UPN, assert_no_refresh_token_in_files, curl_browser, grants, no_keyring};

/// The second organization's tenant, and who signs in there.
const OTHER: &str = "fabrikam.onmicrosoft.com";
const OTHER_UPN: &str = "bob@fabrikam.onmicrosoft.com";

/// A world with organizations `contoso` (tenant [`TENANT`]) and `fabrikam`
/// (tenant [`OTHER`], as Azure DevOps answers the tenant probe), routed to
/// the user identities of `identities` (`contoso`'s first); no identity
/// names a tenant or an account, and all share one client id.
fn two_tenants(identities: [&str; 2]) -> World {
    let w = World::new();
    w.entra.add_user(TENANT, UPN);
    w.entra.add_user(OTHER, OTHER_UPN);
    w.ado.set_org_tenant("fabrikam", &w.entra.tenant_id(OTHER));
    // A unique client id: keyring items outlive the test's HOME.
    let client = crate::support::random_guid();
    let user = format!(r#"{{ "type": "user", "client_id": "{client}" }}"#);
    let defined: Vec<String> = identities
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|name| format!(r#""{name}": {user}"#))
        .collect();
    w.env.write_config(&format!(
        r#"{{
  "identities": {{ {defined} }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "{a}" }},
              {{ "url": "{base}/fabrikam", "identity": "{b}" }} ],
  "hosts": [ "{base}" ],
  "authority_host": "{authority}"
}}"#,
        defined = defined.join(", "),
        a = identities[0],
        b = identities[1],
        base = w.ado.base_url(),
        authority = w.entra.url()
    ));
    w
}

/// git's request for a repository of `org`.
fn request(w: &World, org: &str) -> String {
    format!(
        "protocol=http\nhost={}\npath={org}/proj/_git/repo\n",
        w.ado.host()
    )
}

/// The tenant and account a token was issued for.
fn issued_for(token: &str) -> (String, String) {
    let claims = jwt::verify(token).expect("a token of the fake Entra");
    let s = |k: &str| claims[k].as_str().unwrap_or_default().to_string();
    (s("tid"), s("upn"))
}

/// Signs in for both organizations, then checks that each has its own
/// token, that, an hour later, each refreshes silently with its own
/// refresh token, and that `erase` drops the rejected one only. `false`
/// when no keyring keeps a sign-in here.
fn each_organization_keeps_its_own_sign_in(w: &mut World) -> bool {
    curl_browser(w);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "always");
    let contoso = (w.entra.tenant_id(TENANT), UPN.to_string());
    let fabrikam = (w.entra.tenant_id(OTHER), OTHER_UPN.to_string());

    let first = w.helper(&["get"], &request(w, "contoso"));
    if no_keyring(&first) {
        return false;
    }
    assert!(first.status.success(), "{}", first.stderr);
    assert_eq!(issued_for(&token_of(&first.stdout)), contoso);
    let second = w.helper(&["get"], &request(w, "fabrikam"));
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(
        issued_for(&token_of(&second.stdout)),
        fabrikam,
        "fabrikam's tenant's token, from a sign-in of its own: {}",
        second.stderr
    );
    assert_eq!(w.entra.users(|u| u.authorize_requests.len()), 2);
    let again = w.helper(&["get"], &request(w, "contoso"));
    assert_eq!(
        token_of(&again.stdout),
        token_of(&first.stdout),
        "contoso's cached token survived fabrikam's sign-in"
    );

    // An hour later, with no one to answer a prompt: each refresh token
    // still works (the fake forgets a refresh token once it is used, and
    // knows whose it is).
    w.age_cache(3600);
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "never");
    let mut latest = Vec::new();
    for (org, want) in [("contoso", &contoso), ("fabrikam", &fabrikam)] {
        let out = w.helper(&["get"], &request(w, org));
        assert!(out.status.success(), "{org}: {}", out.stderr);
        assert_eq!(&issued_for(&token_of(&out.stdout)), want, "{org}");
        latest.push(token_of(&out.stdout));
    }
    assert_eq!(
        grants(w),
        [
            "authorization_code",
            "authorization_code",
            "refresh_token",
            "refresh_token"
        ]
    );
    let tenants: Vec<String> = w
        .entra
        .token_requests()
        .iter()
        .map(|r| r.tenant.clone())
        .collect();
    assert_eq!(
        tenants[2..],
        [contoso.0, fabrikam.0],
        "refreshed at each tenant"
    );
    assert_no_refresh_token_in_files(w);

    // git rejects fabrikam's token: that one is dropped, contoso's is kept.
    let erase = w.helper(
        &["erase", "-v"],
        &format!("{}password={}\n", request(w, "fabrikam"), latest[1]),
    );
    assert!(
        erase.stderr.contains("dropped the rejected token"),
        "{}",
        erase.stderr
    );
    let out = w.helper(&["get"], &request(w, "contoso"));
    assert_eq!(token_of(&out.stdout), latest[0], "{}", out.stderr);
    true
}

/// What a `get` for `org` says when no prompt may be shown.
fn get_without_prompts(w: &mut World, org: &str) -> crate::support::RunOutput {
    w.env.set_env("GIT_CREDENTIAL_ENTRA_INTERACTIVE", "never");
    w.helper(&["get"], &request(w, org))
}

#[test]
fn two_user_identities_in_two_tenants_keep_their_own_tokens() {
    let mut w = two_tenants(["work", "partner"]);
    if !each_organization_keeps_its_own_sign_in(&mut w) {
        return;
    }
    // Signing one identity out leaves the other signed in.
    let out = w.helper(&["logout", "--identity", "partner"], "");
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        get_without_prompts(&mut w, "contoso").status.success(),
        "work is still signed in"
    );
    w.age_cache(3600);
    let out = get_without_prompts(&mut w, "contoso");
    assert!(out.status.success(), "work still refreshes: {}", out.stderr);
    let out = get_without_prompts(&mut w, "fabrikam");
    assert!(out.stderr.contains("not signed in"), "{}", out.stderr);
}

#[test]
fn one_user_identity_keeps_a_token_per_tenant() {
    let mut w = two_tenants(["me", "me"]);
    if !each_organization_keeps_its_own_sign_in(&mut w) {
        return;
    }
    // logout forgets the sign-ins of both tenants.
    let out = w.helper(&["logout", "--identity", "me"], "");
    assert!(
        out.stderr.contains("removed its cached access token")
            && out.stderr.contains("its refresh token from the OS keyring"),
        "{}",
        out.stderr
    );
    for org in ["contoso", "fabrikam"] {
        let out = get_without_prompts(&mut w, org);
        assert!(
            out.stderr.contains("not signed in"),
            "{org}: {}",
            out.stderr
        );
    }
}
