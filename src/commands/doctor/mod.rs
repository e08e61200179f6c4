//! `doctor [URL] [--json]`: every step between `git push` and Azure DevOps,
//! checked in order, one line each (✓ passed, ✗ failed with its fix, !
//! worth knowing). It acquires a real token through the cache, like `token`,
//! and asks Azure DevOps who it sees, so a green run proves the whole path.
//! Checks of git's and the helper's configuration live in `wiring.rs`, the
//! calls to Azure DevOps in `ado.rs`, the certificate an identity signs with
//! in `certificate.rs`, failed steps made checks in `failures.rs`.

mod ado;
mod certificate;
mod failures;
mod wiring;

use std::io::{IsTerminal, Write};
use std::time::Instant;

use serde::Serialize;

use crate::app::cli::DoctorArgs;
use crate::app::error::Error;
use crate::app::session::{Choice, Session, Why};
use crate::azure_devops::{RESOURCE, Target};
use crate::context::Context;
use crate::entra::is_guid;
use crate::identity::{AcquireCx, Resolved};
use crate::sys::time::rfc3339;
use crate::token::flow;
use failures::from_error;

/// The URL checked when none is named.
/// Audiences Azure DevOps accepts: its resource id and its URI form.
const AUDIENCES: [&str; 2] = [RESOURCE, "https://app.vssps.visualstudio.com"];

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Pass,
    /// Broken: git will fail (the fix says what to do).
    Fail,
    /// Works, with a cost or caveat worth knowing.
    Warn,
}

/// One check's result: the `--json` shape is `{check, status, detail, fix}`.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name of the check.
    pub check: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found (never a token or secret).
    pub detail: String,
    /// What to do; empty when nothing is needed.
    pub fix: String,
}

impl Check {
    fn pass(check: &'static str, detail: impl Into<String>) -> Check {
        Check {
            check,
            status: Status::Pass,
            detail: detail.into(),
            fix: String::new(),
        }
    }
    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check,
            status: Status::Fail,
            detail: detail.into(),
            fix: fix.into(),
        }
    }
    fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check,
            status: Status::Warn,
            detail: detail.into(),
            fix: fix.into(),
        }
    }
}

/// `doctor [URL] [--json]`. Err (exit 1) when any check failed.
pub fn run(session: &Session, args: &DoctorArgs, stdout: &mut dyn Write) -> Result<(), Error> {
    let url = args
        .url
        .as_deref()
        .unwrap_or(crate::azure_devops::DEV_AZURE_COM);
    let mut checks = Vec::new();
    diagnose(session, url, &mut checks);
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&checks)
            .map_err(|e| Error::Command(format!("doctor: cannot write JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        let colour = use_colour(
            std::io::stdout().is_terminal(),
            session.env.get("NO_COLOR").is_some(),
        );
        render(&checks, colour)
    };
    stdout.write_all(text.as_bytes()).map_err(Error::Io)?;
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed > 0 {
        return Err(Error::Command(format!(
            "doctor: {failed} check(s) failed for {url}; each ✗ line says how to fix it"
        )));
    }
    Ok(())
}

/// Colour only for a person at a terminal, and never with `NO_COLOR` (any value).
fn use_colour(stdout_is_terminal: bool, no_color: bool) -> bool {
    stdout_is_terminal && !no_color
}

/// One line per check, and an indented `fix:` line under each ✗ and !.
fn render(checks: &[Check], colour: bool) -> String {
    let mut out = String::new();
    for c in checks {
        let (mark, code) = match c.status {
            Status::Pass => ("✓", "32"),
            Status::Fail => ("✗", "31"),
            Status::Warn => ("!", "33"),
        };
        let mark = if colour {
            format!("\x1b[{code}m{mark}\x1b[0m")
        } else {
            mark.to_string()
        };
        out.push_str(&format!("{mark} {}: {}\n", c.check, c.detail));
        if !c.fix.is_empty() {
            out.push_str(&format!("    fix: {}\n", c.fix));
        }
    }
    out
}

