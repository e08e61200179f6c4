//! Tenant discovery against the fake Azure DevOps: its answer to the
//! unauthenticated probe, a Microsoft-account organization, the answer
//! remembered in the helper's cache directory, and `erase` forgetting it.

use std::path::Path;

use git_credential_entra::azure_devops::tenant::{self, How, ORGANIZATIONS, Tenant};
use git_credential_entra::net::http::Http;
use git_credential_entra::sys::env::Env;
use git_credential_entra::sys::trace::Trace;

use crate::support::world::{TENANT, World};

/// Discovery as the helper does it, with no proxy and the system's roots
/// (the fakes are plain http on loopback).
fn discover(org: &str, base: &str, cache: Option<&Path>) -> Tenant {
    let env = Env::default();
    let trace = Trace::new(0, &env, Box::new(std::io::sink()));
    tenant::discover(
        &Http::new(&env, &trace, Box::new(Vec::new)),
        org,
        base,
        &[],
        cache,
    )
}

const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

#[test]
fn the_probe_finds_the_organizations_tenant_and_remembers_it() {
    let w = World::new();
    let cache = w.env.path().join("cache/git-credential-entra");
    let base = w.ado.base_url();
    let t = discover("contoso", &base, Some(&cache));
    assert_eq!(t.id, w.entra.tenant_id(TENANT));
    assert_eq!(t.how, How::Probe);
    let probes: Vec<_> = w
        .ado
        .requests()
        .into_iter()
        .filter(|r| r.method == "HEAD")
        .collect();
    assert_eq!(probes.len(), 1, "{probes:?}");
    assert_eq!(
        (probes[0].path.as_str(), probes[0].status),
        ("/contoso", 404)
    );

    let again = discover("contoso", &base, Some(&cache));
    assert_eq!((again.id, again.how), (t.id, How::Remembered));
    assert_eq!(
        w.ado
            .requests()
            .iter()
            .filter(|r| r.method == "HEAD")
            .count(),
        1,
        "a remembered tenant needs no request"
    );
}

#[test]
fn a_microsoft_account_organization_uses_organizations() {
    let w = World::new();
    w.ado.set_org_tenant("personal", EMPTY_GUID);
    let t = discover("personal", &w.ado.base_url(), None);
    assert_eq!((t.id.as_str(), t.how), (ORGANIZATIONS, How::Probe));
}

#[test]
fn erase_forgets_the_remembered_tenant() {
    let w = World::new();
    let cache = w.env.path().join("cache/git-credential-entra");
    let base = w.ado.base_url();
    let t = discover("contoso", &base, Some(&cache));
    assert_eq!(t.how, How::Probe);
    let out = w.helper(
        &["erase", "-v"],
        &format!("{}password=a-rejected-token\n", w.request()),
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("erase: forgot the tenant of {base}/contoso")),
        "{}",
        out.stderr
    );
    // Forgotten: the next discovery asks Azure DevOps again.
    let t = discover("contoso", &base, Some(&cache));
    assert_eq!(t.how, How::Probe, "asked again after erase");
}
