//! The developer tools' Windows path under Wine: `azure-powershell` runs
//! `pwsh.exe`, else `powershell.exe`, and `azure-developer-cli` runs
//! `azd.exe`, each found in PATH and started from the Windows directory.
//!
//! The tools are one stand-in program (`fake_tool.c`, built here with
//! mingw-w64) copied under their names into a directory Wine puts first on
//! the Windows PATH (`WINEPATH`). It records its command line and working
//! directory in the state directory named by `GCE_FAKE_TOOL_STATE` (which
//! reaches it through the helper's environment) and answers what the test
//! wrote there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::json;

use super::{Win, basic, field, windows_path, wine, wine_command};
use crate::support::fake_tool::{USER, failed, token_for};
use crate::support::{ADO_RESOURCE, RunOutput, assert_no_leak, entra_timestamp, now_secs};

const COMPILER: &str = "x86_64-w64-mingw32-gcc";
const STATE_VAR: &str = "GCE_FAKE_TOOL_STATE";

/// The stand-in `.exe`, built once per run.
fn stand_in() -> &'static Path {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, exe) = BUILT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("gce-fake-tool-")
            .tempdir()
            .expect("a directory for the stand-in tool");
        let exe = dir.path().join("fake_tool.exe");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/windows/fake_tool.c");
        let out = Command::new(COMPILER)
            .args(["-municode", "-O2", "-s", "-o"])
            .arg(&exe)
            .arg(&source)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {COMPILER} ({e}), which builds the stand-in developer tools: install mingw-w64 (see .ci/run)"
                )
            });
        assert!(
            out.status.success(),
            "{COMPILER} could not build {}: {}",
            source.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, exe)
    });
    exe
}

/// The stand-in installed under some names, and what it saw.
struct Tools {
    bin: PathBuf,
    state: PathBuf,
}

impl Tools {
    /// The stand-in as each of `programs` in a directory of the test's own.
    fn new(w: &Win, programs: &[&str]) -> Tools {
        let bin = w.env.path().join("toolbin");
        let state = w.env.path().join("toolstate");
        for dir in [&bin, &state] {
            std::fs::create_dir_all(dir).expect("create the stand-in's directories");
        }
        for p in programs {
            std::fs::copy(stand_in(), bin.join(p)).expect("copy the stand-in");
        }
        // Its answer holds the token it hands out.
        w.env.planted(&state);
        Tools { bin, state }
    }

    /// What the next runs print and exit with.
    fn answer(&self, stdout: &str, status: i32) {
        std::fs::write(self.state.join("stdout"), stdout).expect("write the stand-in's answer");
        std::fs::write(self.state.join("status"), status.to_string()).expect("write its status");
    }

    /// The helper with `args`, the stand-in's directory first on PATH.
    fn helper(&self, w: &Win, args: &[&str], stdin: &str) -> RunOutput {
        let mut cmd = w.helper_command(args);
        cmd.env("WINEPATH", windows_path(&self.bin))
            .env(STATE_VAR, windows_path(&self.state));
        w.run(&mut cmd, stdin)
    }

    /// The command line of each run: (the program, the rest).
    fn calls(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.state.join("calls")).unwrap_or_default();
        text.lines()
            .map(|line| {
                // Rust quotes the program it starts.
                let rest = line.strip_prefix('"').expect("a quoted program");
                let (program, args) = rest.split_once('"').expect("a closing quote");
                (program.to_string(), args.trim_start().to_string())
            })
            .collect()
    }

    /// Asserts the one run started in the Windows directory, not in the
    /// directory git (here: the test) runs the helper in.
    fn ran_in_the_windows_directory(&self) {
        let cwd = std::fs::read_to_string(self.state.join("cwd")).expect("the stand-in's cwd");
        let here = std::env::current_dir().expect("the test's directory");
        assert!(
            cwd.trim().eq_ignore_ascii_case("C:\\windows"),
            "ran in {cwd:?}, not in %SYSTEMROOT% (the test runs in {})",
            windows_path(&here)
        );
    }
}

/// A token the fake Azure DevOps accepts for [`USER`], valid for an hour.
fn user_token(w: &Win) -> (String, u64) {
    let exp = now_secs() + 3600;
    (token_for(&w.entra.tenant_id(super::TENANT), exp), exp)
}

