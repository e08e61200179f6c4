//! Asking Azure DevOps: the organization's tenant, then about the token:
//! `_apis/connectionData` (who it sees) and, for a repository URL, the read and push advertisements git fetches
//! first. Its refusals (TF codes) are translated into who must do what.

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::azure_devops::Target;
use crate::azure_devops::tenant::{self, How};
use crate::net::http::Http;
use crate::sys::text::sanitize;

use super::Check;

/// Whole-request bound for each call.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The most of a response that is read.
const MAX_BODY: u64 = 256 * 1024;

/// The organization's tenant as a `get` would discover it, and the check
/// saying so: a warning when the lookup failed (a stale memory or the
/// default then stands in).
pub fn org_tenant(
    http: &Http,
    target: &Target,
    org: &str,
    cache_dir: Option<&std::path::Path>,
) -> (Check, String) {
    let t = tenant::discover(http, org, &target.base, &[], cache_dir);
    let detail = match &t.how {
        How::Default { probe } => format!(
            "no tenant found for organization '{org}' ({probe}), so the default '{}' is asked",
            t.id
        ),
        how => format!("organization '{org}' belongs to tenant {} ({how})", t.id),
    };
    let check = match &t.how {
        How::Default { .. } | How::Stale { .. } => Check::warn(
            "org-tenant",
            detail,
            format!(
                "check that {} answers from here (see the network check); if Azure DevOps refuses the token, set \"tenant\" on the identity to the organization's tenant",
                target.base
            ),
        ),
        _ => Check::pass("org-tenant", detail),
    };
    (check, t.id)
}

/// The payload of a compact JWT, for display; `None` when it is not one.
pub fn claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

/// One answer: status, `X-TFS-ServiceError` (decoded) and body.
struct Answer {
    status: u16,
    text: String,
    body: Vec<u8>,
}

fn get(http: &Http, url: &str, token: &str) -> Result<Answer, String> {
    let client = http.azure_devops(url).map_err(|e| e.to_string())?;
    let mut response = client
        .get(url)
        .bearer_auth(token)
        .header("Accept", "application/json")
        .header("X-TFS-FedAuthRedirect", "Suppress")
        .timeout(TIMEOUT)
        .send()
        .map_err(|e| sanitize(&e.to_string()))?;
    let status = response.status().as_u16();
    let service_error = response
        .headers()
        .get_all("X-TFS-ServiceError")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(form_decode)
        .collect::<Vec<_>>()
        .join(" ");
    let mut body = Vec::new();
    let _ = (&mut response).take(MAX_BODY).read_to_end(&mut body);
    let text = format!("{service_error} {}", String::from_utf8_lossy(&body));
    Ok(Answer {
        status,
        text: sanitize(&text),
        body,
    })
}

/// `X-TFS-ServiceError` is form-encoded (`TF400813%3a+The+user…`).
fn form_decode(v: &str) -> String {
    let plus = v.replace('+', " ");
    url::form_urlencoded::parse(format!("x={}", plus.replace('&', "%26")).as_bytes())
        .next()
        .map_or(plus.clone(), |(_, v)| v.into_owned())
}

/// connectionData, then (for a repository URL) read and push access.
pub fn check(
    http: &Http,
    target: &Target,
    org: &str,
    token: &crate::token::AccessToken,
    checks: &mut Vec<Check>,
) {
    let token = token.token.expose().as_str();
    let url = format!("{}/{org}/_apis/connectionData", target.base);
    match get(http, &url, token) {
        Ok(a) if a.status == 200 => {
            let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
            let user = &v["authenticatedUser"];
            let name = user["providerDisplayName"].as_str().map(sanitize);
            let id = user["id"].as_str().map(sanitize).unwrap_or_default();
            match name {
                Some(name) => checks.push(Check::pass(
                    "azure-devops",
                    format!("{url} answered: Azure DevOps sees '{name}' (id {id})"),
                )),
                None => checks.push(Check::fail(
                    "azure-devops",
                    format!("{url} answered HTTP 200 without naming a user: the token was not taken as a sign-in"),
                    "run again with -vv; check the URL names the organization",
                )),
            }
        }
        Ok(a) => {
            checks.push(refusal("azure-devops", &url, &a, org));
            return;
        }
        Err(e) => {
            checks.push(Check::fail(
                "azure-devops",
                format!("GET {url} failed: {e}"),
                "check the network path (proxy, firewall) to Azure DevOps",
            ));
            return;
        }
    }
    let Some(repo) = repo_url(target) else {
        return;
    };
    for (check, service) in [
        ("repo-read", "git-upload-pack"),
        ("repo-push", "git-receive-pack"),
    ] {
        let url = format!("{repo}/info/refs?service={service}");
        match get(http, &url, token) {
            Ok(a) if a.status == 200 => checks.push(Check::pass(
                check,
                format!(
                    "{repo}: {} allowed",
                    if service == "git-upload-pack" {
                        "fetch"
                    } else {
                        "push"
                    }
                ),
            )),
            Ok(a) => checks.push(refusal(check, &url, &a, org)),
            Err(e) => checks.push(Check::fail(
                check,
                format!("GET {url} failed: {e}"),
                "check the network path (proxy, firewall) to Azure DevOps",
            )),
        }
    }
}

