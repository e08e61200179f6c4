//! A ready-made world for product tests: a fake Entra with one service
//! principal, a fake Azure DevOps serving `contoso/proj/_git/repo`, and a
//! TestEnv whose config routes that organization to the principal.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

use super::{
    AdoRequest, FakeAdo, FakeEntra, RunOutput, SeenAuth, TestEnv, check_output, register_sensitive,
};

/// Tenant of the test organization.
pub const TENANT: &str = "contoso.onmicrosoft.com";
/// The service principal's application id.
pub const CLIENT: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
/// Its client secret.
pub const SECRET: &str = "Xq8~not-a-real-secret-but-a-long-one";
/// The git on PATH (2.47 here: Bearer via capability/authtype).
pub const NEW_GIT: &str = "git";
/// The older git, when the machine has it.
pub const OLD_GIT: &str = "/usr/bin/git";

/// Whether `git` (on PATH) offers `capability[]=authtype` to helpers (≥ 2.46).
pub fn git_has_authtype() -> bool {
    let text = super::env::probe(NEW_GIT, &["--version"]).expect("run git --version");
    let mut parts = text
        .trim()
        .trim_start_matches("git version ")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (2, 46)
}

/// Fake services plus an isolated machine configured for them.
pub struct World {
    /// Fake Entra.
    pub entra: FakeEntra,
    /// Fake Azure DevOps.
    pub ado: FakeAdo,
    /// The isolated environment.
    pub env: TestEnv,
    /// Clone URL of contoso/proj/_git/repo.
    pub repo_url: String,
}

impl World {
    /// A world using the file cache.
    pub fn new() -> World {
        World::with_cache("file")
    }

    /// A world using cache backend `cache`.
    pub fn with_cache(cache: &str) -> World {
        register_sensitive(SECRET);
        let entra = FakeEntra::start();
        entra.add_app(TENANT, CLIENT, SECRET);
        let mut env = TestEnv::new();
        let srv = env.path().join("srv");
        std::fs::create_dir_all(&srv).expect("create srv");
        let ado = FakeAdo::start(&srv, &entra.tenant_id(TENANT));
        let repo_url = ado.create_repo("contoso", "proj", "repo");
        ado.allow("contoso", CLIENT);
        env.set_env("CI_SECRET", SECRET);
        env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", cache);
        let world = World {
            entra,
            ado,
            env,
            repo_url,
        };
        world.write_config("");
        world
    }

