use super::*;
use crate::identity::TokenSource;
use crate::identity::devtool::exited as status;

const TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln";

#[test]
fn expiry_from_expires_on_as_number_or_string() {
    let now = 1_900_000_000;
    for json in [
        format!(r#"{{"accessToken":"{TOKEN}","expires_on":1900003600,"tokenType":"Bearer"}}"#),
        format!(r#"{{"accessToken":"{TOKEN}","expires_on":"1900003600","expiresOn":"garbage"}}"#),
    ] {
        let t = parse(&json, now).expect("a token");
        assert_eq!(t.expires_on, 1_900_003_600, "{json}");
        assert_eq!(t.obtained, now);
        assert_eq!(t.token.expose(), TOKEN);
    }
}

#[test]
fn unusable_answers_are_refused_without_echoing_them() {
    let now = 1_900_000_000;
    for (json, problem) in [
        ("not json".to_string(), "not JSON"),
        (r#"{"expires_on":1900003600}"#.to_string(), "no accessToken"),
        (
            format!(r#"{{"accessToken":"{TOKEN}"}}"#),
            "neither expires_on nor expiresOn",
        ),
        (
            format!(r#"{{"accessToken":"{TOKEN}","expires_on":1899999999}}"#),
            "expired",
        ),
        (
            r#"{"accessToken":"a b","expires_on":1900003600}"#.to_string(),
            "characters",
        ),
    ] {
        let e = parse(&json, now).expect_err(&json);
        assert!(e.contains(problem), "{e}");
        assert!(!e.contains(TOKEN), "{e}");
    }
}

#[test]
fn lifetimes_are_clamped_to_a_day() {
    let now = 1_900_000_000;
    let json = format!(
        r#"{{"accessToken":"{TOKEN}","expires_on":{}}}"#,
        now + 10 * 86_400
    );
    assert_eq!(parse(&json, now).expect("token").expires_on, now + 86_400);
}

#[cfg(unix)]
#[test]
fn old_clis_local_expires_on_is_read_in_local_time() {
    // Compare against the same instant written in UTC and shifted by the
    // process's own offset at that moment, whatever the zone here is.
    let local = local_time("2030-01-02 03:04:05.000000").expect("a local time");
    let utc = 1_893_553_445; // 2030-01-02T03:04:05Z
    // SAFETY: a zeroed tm is valid; localtime_r fills the one we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t = local as libc::time_t;
    unsafe { libc::localtime_r(&t, &mut tm) };
    assert_eq!(local + tm.tm_gmtoff, utc);
    for bad in [
        "",
        "2030-01-02",
        "2030-13-02 03:04:05",
        "x-y-z a:b:c",
        "2030-01-02 25:00:00",
    ] {
        assert!(local_time(bad).is_err(), "{bad}");
    }
}

fn classified(cli: &AzureCli, code: i32, stderr: &str) -> devtool::DevToolError {
    devtool::DevToolError {
        tool: &TOOL,
        problem: cli.classify(status(code), stderr),
    }
}

#[test]
fn failures_are_classified_by_what_az_said() {
    let cli = AzureCli { tenant: None };
    let in_tenant = AzureCli {
        tenant: Some("contoso.onmicrosoft.com".into()),
    };
    let login = "WARNING: something long\nERROR: Please run 'az login' to setup account.\n";
    assert!(matches!(
        classified(&cli, 1, login).problem,
        Failure::NotSignedIn { tenant: None, ref stderr, .. } if stderr == "ERROR: Please run 'az login' to setup account."
    ));
    let e = classified(&in_tenant, 1, login);
    assert!(matches!(
        e.problem,
        Failure::NotSignedIn {
            tenant: Some(_),
            ..
        }
    ));
    assert!(
        e.to_string()
            .ends_with("Fix: run az login --tenant contoso.onmicrosoft.com"),
        "{e}"
    );
    assert!(matches!(
        classified(&cli, 127, "").problem,
        Failure::NotInstalled
    ));
    // Entra's refusal, followed by az's usual advice to sign in again.
    let refused = "ERROR: AADSTS700016: Application with identifier 'x' was not found in the directory 'Contoso'. Trace ID: t Correlation ID: c1 Timestamp: now\nInteractive authentication is needed. Please run:\naz logout\naz login --tenant \"contoso.onmicrosoft.com\"\n";
    let e = classified(&in_tenant, 1, refused);
    assert!(
        matches!(&e.problem, Failure::Refused { refusal } if refusal.refusal() == Some(("", &[700016][..]))),
        "{e:?}"
    );
    assert!(e.to_string().contains("(correlation id c1)"), "{e}");
    // Only a new sign-in helps: az's own advice, for the configured tenant.
    let mfa = "ERROR: AADSTS50076: you must use multi-factor authentication. Trace ID: t\nInteractive authentication is needed. Please run:\naz logout\naz login --scope r/.default\n";
    let e = classified(&in_tenant, 1, mfa);
    assert!(
        matches!(e.problem, Failure::SignInAgain { code: 50076, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().ends_with(
            "Fix: run az logout then az login --scope r/.default --tenant contoso.onmicrosoft.com"
        ),
        "{e}"
    );
    let e = classified(
        &cli,
        1,
        "ERROR: AADSTS700082: The refresh token has expired.\n",
    );
    assert!(e.to_string().ends_with("Fix: run az login"), "{e}");
    let e = classified(&cli, 2, "boom\x1b[31m red\n");
    assert!(matches!(e.problem, Failure::Failed { .. }));
    assert!(!e.to_string().contains('\x1b'), "{e}");
}

#[test]
fn messages_are_todays() {
    // What az's failures said before the developer tools shared their code.
    let e = |problem| {
        devtool::DevToolError {
            tool: &TOOL,
            problem,
        }
        .to_string()
    };
    // The program's file name is az.cmd on Windows.
    let program = if cfg!(windows) { "az.cmd" } else { "az" };
    assert_eq!(
        e(Failure::NotInstalled),
        format!(
            "the Azure CLI ({program}) was not found in the absolute directories of PATH. Fix: install the Azure CLI (https://aka.ms/installazurecli) and run az login, or configure another identity"
        )
    );
    assert_eq!(
        e(Failure::TimedOut),
        format!(
            "az account get-access-token did not finish within 15 s and was stopped. Fix: run az account get-access-token --resource {RESOURCE} yourself to see where it waits (a proxy, a sign-in prompt)"
        )
    );
    assert_eq!(
        e(Failure::BadOutput {
            problem: "p".into()
        }),
        "az account get-access-token answered something this helper cannot use: p. Fix: update the Azure CLI to 2.54 or newer (az upgrade)"
    );
    assert_eq!(
        e(Failure::Failed {
            status: "exit status: 2".into(),
            stderr: "boom".into()
        }),
        format!(
            "az account get-access-token failed (exit status: 2) (az said: boom). Fix: run az account get-access-token --resource {RESOURCE} yourself to see the problem"
        )
    );
    assert_eq!(
        e(Failure::Spawn {
            program: "/bin/az".into(),
            cause: "c".into()
        }),
        "could not run /bin/az: c. Fix: reinstall the Azure CLI (https://aka.ms/installazurecli) or configure another identity"
    );
}

#[test]
fn arguments_name_the_resource_and_the_tenant() {
    assert_eq!(
        AzureCli { tenant: None }.args().join(" "),
        format!("account get-access-token --resource {RESOURCE} --output json")
    );
    assert!(
        AzureCli {
            tenant: Some("t.example".into())
        }
        .args()
        .join(" ")
        .ends_with("--output json --tenant t.example")
    );
}

#[test]
fn fingerprint_depends_on_the_tenant_only() {
    let a = AzureCli { tenant: None }.fingerprint();
    let b = AzureCli {
        tenant: Some("t.example".into()),
    }
    .fingerprint();
    assert_ne!(a, b);
    assert_eq!(a, AzureCli { tenant: None }.fingerprint());
}

#[cfg(unix)]
#[test]
fn az_is_found_only_in_absolute_path_entries() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let abs = dir.path().join("bin");
    std::fs::create_dir(&abs).expect("bin");
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).expect("plain");
    std::fs::write(plain.join("az"), "not executable").expect("write");
    let env = |path: &str| Env::from_pairs([("PATH", path)]);
    let none = format!("::.:bin:{}", plain.display());
    assert_eq!(find(&env(&none)), None, "relative, empty, not executable");
    let script = abs.join("az");
    std::fs::write(&script, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let some = format!("{none}:{}", abs.display());
    assert_eq!(find(&env(&some)), Some(script));
    assert_eq!(find(&Env::from_pairs([])), None);
}

/// Windows: the CLI is `az.cmd` (a batch file in `…\CLI2\wbin`), found in an
/// absolute PATH entry (`;`-separated), and std runs it through `cmd.exe`
/// with its arguments intact.
#[cfg(windows)]
#[test]
fn az_cmd_is_found_in_absolute_path_entries_and_run_through_cmd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wbin = dir.path().join("wbin");
    std::fs::create_dir(&wbin).expect("wbin");
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("other");
    // Not the CLI: a file without the .cmd extension.
    std::fs::write(other.join("az"), "not a batch file").expect("write");
    let env = |path: &str| Env::from_pairs([("PATH", path)]);
    let none = format!(";.;wbin;{}", other.display());
    assert_eq!(find(&env(&none)), None, "relative, empty, not az.cmd");
    let cmd = wbin.join("az.cmd");
    std::fs::write(&cmd, "@echo off\r\necho %*\r\n").expect("write az.cmd");
    let some = format!("{none};{}", wbin.display());
    assert_eq!(find(&env(&some)), Some(cmd.clone()));

    let args = AzureCli {
        tenant: Some("contoso.onmicrosoft.com".into()),
    }
    .args();
    let out = devtool::run(&TOOL, &cmd, &args, &[]).expect("az.cmd runs");
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout.expose().trim(), args.join(" "));
}
