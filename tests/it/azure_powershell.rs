//! The `azure-powershell` identity against a stand-in `pwsh` on PATH.
//!
//! The stand-in checks that it was given `-NoProfile -NonInteractive -NoLogo
//! -EncodedCommand <script>` and nothing else, decodes the script (base64 of
//! UTF-16LE; the script is ASCII, so dropping the NUL bytes is the decoding)
//! and keeps it for the test. It does not run PowerShell: told which
//! Az.Accounts generation to play, it prints what our script prints under
//! it — the token and `ExpiresOn` as one JSON line — and plays the one
//! difference between them it can see in the script's text: Az.Accounts 5
//! always hands out the token as a `SecureString`, 2.17 to 4.x when the
//! script passes `-AsSecureString`, and a `SecureString` the script does
//! not convert prints as its type name, `System.Security.SecureString`.
//! Failures are the texts real PowerShell runs print on stderr: the
//! script writes an exception's message alone (`Run Connect-AzAccount to
//! login.`, Entra's AADSTS text) or its own `NO_AZ_ACCOUNTS_MODULE` line.

use std::path::Path;

use crate::support::fake_tool::{FakeTool, USER, failed, tool_world, user_token};
use crate::support::world::{World, field, token_of};
use crate::support::{RunOutput, TestEnv, now_secs};

/// Checks the arguments, keeps the decoded script, and answers as the
/// Az.Accounts generation in `generation` when that file exists.
const PRELUDE: &str = r#"if [ $# -ne 5 ] || [ "$1 $2 $3 $4" != "-NoProfile -NonInteractive -NoLogo -EncodedCommand" ]; then
  echo "pwsh stand-in: unexpected arguments: $*" >&2; exit 64
fi
printf '%s' "$5" | base64 -d | tr -d '\000' > "$s/script"
grep -qF 'Get-AzAccessToken @p' "$s/script" || { echo "pwsh stand-in: not the token script" >&2; exit 65; }
if [ -f "$s/generation" ]; then
  tok=$(cat "$s/token"); exp=$(cat "$s/exp")
  if [ "$(cat "$s/generation")" = 5 ] || grep -qF "\$p['AsSecureString'] = \$true" "$s/script"; then
    grep -qF "[System.Net.NetworkCredential]::new('', \$v).Password" "$s/script" || tok=System.Security.SecureString
  fi
  printf '{"Token":"%s","ExpiresOn":%s}\r\n' "$tok" "$exp"
  exit 0
fi"#;

fn fake_pwsh(root: &Path) -> FakeTool {
    FakeTool::new(
        root,
        "pwsh",
        &["POWERSHELL_UPDATECHECK", "POWERSHELL_TELEMETRY_OPTOUT"],
        PRELUDE,
    )
}

/// Makes the stand-in answer `token`, expiring at `exp`, as Az.Accounts `generation`.
fn play(pwsh: &FakeTool, generation: u32, token: &str, exp: u64) {
    pwsh.write("generation", &generation.to_string());
    pwsh.write("token", token);
    pwsh.write("exp", &exp.to_string());
}

fn ps_world(extra: &str) -> (World, FakeTool) {
    tool_world("azure-powershell", extra, fake_pwsh)
}

#[test]
fn both_az_accounts_generations_give_the_token_once_per_lifetime() {
    for generation in [4, 5] {
        let (w, pwsh) = ps_world("");
        let exp = now_secs() + 3600;
        let token = user_token(&w, exp);
        play(&pwsh, generation, &token, exp);
        for _ in 0..3 {
            let out = w.helper(&["get"], &w.request());
            assert!(out.status.success(), "{generation}: {}", out.stderr);
            assert_eq!(token_of(&out.stdout), token, "Az.Accounts {generation}");
            assert_eq!(field(&out.stdout, "username"), Some(USER));
            assert_eq!(
                field(&out.stdout, "password_expiry_utc"),
                Some((exp - 300).to_string().as_str())
            );
        }
        assert_eq!(pwsh.calls().len(), 1, "one PowerShell run, cached");
        let script = pwsh.seen("script");
        assert!(
            script.contains("$tenant = ''") && script.contains("Import-Module Az.Accounts"),
            "{script}"
        );
        assert_eq!(pwsh.seen("cwd").trim(), "/", "outside the repository");
        assert_eq!(pwsh.seen("env-POWERSHELL_UPDATECHECK"), "Off");
        assert_eq!(pwsh.seen("env-POWERSHELL_TELEMETRY_OPTOUT"), "1");
    }
}

