use super::*;
use crate::identity::TokenSource;
use crate::identity::devtool::DevToolError;
use crate::identity::devtool::exited as status;

const TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln";
const NOW: i64 = 1_900_000_000;

fn ps(tenant: Option<&str>) -> AzurePowerShell {
    AzurePowerShell {
        tenant: tenant.map(str::to_string),
    }
}

fn classified(tenant: Option<&str>, code: i32, stderr: &str) -> DevToolError {
    DevToolError {
        tool: &TOOL,
        problem: ps(tenant).classify(status(code), stderr),
    }
}

/// `-EncodedCommand`'s text back from its base64 of UTF-16LE.
fn decode(encoded: &str) -> String {
    let bytes = STANDARD.decode(encoded).expect("base64");
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).expect("UTF-16")
}

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

#[test]
fn the_script_travels_encoded_with_no_profile_and_no_prompt() {
    let args = ps(Some("contoso.onmicrosoft.com")).args();
    assert_eq!(
        args[..4],
        [
            "-NoProfile",
            "-NonInteractive",
            "-NoLogo",
            "-EncodedCommand"
        ]
    );
    assert_eq!(args.len(), 5);
    let script = decode(&args[4]);
    assert_eq!(script, script::script(Some("contoso.onmicrosoft.com")));
    // A known value: "hé" is 68 00 e9 00.
    assert_eq!(script::encode("hé"), "aADpAA==");
    assert!(
        script.contains(&format!("ResourceUrl = '{RESOURCE}'"))
            && script.contains("$tenant = 'contoso.onmicrosoft.com'")
            && script.contains("Import-Module Az.Accounts -MinimumVersion 2.2.0"),
        "{script}"
    );
    let shown = ps(None).shown_args(&args);
    assert!(
        shown.starts_with(
            "-NoProfile -NonInteractive -NoLogo -EncodedCommand <the Get-AzAccessToken script,"
        ) && !shown.contains(&args[4]),
        "{shown}"
    );
}

#[test]
fn the_script_reads_a_secure_string_in_both_powershells() {
    let script = script::script(None);
    // Az.Accounts 5 returns a SecureString; 2.17 to 4 when asked to.
    assert!(script.contains("-lt [version]'5.0.0') { $p['AsSecureString'] = $true }"));
    assert!(script.contains(
        "if ($v -is [System.Security.SecureString]) { $v = [System.Net.NetworkCredential]::new('', $v).Password }"
    ));
    // Not PowerShell 7's ConvertFrom-SecureString -AsPlainText, absent from 5.1.
    assert!(!script.contains("AsPlainText"));
    assert!(script.contains("ExpiresOn = $t.ExpiresOn.ToUnixTimeSeconds()"));
    assert!(script.contains("$tenant = ''"));
    assert!(script.contains(script::NO_MODULE));
}

#[test]
fn a_tenant_that_could_inject_powershell_is_refused() {
    for bad in [
        "x'; Remove-Item -Recurse ~; '",
        "contoso.com'",
        "a$(calc)",
        "t\u{2019}; calc; \u{2019}",
        "",
    ] {
        let script = script::script(Some(bad));
        assert!(
            !script.contains("Get-AzAccessToken") && !script.contains(bad.trim()) || bad.is_empty(),
            "{bad}: {script}"
        );
        assert!(script.contains("exit 1"), "{bad}");
    }
    // The config loader refuses them first.
    let e = crate::config::Config::parse(
        r#"{"identities":{"ps":{"type":"azure-powershell","tenant":"x'; calc; '"}}}"#,
        Path::new("/cfg/config.json"),
        None,
    )
    .expect_err("an injection");
    assert!(e.to_string().contains("tenant"), "{e}");
}

