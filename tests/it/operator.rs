//! Operator commands through the real binary: configure / unconfigure on
//! real git config files, token in its three formats (the header used in a
//! real HTTP request to the fake Azure DevOps), identities, completions.

use crate::support::world::{CLIENT, World};
use crate::support::{TestEnv, jwt};

/// Every entry of a git config file, as git reads it.
fn listed(env: &TestEnv, file: &str) -> String {
    let out = env.run(
        env.git("git").args(["config", "--file", file, "--list"]),
        b"",
    );
    out.stdout
}

fn global(env: &TestEnv) -> String {
    env.path()
        .join("home/.gitconfig")
        .to_string_lossy()
        .into_owned()
}

fn helper(env: &TestEnv, args: &[&str]) -> crate::support::RunOutput {
    env.run(env.helper().args(args), b"")
}

#[test]
fn configure_twice_is_byte_identical_and_unconfigure_restores_manager_and_store() {
    let env = TestEnv::new();
    let file = global(&env);
    let before = "[credential]\n\thelper = store\n[credential \"https://dev.azure.com\"]\n\thelper = manager\n";
    std::fs::write(&file, before).expect("write gitconfig");
    let listed_before = listed(&env, &file);

    let dry = helper(&env, &["configure", "--dry-run"]);
    assert!(dry.status.success(), "{}", dry.stderr);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        before,
        "--dry-run writes nothing"
    );
    assert!(
        dry.stdout.contains("replaces helper = manager"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("credential.helper = store"),
        "the masked store is named: {}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("Nothing written (--dry-run)"),
        "{}",
        dry.stdout
    );

    let first = helper(&env, &["configure"]);
    assert!(first.status.success(), "{}", first.stderr);
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    let get = |key: &str| {
        env.run(
            env.git("git")
                .args(["config", "--file", &file, "--get-all", key]),
            b"",
        )
        .stdout
    };
    assert_eq!(
        get("credential.https://dev.azure.com.helper"),
        format!("\n{bin}\n")
    );
    assert_eq!(
        get("credential.https://*.visualstudio.com.helper"),
        format!("\n{bin}\n")
    );
    assert_eq!(
        get("credential.https://dev.azure.com.useHttpPath"),
        "true\n"
    );
    assert_eq!(
        get("credential.helper"),
        "store\n",
        "the generic helper is left alone"
    );
    let once = std::fs::read(&file).expect("read");

    let second = helper(&env, &["configure"]);
    assert!(second.status.success(), "{}", second.stderr);
    assert!(
        second.stdout.contains("Nothing to change"),
        "{}",
        second.stdout
    );
    assert_eq!(
        std::fs::read(&file).expect("read"),
        once,
        "configure twice: byte-identical"
    );

    let undo = helper(&env, &["unconfigure"]);
    assert!(undo.status.success(), "{}", undo.stderr);
    assert!(
        undo.stdout.contains("restores helper = manager"),
        "{}",
        undo.stdout
    );
    assert_eq!(listed(&env, &file), listed_before, "every line as before");
    assert_eq!(get("credential.https://dev.azure.com.helper"), "manager\n");
    let again = helper(&env, &["unconfigure"]);
    assert!(
        again.stdout.contains("not configured here"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_file_scope_with_an_empty_start_is_left_empty_and_prior_use_http_path_comes_back() {
    let env = TestEnv::new();
    let file = env.path().join("team.gitconfig");
    let file = file.to_str().expect("utf8");
    std::fs::write(
        file,
        "[credential \"https://dev.azure.com\"]\n\tuseHttpPath = false\n",
    )
    .expect("write");
    let before = listed(&env, file);
    let out = helper(
        &env,
        &[
            "configure",
            "--file",
            file,
            "--host",
            "http://127.0.0.1:8080",
        ],
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("useHttpPath = true") && out.stdout.contains("was false"),
        "{}",
        out.stdout
    );
    let after = listed(&env, file);
    assert!(
        after.contains("credential.http://127.0.0.1:8080.usehttppath=true"),
        "{after}"
    );
    let out = helper(&env, &["unconfigure", "--file", file]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(listed(&env, file), before);
}

#[test]
fn configure_names_the_helper_entra_when_this_binary_is_on_path() {
    let mut env = TestEnv::new();
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_git-credential-entra"))
        .parent()
        .expect("bin dir")
        .to_str()
        .expect("utf8")
        .to_string();
    env.set_env(
        "PATH",
        &format!("{dir}:{}", std::env::var("PATH").unwrap_or_default()),
    );
    let out = helper(&env, &["configure"]);
    assert!(out.status.success(), "{}", out.stderr);
    let file = global(&env);
    let got = env
        .run(
            env.git("git").args([
                "config",
                "--file",
                &file,
                "--get-all",
                "credential.https://dev.azure.com.helper",
            ]),
            b"",
        )
        .stdout;
    assert_eq!(got, "\nentra\n");
}

#[test]
fn configure_without_any_identity_says_what_to_write() {
    let env = TestEnv::new();
    let out = helper(&env, &["configure"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("no identity can answer yet"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&env.config_path().display().to_string()),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\"routes\""),
        "an example to write: {}",
        out.stdout
    );
    // With a config file, nothing to warn about.
    let w = World::new();
    let out = w.helper(&["configure"], "");
    assert!(!out.stdout.contains("no identity"), "{}", out.stdout);
}

#[test]
fn configure_wires_the_config_hosts_so_git_reaches_the_helper() {
    let w = World::new();
    let out = w.helper(&["configure"], "");
    assert!(out.status.success(), "{}", out.stderr);
    let base = w.ado.base_url();
    assert!(
        out.stdout.contains(&format!("[credential \"{base}\"]")),
        "{}",
        out.stdout
    );
    // A real clone through git, with only what configure wrote.
    let clone = w.env.run(
        w.env.git("git").args(["clone", "-q", &w.repo_url, "c"]),
        b"",
    );
    assert!(clone.status.success(), "{}", clone.stderr);
}

#[test]
fn token_formats_and_the_header_opens_the_fake_azure_devops() {
    let w = World::new();
    let url = format!("{}/contoso", w.ado.base_url());
    let raw = w.helper(&["token", &url], "");
    assert!(raw.status.success(), "{}", raw.stderr);
    let token = raw.stdout.trim_end().to_string();
    assert!(jwt::verify(&token).is_some(), "a token the fake issued");

    let json = w.helper(&["token", &url, "--format", "json"], "");
    assert!(json.status.success(), "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["accessToken"], token.as_str(), "the cached token, reused");
    assert_eq!(
        w.token_requests(),
        1,
        "token uses and fills the cache like get"
    );
    let claims = jwt::verify(&token).expect("claims");
    assert_eq!(v["expires_on"], claims["exp"]);
    assert_eq!(v["tenant"], claims["tid"]);
    assert_eq!(v["identity"], "ci");
    assert_eq!(v["tokenType"], "Bearer");
    assert!(v["expiresOn"].as_str().expect("string").ends_with('Z'));
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");

    let header = w.helper(&["token", &url, "--format", "header"], "");
    let line = header.stdout.trim_end();
    let (name, value) = line.split_once(": ").expect("a header line");
    assert_eq!(name, "Authorization");
    // A real HTTP request to the fake Azure DevOps with that header.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let refs = format!(
        "{}/contoso/proj/_git/repo/info/refs?service=git-upload-pack",
        w.ado.base_url()
    );
    let anonymous = client.get(&refs).send().expect("answers");
    assert_eq!(anonymous.status().as_u16(), 401);
    let resp = client
        .get(&refs)
        .header(name, value)
        .send()
        .expect("answers");
    assert_eq!(resp.status().as_u16(), 200, "the header authenticates");
    assert_eq!(w.token_requests(), 1);

    // --identity and an unknown URL.
    let out = w.helper(&["token", "--identity", "ci"], "");
    assert!(out.status.success(), "{}", out.stderr);
    let out = w.helper(&["token", "https://github.com/x/y"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("not an Azure DevOps URL"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn identities_lists_routes_and_explains_each_remote() {
    let w = World::new();
    w.env.git_ok("git", &["init", "-q", "repo"]);
    let repo = w.env.path().join("repo");
    let repo = repo.to_str().expect("utf8");
    let base = w.ado.base_url();
    for (name, url) in [
        ("origin", format!("{base}/contoso/proj/_git/repo")),
        ("other", format!("{base}/fabrikam/proj/_git/repo")),
        ("gh", "https://github.com/x/y".to_string()),
        (
            "ssh",
            "git@ssh.dev.azure.com:v3/contoso/proj/repo".to_string(),
        ),
    ] {
        w.env
            .git_ok("git", &["-C", repo, "remote", "add", name, &url]);
    }
    let out = w
        .env
        .run(w.env.helper().arg("identities").current_dir(repo), b"");
    assert!(out.status.success(), "{}", out.stderr);
    let text = out.stdout;
    assert!(text.contains(&format!("{base}/contoso -> ci")), "{text}");
    assert!(text.contains(CLIENT), "the identity is described: {text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"))
            .to_string()
    };
    assert!(
        line("origin").contains(&format!("identity 'ci' (route {base}/contoso)")),
        "{text}"
    );
    assert!(
        line("other").contains("identity 'auto' (no route matches"),
        "{text}"
    );
    assert!(line("gh").contains("not Azure DevOps"), "{text}");
    assert!(line("ssh").contains("not an https URL"), "{text}");
}

#[test]
fn completions_for_four_shells_and_a_man_page() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = helper(&env, &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", out.stderr);
        assert!(out.stdout.contains("unconfigure"), "{shell}");
    }
    let out = helper(&env, &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let man = helper(&env, &["manpage"]);
    assert!(man.stdout.contains(".TH"), "{}", man.stdout);
}

/// The documented way to call a REST API keeps the token off every command
/// line (`ps` shows arguments to every user): the help and the reference
/// (docs/reference.md) pipe the header into `curl -H @-`, and that pipeline
/// works as written.
#[cfg(unix)]
#[test]
fn the_documented_curl_pipeline_works_and_keeps_the_token_off_argv() {
    let w = World::new();
    let help = w.helper(&["token", "--help"], "");
    let reference =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md"))
            .expect("docs/reference.md");
    for (what, text) in [
        ("token --help", &help.stdout),
        ("docs/reference.md", &reference),
    ] {
        assert!(
            !text.contains("\"$(git-credential-entra token"),
            "{what} shows the token on a command line"
        );
        assert!(
            text.contains("--format header https://dev.azure.com/contoso |")
                && text.contains("curl -H @- "),
            "{what} shows the pipe"
        );
    }
    let base = w.ado.base_url();
    let helper = crate::support::env::helper_bin();
    let script = format!(
        "'{}' token --format header {base}/contoso | curl -sS -o /dev/null -w '%{{http_code}}' -H @- '{base}/contoso/proj/_git/repo/info/refs?service=git-upload-pack'",
        helper.display()
    );
    let out = w.env.run(w.env.command("sh").args(["-c", &script]), b"");
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, "200", "the fake accepted the piped header");
}