/// `{base}/{org}/{project}/_git/{repo}` when the URL names a repository.
fn repo_url(target: &Target) -> Option<String> {
    let rest = target
        .url
        .strip_prefix(&target.base)?
        .trim_start_matches('/');
    let segs: Vec<&str> = rest.split('/').collect();
    (segs.len() >= 4 && segs[2] == "_git" && segs[..4].iter().all(|s| !s.is_empty()))
        .then(|| format!("{}/{}", target.base, segs[..4].join("/")))
}

/// A refusal, with the fix for the TF code in it.
fn refusal(check: &'static str, url: &str, a: &Answer, org: &str) -> Check {
    let has = |code: &str| a.text.contains(code);
    let detail = format!("{url} answered HTTP {}: {}", a.status, a.text.trim());
    let fix = if has("TF401444") {
        format!(
            "this principal exists in Entra but was never added to '{org}'. A user: sign in once at https://dev.azure.com/{org} in a browser. A service principal or managed identity: an organization administrator adds it under Organization settings → Users → Add users (search by its name or app id), with an access level (Basic for git)"
        )
    } else if has("TF400813") {
        format!(
            "the token is valid but '{org}' does not let this principal in: it is not a member, or its token is from another tenant than the organization's (see the tenant check). An organization administrator adds it under Organization settings → Users; or route this organization to an identity of its tenant"
        )
    } else if has("TF401027") {
        "the principal lacks a permission on this repository (push needs Contribute): a project administrator grants it under Project settings → Repositories → Security; a Stakeholder access level cannot use Repos in private projects: give it Basic".into()
    } else if has("TF401019") {
        "the repository does not exist, or this principal may not read it: check the name; a project administrator adds the principal to the project (Readers or Contributors); a Stakeholder access level cannot use Repos in private projects: give it Basic".into()
    } else if a.status == 401 {
        "Azure DevOps did not accept the token: check the audience and tenant checks above, and run git-credential-entra cache clear".into()
    } else {
        "run again with -vv and compare with the table in docs/troubleshooting.md".into()
    };
    Check::fail(check, detail, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_form_decoded() {
        assert_eq!(
            form_decode("TF400813%3a+The+user+%27x%27+is+not+authorized"),
            "TF400813: The user 'x' is not authorized"
        );
    }

    #[test]
    fn each_tf_code_gets_its_own_fix() {
        let answer = |text: &str| Answer {
            status: 401,
            text: text.into(),
            body: Vec::new(),
        };
        let fix = |text: &str| refusal("x", "u", &answer(text), "contoso").fix;
        assert!(fix("TF401444: Please sign-in at least once").contains("Add users"));
        assert!(fix("TF400813: The user 'a' is not authorized").contains("another tenant"));
        assert!(
            fix("TF401027: You need the Git 'GenericContribute' permission").contains("Contribute")
        );
        assert!(fix("TF401019: The Git repository").contains("does not exist"));
    }

    #[test]
    fn repository_urls_are_found() {
        let t = Target::from_url("https://dev.azure.com/contoso/proj/_git/repo/x", &[])
            .ok()
            .flatten()
            .expect("a target");
        assert_eq!(
            repo_url(&t).as_deref(),
            Some("https://dev.azure.com/contoso/proj/_git/repo")
        );
        let org = Target::from_url("https://dev.azure.com/contoso", &[])
            .ok()
            .flatten()
            .expect("a target");
        assert_eq!(repo_url(&org), None);
    }
}
