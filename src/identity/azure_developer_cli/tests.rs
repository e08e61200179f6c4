use super::*;
use crate::identity::devtool::DevToolError;
use crate::identity::devtool::exited as status;

const TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln";
const NOW: i64 = 1_900_000_000;

fn azd(tenant: Option<&str>) -> AzureDeveloperCli {
    AzureDeveloperCli {
        tenant: tenant.map(str::to_string),
    }
}

fn classified(tenant: Option<&str>, code: i32, stderr: &str) -> DevToolError {
    DevToolError {
        tool: &TOOL,
        problem: azd(tenant).classify(status(code), stderr),
    }
}

#[test]
fn arguments_are_the_scope_and_the_tenant() {
    assert_eq!(
        azd(None).args().join(" "),
        format!("auth token --output json --scope {RESOURCE}/.default")
    );
    assert_eq!(
        azd(Some("contoso.onmicrosoft.com")).args().join(" "),
        format!(
            "auth token --output json --scope {RESOURCE}/.default --tenant-id contoso.onmicrosoft.com"
        )
    );
}

#[test]
fn expires_on_is_rfc_3339_with_any_offset() {
    let exp = NOW + 3600;
    let z = crate::sys::time::rfc3339(exp);
    // The same instant two hours east, with a fraction azd may print.
    let east = format!(
        "{}.5+02:00",
        crate::sys::time::rfc3339(exp + 7200).trim_end_matches('Z')
    );
    for when in [z, east] {
        let out = format!(r#"{{"token":"{TOKEN}","expiresOn":"{when}"}}"#);
        let t = parse(&out, NOW).expect(&out);
        assert_eq!((t.token.expose().as_str(), t.expires_on), (TOKEN, exp));
    }
    // 2026-12-06T21:00:00Z, as the contract writes it.
    let out = format!(r#"{{"token":"{TOKEN}","expiresOn":"2026-12-06T21:00:00Z"}}"#);
    assert_eq!(
        parse(&out, 1_796_590_800 - 60).expect("token").expires_on,
        1_796_590_800
    );
}

#[test]
fn unusable_answers_are_refused_without_echoing_them() {
    for (out, problem) in [
        ("nope".to_string(), "not JSON"),
        (
            r#"{"expiresOn":"2030-01-01T00:00:00Z"}"#.to_string(),
            "no token",
        ),
        (format!(r#"{{"token":"{TOKEN}"}}"#), "no expiresOn"),
        (
            format!(r#"{{"token":"{TOKEN}","expiresOn":"2030-01-01 00:00:00"}}"#),
            "not an RFC 3339",
        ),
        (
            format!(r#"{{"token":"{TOKEN}","expiresOn":"2020-01-01T00:00:00Z"}}"#),
            "expired",
        ),
    ] {
        let e = parse(&out, NOW).expect_err(&out);
        assert!(e.contains(problem) && !e.contains(TOKEN), "{e}");
    }
}

#[test]
fn failures_are_classified_by_what_azd_said() {
    // azd with --output json writes its error as a JSON console message.
    let json = "{\"type\":\"consoleMessage\",\"timestamp\":\"2026-12-06T21:00:00Z\",\"data\":{\"message\":\"\\nERROR: not logged in, run `azd auth login` to login\\n\"}}\n";
    let e = classified(None, 1, json);
    assert_eq!(
        e.to_string(),
        "the Azure Developer CLI is not signed in (azd said: ERROR: not logged in, run `azd auth login` to login). Fix: run azd auth login (azd auth login --check-status shows who is signed in)"
    );
    let e = classified(
        Some("fabrikam.com"),
        1,
        "ERROR: not logged in, run `azd auth login` to login\n",
    );
    assert!(
        e.to_string()
            .contains("has no sign-in for tenant fabrikam.com")
            && e.to_string()
                .contains("Fix: run azd auth login --tenant-id fabrikam.com "),
        "{e}"
    );
    let e = classified(
        Some("fabrikam.com"),
        1,
        "ERROR: fetching token: AADSTS90002: Tenant 'fabrikam.com' not found. Trace ID: t Correlation ID: c Timestamp: now\n",
    );
    assert!(matches!(e.problem, Failure::Refused { .. }), "{e:?}");
    let e = classified(
        None,
        1,
        "ERROR: fetching token: AADSTS70043: The refresh token has expired due to inactivity.\n",
    );
    assert!(
        matches!(e.problem, Failure::SignInAgain { code: 70043, .. })
            && e.to_string().contains("Fix: run azd auth login"),
        "{e}"
    );
    assert!(matches!(
        classified(None, 127, "").problem,
        Failure::NotInstalled
    ));
    assert!(matches!(
        classified(
            None,
            1,
            "'azd' is not recognized as an internal or external command,"
        )
        .problem,
        Failure::NotInstalled
    ));
    let e = classified(None, 2, "boom\x1b[31m\n");
    assert!(
        matches!(e.problem, Failure::Failed { .. }) && !e.to_string().contains('\x1b'),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn a_sign_in_is_looked_for_in_azds_config_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let home = dir.path().join("home");
    let config = home.join(".azd");
    std::fs::create_dir_all(&config).expect("config dir");
    let (path, home_s) = (bin.display().to_string(), home.display().to_string());
    let env = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("PATH", path.as_str()), ("HOME", home_s.as_str())];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    };
    let signed_in_here = |file: &str, json: &str| {
        std::fs::write(config.join(file), json).expect("write");
    };
    // A sign-in but no azd.
    signed_in_here(
        "auth.json",
        r#"{"auth":{"account":{"currentUser":{"homeAccountId":"h"}}}}"#,
    );
    assert!(
        signed_in(&env(&[]))
            .expect_err("no azd")
            .1
            .contains("azd is not")
    );
    let program = bin.join("azd");
    std::fs::write(&program, "#!/bin/sh\n").expect("azd");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(signed_in(&env(&[])), Ok(()));
    // Signed out: azd removes currentUser.
    signed_in_here("auth.json", r#"{"auth":{"account":{}}}"#);
    assert!(
        signed_in(&env(&[]))
            .expect_err("signed out")
            .1
            .contains("no sign-in")
    );
    // An older azd kept it in config.json; a service principal's sign-in.
    signed_in_here(
        "config.json",
        r#"{"auth":{"account":{"currentUser":{"clientId":"c","tenantId":"t"}}}}"#,
    );
    assert_eq!(signed_in(&env(&[])), Ok(()));
    // azd handing its sign-ins to the Azure CLI.
    signed_in_here("config.json", r#"{"auth":{"useAzCliAuth":"true"}}"#);
    assert_eq!(signed_in(&env(&[])), Ok(()));
    signed_in_here("config.json", r#"{"defaults":{"location":"westeurope"}}"#);
    assert!(signed_in(&env(&[])).is_err());
    // AZD_CONFIG_DIR moves it; a relative one is not read.
    let moved = dir.path().join("azdconfig");
    std::fs::create_dir_all(&moved).expect("moved");
    std::fs::write(
        moved.join("auth.json"),
        r#"{"auth":{"account":{"currentUser":{"homeAccountId":"h"}}}}"#,
    )
    .expect("write");
    let moved_s = moved.display().to_string();
    assert_eq!(signed_in(&env(&[("AZD_CONFIG_DIR", &moved_s)])), Ok(()));
    assert!(signed_in(&env(&[("AZD_CONFIG_DIR", "azdconfig")])).is_err());
    // A file too big to be azd's is not read.
    let big = format!(
        r#"{{"auth":{{"account":{{"currentUser":{{"homeAccountId":"{}"}}}}}}}}"#,
        "h".repeat(70_000)
    );
    signed_in_here("auth.json", &big);
    assert!(signed_in(&env(&[])).is_err());
}