/// Runs the checks in order, stopping where a later one cannot mean anything.
fn diagnose(session: &Session, url: &str, checks: &mut Vec<Check>) {
    let config = match session.config() {
        Ok(c) if c.exists => {
            checks.push(Check::pass("config", c.describe_file()));
            c
        }
        // Only `auto` can answer: it may, but no organization can be routed.
        Ok(c) => {
            checks.push(Check::warn(
                "config",
                format!(
                    "{} does not exist, so every remote uses the built-in 'auto'",
                    c.file.display()
                ),
                "create it to route organizations to identities (see docs/guides.md)",
            ));
            c
        }
        Err(e) => {
            checks.push(from_error("config", &e));
            return;
        }
    };
    let target = match Target::from_url(url, &config.hosts) {
        Ok(Some(t)) => t,
        Ok(None) => {
            checks.push(Check::fail(
                "url",
                format!("{url} is not an Azure DevOps URL, so git never asks this helper for it"),
                format!(
                    "name a URL on https://dev.azure.com or https://ORG.visualstudio.com, or add its host to \"hosts\" in {}",
                    config.describe_file()
                ),
            ));
            return;
        }
        Err(e) => {
            checks.push(Check::fail(
                "url",
                format!("cannot read {url}: {e}"),
                "give a URL such as https://dev.azure.com/ORG/PROJECT/_git/REPO",
            ));
            return;
        }
    };
    checks.extend(wiring::git_config(session, &config, &target));
    let (identity, choice) = match session.route(&target, &config).and_then(|choice| {
        let id = session
            .resolve(&choice.name, &config)
            .map_err(|e| choice.explain(e))?;
        Ok((id, choice))
    }) {
        Ok((id, choice)) => {
            let why = match (&choice.why, &session.identity_flag) {
                (Why::Flag, Some(flag)) => format!("--identity {flag}"),
                (why, _) => why.to_string(),
            };
            checks.push(Check::pass("identity", format!("{id}, chosen by {why}")));
            (id, choice)
        }
        Err(e) => {
            checks.push(from_error("identity", &e));
            return;
        }
    };
    checks.push(wiring::keyring(session, &config, &identity));
    // Prompts (user sign-in) go to stderr, so stdout stays one line per check.
    let mut stderr = session.trace.stderr();
    let mut ctx = match session.context(&config, &mut stderr, &target.url) {
        Ok(ctx) => ctx,
        Err(e) => {
            checks.push(from_error("token", &e));
            return;
        }
    };
    // doctor reports what happens now: another process's recent failure
    // may be fixed already (or have been this process's setup).
    ctx.replay_failures = false;
    // The CA files are read here too: a bad one fails this check, not the token's.
    let network = ctx.http.network().and_then(|n| {
        crate::net::roots::load(n)
            .map(|_| n)
            .map_err(crate::net::http::HttpSetupError::Roots)
    });
    match network {
        Ok(network) => checks.push(Check::pass("network", network.summary())),
        Err(e) => {
            checks.push(Check::fail(
                "network",
                e.to_string(),
                "fix the setting named above",
            ));
            return;
        }
    }
    if !certificate::check(&ctx, &identity, &target, checks) {
        return;
    }
    let org_tenant = target.org.as_ref().map(|org| {
        let (check, id) = ado::org_tenant(&ctx.http, &target, org, session.cache_dir().ok());
        checks.push(check);
        id
    });
    let Some(token) = acquire(&ctx, &identity, &choice, &target, checks) else {
        return;
    };
    let ok = claims(&token, &identity, org_tenant.as_deref(), checks);
    match &target.org {
        Some(org) if ok => ado::check(&ctx.http, &target, org, &token, checks),
        Some(_) => {}
        None => checks.push(Check::warn(
            "azure-devops",
            format!("{url} names no organization, so Azure DevOps was not asked"),
            "run doctor with the organization's URL: git-credential-entra doctor https://dev.azure.com/ORG",
        )),
    }
}

/// A token through the normal cache → lock → acquire path, timed.
fn acquire(
    ctx: &Context,
    identity: &Resolved,
    choice: &Choice,
    target: &Target,
    checks: &mut Vec<Check>,
) -> Option<crate::token::AccessToken> {
    let cx = AcquireCx::new(ctx, &identity.name, None, Some(target));
    let started = Instant::now();
    match flow::get(identity, &cx) {
        Ok(token) => {
            checks.push(Check::pass(
                "token",
                format!(
                    "acquired in {} ms for {identity} ({} source, {} cache), expires {}",
                    started.elapsed().as_millis(),
                    identity.kind(),
                    ctx.store.name(),
                    rfc3339(token.expires_on)
                ),
            ));
            Some(token)
        }
        Err(e) => {
            checks.push(from_error("token", &choice.explain(e.into())));
            None
        }
    }
}