/// Two gets for identity `id` answered with `token` from one run: a Basic
/// one that fake Azure DevOps accepts, then a Bearer one from the cache.
fn two_gets(w: &Win, tools: &Tools, id: &str, token: &str) {
    w.ado.allow("contoso", USER);
    let first = tools.helper(w, &["get", "-vv", "--identity", id], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    assert_no_leak("the trace of a get", &first.stderr);
    assert_eq!(field(&first.stdout, "password").as_deref(), Some(token));
    let user = field(&first.stdout, "username").expect("a username");
    assert!(w.ado_accepts(&basic(&user, token)), "ADO accepts the token");
    let second = tools.helper(w, &["get", "--identity", id], &w.bearer_request());
    assert!(second.status.success(), "{}", second.stderr);
    assert_no_leak("the stderr of a get", &second.stderr);
    assert_eq!(field(&second.stdout, "credential").as_deref(), Some(token));
    assert_eq!(tools.calls().len(), 1, "the second get was a cache hit");
    assert_eq!(w.token_requests(), 0, "nothing asked Entra");
}

/// The PowerShell script in an `-EncodedCommand` argument (UTF-16LE, base64).
fn decoded(encoded: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64 after -EncodedCommand");
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).expect("UTF-16LE after -EncodedCommand")
}

fn answer_powershell(tools: &Tools, token: &str, exp: u64) {
    let line = json!({ "Token": token, "ExpiresOn": exp });
    tools.answer(&format!("{line}\r\n"), 0);
}

#[test]
#[ignore = "needs Wine, mingw-w64 and the Windows .exe; CI runs it (see .ci/run)"]
fn azure_powershell_runs_pwsh_once_from_the_windows_directory() {
    let w = Win::new();
    let tools = Tools::new(&w, &["pwsh.exe", "powershell.exe"]);
    let (token, exp) = user_token(&w);
    answer_powershell(&tools, &token, exp);
    two_gets(&w, &tools, "ps", &token);

    let (program, args) = &tools.calls()[0];
    assert!(program.ends_with("\\pwsh.exe"), "pwsh.exe first: {program}");
    let script = args
        .strip_prefix("-NoProfile -NonInteractive -NoLogo -EncodedCommand ")
        .unwrap_or_else(|| panic!("the arguments: {args}"));
    let script = decoded(script);
    assert!(
        script.contains("Get-AzAccessToken") && script.contains(&w.tool_tenant),
        "{script}"
    );
    tools.ran_in_the_windows_directory();
}

#[test]
#[ignore = "needs Wine, mingw-w64 and the Windows .exe; CI runs it (see .ci/run)"]
fn azure_powershell_falls_back_to_windows_powershell() {
    let w = Win::new();
    let tools = Tools::new(&w, &["powershell.exe"]);
    let (token, exp) = user_token(&w);
    answer_powershell(&tools, &token, exp);
    two_gets(&w, &tools, "ps", &token);
    let (program, _) = &tools.calls()[0];
    assert_eq!(
        program,
        &windows_path(&tools.bin.join("powershell.exe")),
        "the stand-in, before Wine's own powershell.exe"
    );
}

#[test]
#[ignore = "needs Wine, mingw-w64 and the Windows .exe; CI runs it (see .ci/run)"]
fn azure_powershell_absent_names_both_programs_and_the_fix() {
    let w = Win::new();
    // Wine ships a powershell.exe of its own, in a directory of the default
    // PATH: the helper runs with a PATH that has neither program.
    let wine = wine();
    let mut cmd = wine_command(&wine.prefix, wine.home.path(), Path::new("cmd.exe"));
    cmd.args([
        "/c",
        "set",
        "PATH=C:\\windows\\system32;C:\\windows&&",
        &windows_path(&wine.exe),
        "get",
        "--identity",
        "ps",
    ]);
    let out = w.run(&mut cmd, &w.request());
    failed(&out);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("pwsh.exe or powershell.exe")
            && out.stderr.contains("Fix: install PowerShell 7"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs Wine, mingw-w64 and the Windows .exe; CI runs it (see .ci/run)"]
fn azure_developer_cli_runs_azd_once_with_its_arguments() {
    let w = Win::new();
    let tools = Tools::new(&w, &["azd.exe"]);
    let (token, exp) = user_token(&w);
    let line = json!({ "token": token, "expiresOn": entra_timestamp(exp) });
    tools.answer(&format!("{line}\r\n"), 0);
    two_gets(&w, &tools, "dev", &token);

    let (program, args) = &tools.calls()[0];
    assert_eq!(program, &windows_path(&tools.bin.join("azd.exe")));
    assert_eq!(
        args,
        &format!(
            "auth token --output json --scope {ADO_RESOURCE}/.default --tenant-id {}",
            w.tool_tenant
        )
    );
    tools.ran_in_the_windows_directory();
}
