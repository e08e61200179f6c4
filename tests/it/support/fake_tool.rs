//! A stand-in for a developer tool (`az`, `pwsh`, `azd`) on PATH: a shell
//! script that records its arguments, working directory and some variables,
//! runs a tool-specific `prelude` (checks of its arguments, or an answer it
//! computes itself), then answers what the test wrote for it (stdout,
//! stderr, an exit status) or hangs.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::world::{TENANT, World};
use super::{ADO_RESOURCE, RunOutput, jwt};

/// The developer signed in to the tool.
pub const USER: &str = "dev@contoso.onmicrosoft.com";

/// A token the fake Azure DevOps accepts for [`USER`], expiring at `exp`.
pub fn user_token(w: &World, exp: u64) -> String {
    token_for(&w.entra.tenant_id(TENANT), exp)
}

/// A token for [`USER`] of tenant `tenant_id`, expiring at `exp`.
pub fn token_for(tenant_id: &str, exp: u64) -> String {
    jwt::sign(&json!({
        "aud": ADO_RESOURCE,
        "tid": tenant_id,
        "upn": USER,
        "exp": exp,
    }))
}

/// A `get` that failed as git must see it: `quit=1`, so git asks no other helper.
pub fn failed(out: &RunOutput) {
    assert!(!out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
}

/// The standard world with `contoso` routed to identity `me` of type `ty`
/// (`extra` is spliced into it, e.g. `, "tenant": "…"`), its stand-in (made
/// by `tool` in the world's directory) first on PATH, and [`USER`] allowed.
pub fn tool_world(ty: &str, extra: &str, tool: fn(&Path) -> FakeTool) -> (World, FakeTool) {
    let mut w = World::new();
    let fake = tool(w.env.path());
    // The stand-in's canned answers hold the token it hands out.
    w.env.planted(&fake.state);
    w.env.set_env("PATH", &fake.path_var());
    w.env.write_config(&format!(
        r#"{{
  "identities": {{ "me": {{ "type": "{ty}"{extra} }} }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "me" }} ],
  "hosts": [ "{base}" ]
}}"#,
        base = w.ado.base_url()
    ));
    w.ado.allow("contoso", USER);
    (w, fake)
}

/// A stand-in program in its own directory, and the files it reads and writes.
pub struct FakeTool {
    /// The directory holding the program (put on PATH).
    pub bin: PathBuf,
    /// Where the script keeps what it saw and what to answer.
    pub state: PathBuf,
}

impl FakeTool {
    /// Writes `program` under `root`, recording the variables `record` into
    /// `env-NAME` files and running `prelude` (shell; `$s` is the state
    /// directory) before answering. It answers exit status 1 until told otherwise.
    pub fn new(root: &Path, program: &str, record: &[&str], prelude: &str) -> FakeTool {
        let bin = root.join(format!("{program}bin"));
        let state = root.join(format!("{program}state"));
        std::fs::create_dir_all(&bin).expect("create the tool's bin");
        std::fs::create_dir_all(&state).expect("create the tool's state");
        let recorded: String = record
            .iter()
            .map(|v| format!("printf '%s' \"${v}\" > \"$s/env-{v}\"\n"))
            .collect();
        let script = format!(
            r#"#!/bin/sh
s='{state}'
{{ for a in "$@"; do printf '%s\n' "$a"; done; printf -- '--\n'; }} >> "$s/calls"
pwd > "$s/cwd"
{recorded}{prelude}
if [ -f "$s/hang" ]; then sleep 60 & echo $! > "$s/sleeper"; wait; fi
cat "$s/stdout"
cat "$s/stderr" >&2
exit "$(cat "$s/status")"
"#,
            state = state.display()
        );
        let path = bin.join(program);
        std::fs::write(&path, script).expect("write the stand-in");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the stand-in");
        let tool = FakeTool { bin, state };
        tool.answer("", "", 1);
        tool
    }

    /// What the next runs print and exit with.
    pub fn answer(&self, stdout: &str, stderr: &str, status: i32) {
        self.write("stdout", stdout);
        self.write("stderr", stderr);
        self.write("status", &status.to_string());
    }

    /// Writes a state file the script or its prelude reads.
    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.state.join(file), text).expect("write the stand-in's state");
    }

    /// The argument lists of every run so far.
    pub fn calls(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.state.join("calls")).unwrap_or_default();
        text.split_terminator("--\n")
            .map(|c| c.lines().map(str::to_owned).collect())
            .collect()
    }

    /// A file the script wrote (`cwd`, `env-NAME`, `sleeper`…).
    pub fn seen(&self, file: &str) -> String {
        std::fs::read_to_string(self.state.join(file)).unwrap_or_default()
    }

    /// PATH with the stand-in first, then the test process's PATH (git, sh).
    pub fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
}