/// The token's claims shown, and its audience and tenant checked. Whether
/// Azure DevOps is worth asking.
fn claims(
    token: &crate::token::AccessToken,
    identity: &Resolved,
    org_tenant: Option<&str>,
    checks: &mut Vec<Check>,
) -> bool {
    let Some(c) = ado::claims(token.token.expose()) else {
        checks.push(Check::warn(
            "claims",
            "the token is not a JWT, so its audience and tenant cannot be checked here",
            "",
        ));
        return true;
    };
    let s = |k: &str| {
        c.get(k)
            .and_then(|v| v.as_str())
            .map(crate::sys::text::sanitize)
    };
    let who = s("upn")
        .map(|u| format!("upn={u}"))
        .or_else(|| s("appid").map(|a| format!("appid={a}")))
        .or_else(|| s("azp").map(|a| format!("azp={a}")))
        .unwrap_or_else(|| "no upn or appid".into());
    let exp = c
        .get("exp")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .map_or_else(|| "?".into(), rfc3339);
    let aud = s("aud").unwrap_or_default();
    let tid = s("tid").unwrap_or_default();
    checks.push(Check::pass(
        "claims",
        format!(
            "tid={tid} oid={} {who} aud={aud} exp={exp}",
            s("oid").unwrap_or_default()
        ),
    ));
    let problems = audience_and_tenant(&aud, &tid, org_tenant, &identity.name);
    let ok = problems.is_empty();
    checks.extend(problems);
    ok
}

/// A token Azure DevOps would refuse: not for Azure DevOps, or from a
/// tenant other than the organization's (when that is a known GUID).
fn audience_and_tenant(aud: &str, tid: &str, org_tenant: Option<&str>, name: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    if !AUDIENCES.contains(&aud) {
        checks.push(Check::fail(
            "audience",
            format!("the token is for '{aud}', not Azure DevOps ({RESOURCE}): Azure DevOps refuses it"),
            format!(
                "make identity '{}' ask for the resource {RESOURCE} (an Azure CLI identity: `az account get-access-token --resource {RESOURCE}` must work); a token for another API cannot be used",
                name
            ),
        ));
    }
    if let Some(org) = org_tenant.filter(|t| is_guid(t))
        && !tid.eq_ignore_ascii_case(org)
    {
        checks.push(Check::fail(
            "tenant",
            format!("the token is from tenant {tid} but the organization belongs to tenant {org}: Azure DevOps answers TF400813"),
            format!(
                "set \"tenant\": \"{org}\" on identity '{}' (a user: sign in with an account of that tenant; a managed identity must live in the organization's tenant, or use a workload identity federated into it)",
                name
            ),
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, false));
        assert!(!use_colour(false, false));
        assert!(!use_colour(true, true));
        assert!(!use_colour(false, true));
    }

    #[test]
    fn rendering_marks_each_status_and_shows_fixes() {
        let checks = vec![
            Check::pass("config", "ok"),
            Check::fail("git-helper", "none", "run configure"),
            Check::warn("keyring", "none", "start one"),
        ];
        let plain = render(&checks, false);
        assert_eq!(
            plain,
            "✓ config: ok\n✗ git-helper: none\n    fix: run configure\n! keyring: none\n    fix: start one\n"
        );
        assert!(!plain.contains('\x1b'));
        let coloured = render(&checks, true);
        assert!(coloured.contains("\x1b[31m✗\x1b[0m git-helper"));
        assert!(coloured.contains("\x1b[32m✓\x1b[0m config"));
    }

    #[test]
    fn a_wrong_audience_or_tenant_fails() {
        let org = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert!(audience_and_tenant(RESOURCE, org, Some(org), "ci").is_empty());
        assert!(
            audience_and_tenant(
                "https://app.vssps.visualstudio.com",
                org,
                Some("organizations"),
                "ci"
            )
            .is_empty()
        );
        let graph =
            audience_and_tenant("00000002-0000-0000-c000-000000000000", org, Some(org), "ci");
        assert_eq!(graph.len(), 1);
        assert_eq!(
            (graph[0].check, graph[0].status),
            ("audience", Status::Fail)
        );
        assert!(graph[0].fix.contains(RESOURCE));
        let other = audience_and_tenant(
            RESOURCE,
            "3d22cfe1-924b-01d2-135a-f559a8b535c7",
            Some(org),
            "ci",
        );
        assert_eq!(other[0].check, "tenant");
        assert!(other[0].fix.contains(&format!("\"tenant\": \"{org}\"")));
    }

    #[test]
    fn guids_are_recognised() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
        assert!(!is_guid("organizations"));
    }
}