#[test]
fn the_answer_is_read_whatever_else_was_printed() {
    let exp = NOW + 3600;
    for out in [
        format!(r#"{{"Token":"{TOKEN}","ExpiresOn":{exp}}}"#),
        format!(
            "WARNING: Upcoming breaking changes in the cmdlet 'Get-AzAccessToken'\r\n{{\"Token\":\"{TOKEN}\",\"ExpiresOn\":\"{exp}\"}}\r\n"
        ),
        format!(
            r#"{{"Token":"{TOKEN}","ExpiresOn":"{}"}}"#,
            crate::sys::time::rfc3339(exp)
        ),
    ] {
        let t = parse(&out, NOW).expect(&out);
        assert_eq!((t.token.expose().as_str(), t.expires_on), (TOKEN, exp));
    }
}

#[test]
fn unusable_answers_are_refused_without_echoing_them() {
    for (out, problem) in [
        (String::new(), "no line"),
        (format!("{TOKEN}\n"), "no line"),
        (format!(r#"{{"Token":"{TOKEN}"}}"#), "no ExpiresOn"),
        (
            format!(r#"{{"Token":"{TOKEN}","ExpiresOn":"tomorrow"}}"#),
            "neither Unix seconds",
        ),
        (
            format!(r#"{{"Token":"{TOKEN}","ExpiresOn":{NOW}}}"#),
            "expired",
        ),
        (
            r#"{"Token":null,"ExpiresOn":1}"#.to_string(),
            "not a string",
        ),
    ] {
        let e = parse(&out, NOW).expect_err(&out);
        assert!(e.contains(problem) && !e.contains(TOKEN), "{e}");
    }
}

#[test]
fn failures_are_classified_by_what_powershell_said() {
    let e = classified(None, 1, "Run Connect-AzAccount to login.\n");
    assert!(
        matches!(e.problem, Failure::NotSignedIn { tenant: None, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "Azure PowerShell is not signed in (PowerShell said: Run Connect-AzAccount to login.). Fix: run Connect-AzAccount in PowerShell (Connect-AzAccount -Identity for this machine's managed identity)"
    );
    // PowerShell 7's own error record, should it reach stderr.
    let record = "Get-AzAccessToken: \nLine |\n   9 |      $t = Get-AzAccessToken @p\n     |           ~~~~~~~~~~~~~~~~~~~~\n     | Run Connect-AzAccount to login.\n";
    let e = classified(Some("contoso.onmicrosoft.com"), 1, record);
    assert!(
        e.to_string().ends_with(
            "Fix: run Connect-AzAccount -Tenant contoso.onmicrosoft.com in PowerShell (Connect-AzAccount -Identity for this machine's managed identity)"
        ) && e.to_string().contains("has no sign-in for tenant contoso.onmicrosoft.com"),
        "{e}"
    );
    let e = classified(
        Some("fabrikam.com"),
        1,
        "Unable to acquire token for tenant 'fabrikam.com' with error 'SharedTokenCacheCredential authentication unavailable. No accounts were found in the cache.'\n",
    );
    assert!(
        matches!(
            e.problem,
            Failure::NotSignedIn {
                tenant: Some(_),
                ..
            }
        ),
        "{e:?}"
    );
    // Wrong tenant, as Entra says it.
    for (stderr, code) in [
        (
            "AADSTS90002: Tenant 'fabrikam.com' not found. Check to make sure you have the correct tenant ID. Trace ID: t Correlation ID: c Timestamp: now",
            90002,
        ),
        (
            "AADSTS50020: User account 'dev@contoso.com' from identity provider 'https://sts.windows.net/x/' does not exist in tenant 'Fabrikam' and cannot access the application. Trace ID: t",
            50020,
        ),
    ] {
        let e = classified(Some("fabrikam.com"), 1, stderr);
        assert!(
            matches!(&e.problem, Failure::Refused { refusal } if refusal.refusal().is_some_and(|(_, c)| c == [code])),
            "{e:?}"
        );
    }
    let e = classified(
        None,
        1,
        "AADSTS50076: you must use multi-factor authentication.",
    );
    assert!(
        matches!(e.problem, Failure::SignInAgain { code: 50076, .. })
            && e.to_string()
                .contains("Fix: run Connect-AzAccount in PowerShell"),
        "{e}"
    );
    let e = classified(
        None,
        1,
        "NO_AZ_ACCOUNTS_MODULE The specified module 'Az.Accounts' with version '2.2.0' was not loaded because no valid module file was found in any module directory.",
    );
    assert_eq!(
        e.to_string(),
        "the Az.Accounts module (2.2.0 or later) is not installed for PowerShell. Fix: run Install-Module Az.Accounts -Scope CurrentUser in PowerShell, then Connect-AzAccount"
    );
    let e = classified(
        None,
        1,
        "NO_AZ_ACCOUNTS_MODULE File C:\\Az.Accounts.psm1 cannot be loaded because running scripts is disabled on this system.",
    );
    assert!(
        e.to_string().contains("execution policy")
            && e.to_string()
                .contains("Set-ExecutionPolicy -Scope CurrentUser RemoteSigned")
            && !e.to_string().contains("NO_AZ"),
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
            "'pwsh' is not recognized as an internal or external command"
        )
        .problem,
        Failure::NotInstalled
    ));
    let e = classified(None, 2, "boom\x1b[31m red\n");
    assert!(
        matches!(e.problem, Failure::Failed { .. }) && !e.to_string().contains('\x1b'),
        "{e}"
    );
    assert_eq!(
        DevToolError {
            tool: &TOOL,
            problem: Failure::NotInstalled
        }
        .to_string(),
        format!(
            "{} was not found in the absolute directories of PATH. Fix: install PowerShell 7 (https://aka.ms/install-powershell), then run Install-Module Az.Accounts -Scope CurrentUser and Connect-AzAccount in it, or configure another identity",
            TOOL.missing
        )
    );
}

#[test]
fn fingerprint_is_its_own_and_depends_on_the_tenant() {
    let a = ps(None).fingerprint();
    assert_ne!(a, ps(Some("t.example")).fingerprint());
    assert_ne!(a, crate::identity::AzureCli { tenant: None }.fingerprint());
    assert_eq!(a, ps(None).fingerprint());
}

#[cfg(unix)]
#[test]
fn az_accounts_is_looked_for_in_powershells_module_directories() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let home = dir.path().join("home");
    let path = bin.display().to_string();
    let home_s = home.display().to_string();
    let env = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("PATH", path.as_str()), ("HOME", home_s.as_str())];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    };
    assert!(
        installed(&env(&[]))
            .expect_err("no pwsh")
            .1
            .contains("PowerShell is not")
    );
    let pwsh = bin.join("pwsh");
    std::fs::write(&pwsh, "#!/bin/sh\n").expect("pwsh");
    std::fs::set_permissions(&pwsh, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(
        installed(&env(&[]))
            .expect_err("no module")
            .1
            .contains("no Az.Accounts")
    );
    // The user's module directory (Install-Module -Scope CurrentUser).
    let user = home.join(".local/share/powershell/Modules/Az.Accounts/5.1.0");
    std::fs::create_dir_all(&user).expect("module");
    assert_eq!(installed(&env(&[])), Ok(()));
    // XDG_DATA_HOME moves it.
    let data = dir.path().join("data");
    let data_s = data.display().to_string();
    assert!(installed(&env(&[("XDG_DATA_HOME", &data_s)])).is_err());
    // An absolute PSModulePath entry; a relative one is not looked in.
    let other = dir.path().join("other");
    std::fs::create_dir_all(other.join("Az.Accounts")).expect("module");
    let both = format!("rel:{}", other.display());
    assert_eq!(
        installed(&env(&[("XDG_DATA_HOME", &data_s), ("PSModulePath", &both)])),
        Ok(())
    );
    // $PSHOME/Modules beside the real program, through a link.
    let pshome = dir.path().join("opt/powershell");
    std::fs::create_dir_all(pshome.join("Modules/Az.Accounts")).expect("pshome");
    std::fs::rename(&pwsh, pshome.join("pwsh")).expect("move");
    std::os::unix::fs::symlink(pshome.join("pwsh"), &pwsh).expect("link");
    assert_eq!(installed(&env(&[("XDG_DATA_HOME", &data_s)])), Ok(()));
}