    /// Makes every file-cache entry `secs` seconds older (its times moved
    /// back), as if that much time had passed, so tests need not sleep.
    pub fn age_cache(&self, secs: i64) {
        let dir = self.env.path().join("cache/git-credential-entra/tokens");
        let entries = std::fs::read_dir(&dir).expect("the file cache has entries");
        for entry in entries.map(|e| e.expect("a directory entry").path()) {
            if entry.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&entry).expect("read a cache entry");
            let mut v: serde_json::Value = serde_json::from_str(&text).expect("entries are JSON");
            for key in ["expires_on", "obtained", "refresh_on"] {
                if let Some(t) = v.get(key).and_then(serde_json::Value::as_i64) {
                    v[key] = (t - secs).into();
                }
            }
            std::fs::write(&entry, v.to_string()).expect("write the aged entry back");
        }
    }

    /// Writes the standard config; `extra_identities` is spliced into
    /// `identities` (e.g. `, "x": {…}`).
    pub fn write_config(&self, extra_identities: &str) {
        self.env.write_config(&format!(
            r#"{{
  "identities": {{
    "ci": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_env": "CI_SECRET" }}{extra_identities}
  }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "ci" }} ],
  "hosts": [ "{base}" ],
  "authority_host": "{authority}"
}}"#,
            base = self.ado.base_url(),
            authority = self.entra.url()
        ));
    }

    /// The request git sends for the test repository (no capabilities).
    pub fn request(&self) -> String {
        format!(
            "protocol=http\nhost={}\npath=contoso/proj/_git/repo\n",
            self.ado.host()
        )
    }

    /// The same request with git ≥ 2.46's capabilities.
    pub fn bearer_request(&self) -> String {
        format!(
            "capability[]=authtype\ncapability[]=state\n{}",
            self.request()
        )
    }

    /// Runs `git-credential-entra <args>` with `stdin`.
    pub fn helper(&self, args: &[&str], stdin: &str) -> RunOutput {
        self.env.run(self.env.helper().args(args), stdin.as_bytes())
    }

    /// Spawns `get` without waiting (for concurrency tests).
    pub fn spawn_get(&self) -> Child {
        let mut cmd: Command = self.env.helper();
        cmd.arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn the helper")
    }

    /// Runs `n` `get`s at once; their exit codes, stdouts and stderrs.
    pub fn concurrent_gets(&self, n: usize) -> Vec<(Option<i32>, String, String)> {
        let mut children: Vec<_> = (0..n).map(|_| self.spawn_get()).collect();
        for c in &mut children {
            c.stdin
                .take()
                .expect("stdin")
                .write_all(self.request().as_bytes())
                .expect("write request");
        }
        children
            .into_iter()
            .map(|mut c| {
                let err_pipe = c.stderr.take().expect("stderr");
                // stderr on its own thread, so a chatty child cannot block on a full pipe.
                let err = std::thread::spawn(move || {
                    let mut s = String::new();
                    let _ = { err_pipe }.read_to_string(&mut s);
                    s
                });
                let mut out = String::new();
                c.stdout
                    .take()
                    .expect("stdout")
                    .read_to_string(&mut out)
                    .expect("read stdout");
                let status = c.wait().expect("wait");
                let err = err.join().expect("stderr thread");
                check_output("git-credential-entra", &["get".into()], &out, &err);
                (status.code(), out, err)
            })
            .collect()
    }

    /// Points git at the helper: reset inherited helpers, then ours, with useHttpPath.
    pub fn configure_git(&self) {
        let bin = super::env::helper_bin();
        let bin = bin.display();
        let cfg = self.env.path().join("home/.gitconfig");
        std::fs::write(
            &cfg,
            format!("[credential]\n\thelper =\n\thelper = {bin}\n\tuseHttpPath = true\n[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"),
        )
        .expect("write gitconfig");
    }

    /// Through real git with the helper configured: clones the test
    /// repository into `dir`, commits a file and pushes it; asserts that the
    /// push was authenticated and no request carried a rejected credential.
    pub fn clone_and_push(&self, dir: &str) {
        self.configure_git();
        self.env
            .git_ok(NEW_GIT, &["clone", "-q", &self.repo_url, dir]);
        let work = self.env.path().join(dir);
        let work = work.to_str().expect("utf8");
        std::fs::write(std::path::Path::new(work).join("f.txt"), "pushed\n").expect("write");
        self.env.git_ok(NEW_GIT, &["-C", work, "add", "f.txt"]);
        self.env
            .git_ok(NEW_GIT, &["-C", work, "commit", "-qm", "pushed"]);
        self.env
            .git_ok(NEW_GIT, &["-C", work, "push", "-q", "origin", "HEAD"]);
        let authed = self.authed_requests();
        assert!(
            authed
                .iter()
                .any(|r| r.path.contains("git-receive-pack") && r.status == 200),
            "{authed:?}"
        );
        assert!(
            authed
                .iter()
                .all(|r| r.status == 200 && r.auth != SeenAuth::Invalid),
            "{authed:?}"
        );
    }

    /// The requests Azure DevOps saw that carried credentials.
    pub fn authed_requests(&self) -> Vec<AdoRequest> {
        self.ado
            .requests()
            .into_iter()
            .filter(|r| r.auth != SeenAuth::None)
            .collect()
    }

    /// Number of token requests Entra has seen.
    pub fn token_requests(&self) -> usize {
        self.entra.token_requests().len()
    }
}

/// The value of `key=` in a helper's answer.
pub fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// The token in an answer, Bearer or Basic.
pub fn token_of(out: &str) -> String {
    field(out, "credential")
        .or_else(|| field(out, "password"))
        .expect("the answer carries a token")
        .to_string()
}