#[test]
fn the_tenant_is_asked_for_in_the_script() {
    let (w, pwsh) = ps_world(r#", "tenant": "Contoso.onmicrosoft.com""#);
    let exp = now_secs() + 3000;
    play(&pwsh, 5, &user_token(&w, exp), exp);
    let out = w.helper(&["get"], &w.bearer_request());
    assert!(out.status.success(), "{}", out.stderr);
    let script = pwsh.seen("script");
    assert!(
        script.contains("$tenant = 'contoso.onmicrosoft.com'"),
        "{script}"
    );
}

/// Runs one `get` against the stand-in answering `stderr` and `status`, and
/// returns the one line of stderr, which must end with `fix`.
fn fails_with(w: &World, pwsh: &FakeTool, stdout: &str, stderr: &str, status: i32) -> String {
    pwsh.answer(stdout, stderr, status);
    let out = w.helper(&["get"], &w.request());
    failed(&out);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    out.stderr.trim_end().to_string()
}

#[test]
fn each_failure_ends_in_one_line_with_its_fix() {
    let (w, pwsh) = ps_world("");
    let err = fails_with(&w, &pwsh, "", "Run Connect-AzAccount to login.\r\n", 1);
    assert!(
        err.contains("identity 'me': Azure PowerShell: Azure PowerShell is not signed in (PowerShell said: Run Connect-AzAccount to login.)")
            && err.ends_with("Fix: run Connect-AzAccount in PowerShell (Connect-AzAccount -Identity for this machine's managed identity)"),
        "{err}"
    );
    let err = fails_with(
        &w,
        &pwsh,
        "",
        "NO_AZ_ACCOUNTS_MODULE The specified module 'Az.Accounts' with version '2.2.0' was not loaded because no valid module file was found in any module directory.\n",
        1,
    );
    assert!(
        err.ends_with("the Az.Accounts module (2.2.0 or later) is not installed for PowerShell. Fix: run Install-Module Az.Accounts -Scope CurrentUser in PowerShell, then Connect-AzAccount"),
        "{err}"
    );
    // Whatever stdout holds on failure is never shown (the leak check).
    let leaked = user_token(&w, now_secs() + 3600);
    let err = fails_with(
        &w,
        &pwsh,
        &format!("{{\"Token\":\"{leaked}\"}}"),
        "boom\n",
        2,
    );
    assert!(
        err.contains("Get-AzAccessToken failed (exit status: 2) (PowerShell said: boom)"),
        "{err}"
    );
    let err = fails_with(&w, &pwsh, "not json\n", "", 0);
    assert!(
        err.contains(
            "Get-AzAccessToken answered something this helper cannot use: no line of its output"
        ) && err.ends_with("Fix: update Az.Accounts (Update-Module Az.Accounts in PowerShell)"),
        "{err}"
    );

    // A tenant the account cannot use: Entra's refusal, or no sign-in there.
    let (w, pwsh) = ps_world(r#", "tenant": "fabrikam.onmicrosoft.com""#);
    let err = fails_with(
        &w,
        &pwsh,
        "",
        "AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Trace ID: 0c9e1b1a-7d3e-4f8e-9a43-4bf1a1e7a200 Correlation ID: 5b1c8a7e-2f11-4c1b-9d0e-8a3f0e6b7c11 Timestamp: 2026-12-02 10:11:12Z\n",
        1,
    );
    assert!(
        err.contains("Azure PowerShell: Entra refused the token request with AADSTS90002")
            && err.ends_with("(correlation id 5b1c8a7e-2f11-4c1b-9d0e-8a3f0e6b7c11)"),
        "{err}"
    );
    let err = fails_with(&w, &pwsh, "", "Run Connect-AzAccount to login.\n", 1);
    assert!(
        err.contains("Azure PowerShell has no sign-in for tenant fabrikam.onmicrosoft.com")
            && err.contains(
                "Fix: run Connect-AzAccount -Tenant fabrikam.onmicrosoft.com in PowerShell"
            ),
        "{err}"
    );
}

#[test]
fn powershell_not_installed_names_powershell_7() {
    let (mut w, pwsh) = ps_world("");
    w.env.set_env("PATH", "/usr/bin:/bin");
    let err = fails_with(&w, &pwsh, "", "", 0);
    assert!(
        err.contains("PowerShell (pwsh) was not found in the absolute directories of PATH")
            && err.contains("Fix: install PowerShell 7 (https://aka.ms/install-powershell)"),
        "{err}"
    );
    assert!(pwsh.calls().is_empty());
}

#[test]
fn clone_and_push_as_the_azure_powershell_user_with_no_token_in_the_trace() {
    let (mut w, pwsh) = ps_world("");
    // The trace file is scanned for the token when the test ends.
    let trace = w.env.path().join("trace.log");
    w.env
        .set_env("GIT_CREDENTIAL_ENTRA_TRACE", trace.to_str().expect("utf8"));
    let exp = now_secs() + 3600;
    play(&pwsh, 5, &user_token(&w, exp), exp);
    w.clone_and_push("work");
    assert_eq!(
        pwsh.calls().len(),
        1,
        "clone and push share one PowerShell run"
    );
    let traced = std::fs::read_to_string(&trace).expect("a trace");
    assert!(
        traced.contains("-EncodedCommand <the Get-AzAccessToken script,"),
        "{traced}"
    );
}

/// A machine with no config file and the stand-in `pwsh` (playing
/// Az.Accounts 5) on PATH, `az` nowhere, and `vars` set.
fn auto_machine(vars: &[(&str, &str)]) -> (TestEnv, FakeTool, String) {
    let w = World::new();
    let mut env = TestEnv::new();
    let pwsh = fake_pwsh(env.path());
    env.planted(&pwsh.state);
    env.set_env("PATH", &pwsh.path_var());
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "none");
    for (k, v) in vars {
        env.set_env(k, v);
    }
    let exp = now_secs() + 3600;
    let token = user_token(&w, exp);
    play(&pwsh, 5, &token, exp);
    (env, pwsh, token)
}

fn auto_get(env: &TestEnv) -> RunOutput {
    env.run(
        env.helper().args(["get", "-v"]),
        b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n",
    )
}

#[test]
fn auto_takes_azure_powershell_only_with_az_accounts_installed() {
    let (env, pwsh, token) = auto_machine(&[]);
    // pwsh without the Az modules: skipped, saying why; PowerShell not run.
    let out = auto_get(&env);
    assert!(!out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Azure PowerShell (PowerShell has no Az.Accounts module"),
        "{}",
        out.stderr
    );
    assert!(pwsh.calls().is_empty());
    // Install-Module -Scope CurrentUser puts it here.
    let module = env
        .path()
        .join("home/.local/share/powershell/Modules/Az.Accounts/5.1.0");
    std::fs::create_dir_all(&module).expect("the module");
    let out = auto_get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), token);
    assert!(
        out.stderr.contains("auto: using the Azure PowerShell link"),
        "{}",
        out.stderr
    );
    assert_eq!(pwsh.calls().len(), 1);
}

#[test]
fn azure_token_credentials_names_azure_powershell() {
    // Named, it is taken without looking for Az.Accounts.
    let (env, pwsh, token) =
        auto_machine(&[("AZURE_TOKEN_CREDENTIALS", "AzurePowerShellCredential")]);
    let out = auto_get(&env);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(token_of(&out.stdout), token);
    assert_eq!(pwsh.calls().len(), 1);
}
