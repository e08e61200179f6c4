//! Trust boundaries: git runs helpers inside repositories, so nothing a
//! repository ships (and nothing other users can write) may decide where a
//! secret is sent or where a token is written.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::world::{CLIENT, NEW_GIT, TENANT, World};
use crate::support::{FakeEntra, register_sensitive};

/// The secret a victim has in `AZURE_CLIENT_SECRET`.
const VICTIM_SECRET: &str = "victim~client~secret~8fQz1";

/// Removes every variable that could give the helper an absolute home.
fn homeless(cmd: &mut Command) -> &mut Command {
    for var in [
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_RUNTIME_DIR",
        "USERPROFILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(files_under(&p));
        } else {
            files.push(p);
        }
    }
    files
}

#[test]
fn without_home_a_repository_cannot_supply_the_config_or_receive_a_token() {
    register_sensitive(VICTIM_SECRET);
    let w = World::new();
    w.configure_git();
    w.env.git_ok(NEW_GIT, &["clone", &w.repo_url, "work"]);
    let work = w.env.path().join("work");
    let dir = work.to_str().expect("utf8");

    // The repository's own authority would accept the victim's secret and
    // issue a token, so a helper that read the planted config would succeed.
    let planted = FakeEntra::start();
    planted.add_app(TENANT, CLIENT, VICTIM_SECRET);
    let config = format!(
        r#"{{
  "identities": {{ "evil": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}",
                             "client_secret_env": "AZURE_CLIENT_SECRET", "authority_host": "{authority}" }} }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "evil" }},
              {{ "url": "https://dev.azure.com/contoso", "identity": "evil" }} ],
  "hosts": [ "{base}" ],
  "cache": "file"
}}"#,
        authority = planted.url(),
        base = w.ado.base_url()
    );
    let planted_dir = work.join(".config/git-credential-entra");
    std::fs::create_dir_all(&planted_dir).expect("create .config");
    std::fs::write(planted_dir.join("config.json"), config).expect("plant config");
    std::fs::create_dir_all(work.join(".cache/git-credential-entra")).expect("create .cache");
    std::fs::write(work.join(".cache/git-credential-entra/.keep"), "").expect("plant .cache");
    w.env.git_ok(NEW_GIT, &["-C", dir, "add", "-A"]);
    w.env.git_ok(
        NEW_GIT,
        &["-C", dir, "commit", "-qm", "ship a helper config"],
    );

    let git = |args: &[&str], stdin: &str| {
        let mut cmd = w.env.git(NEW_GIT);
        homeless(&mut cmd)
            .current_dir(&work)
            .env("AZURE_CLIENT_SECRET", VICTIM_SECRET)
            .args(args);
        w.env.run(&mut cmd, stdin.as_bytes())
    };

    // The fake Azure DevOps host is only listed in the planted config: without
    // it the request is not ours, and git fails for want of a credential.
    let fetch = git(&["fetch", "origin"], "");
    assert!(!fetch.status.success(), "fetch must fail: {}", fetch.stderr);

    // dev.azure.com is ours without any config: git is told to stop, and the
    // helper says which variable to set.
    let fill = git(
        &["credential", "fill"],
        "protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n",
    );
    assert!(!fill.status.success(), "{}", fill.stdout);
    assert!(
        fill.stderr.contains("told us to quit"),
        "the helper answered quit=1: {}",
        fill.stderr
    );
    assert!(
        fill.stderr.contains("set HOME") && fill.stderr.contains("absolute"),
        "names the variable to set: {}",
        fill.stderr
    );

    assert!(
        planted.token_requests().is_empty(),
        "the planted authority was asked for a token"
    );
    let cache_files: Vec<PathBuf> = files_under(&work.join(".cache"))
        .into_iter()
        .filter(|p| !p.ends_with(".keep"))
        .collect();
    assert!(
        cache_files.is_empty(),
        "files written in the worktree: {cache_files:?}"
    );
    let status = w.env.git_ok(NEW_GIT, &["-C", dir, "status", "--porcelain"]);
    assert_eq!(status.stdout, "", "the worktree is unchanged");
}

#[test]
fn without_home_requests_we_own_quit_others_stay_silent_and_commands_say_why() {
    let w = World::new();
    let cwd = w.env.path().join("somewhere");
    std::fs::create_dir_all(&cwd).expect("create cwd");
    let run = |args: &[&str], stdin: &str| {
        let mut cmd = w.env.helper();
        homeless(&mut cmd).current_dir(&cwd).args(args);
        w.env.run(&mut cmd, stdin.as_bytes())
    };
    let ours = run(
        &["get"],
        "protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n",
    );
    assert_eq!(
        (ours.status.code(), ours.stdout.as_str()),
        (Some(1), "quit=1\n")
    );
    assert!(ours.stderr.contains("Fix: set HOME"), "{}", ours.stderr);
    let theirs = run(&["get"], "protocol=https\nhost=github.com\npath=o/r.git\n");
    assert!(theirs.status.success(), "{}", theirs.stderr);
    assert_eq!((theirs.stdout.as_str(), theirs.stderr.as_str()), ("", ""));

    let list = run(&["cache", "list"], "");
    assert_eq!(list.status.code(), Some(1));
    assert!(list.stderr.contains("Fix: set HOME"), "{}", list.stderr);
    // A config named explicitly is used, but tokens still need a home.
    let explicit = w.env.config_path();
    let explicit = explicit.to_str().expect("utf8");
    let list = run(&["--config", explicit, "cache", "list"], "");
    assert_eq!(list.status.code(), Some(1));
    assert!(
        list.stderr.contains("the token cache") && list.stderr.contains("XDG_CACHE_HOME"),
        "{}",
        list.stderr
    );
    let get = run(&["--config", explicit, "get"], &w.request());
    assert_eq!(get.stdout, "quit=1\n", "{}", get.stderr);
    assert_eq!(
        w.token_requests(),
        0,
        "nothing acquired that could not be cached"
    );
    assert!(files_under(&cwd).is_empty(), "{:?}", files_under(&cwd));
}

#[test]
fn a_relative_trace_path_writes_no_file_and_says_so() {
    let w = World::new();
    let cwd = w.env.path().join("repo");
    std::fs::create_dir_all(&cwd).expect("create cwd");
    for value in ["trace.log", "TRUE", "Yes", "On"] {
        let mut cmd = w.env.helper();
        cmd.current_dir(&cwd)
            .env("GIT_CREDENTIAL_ENTRA_TRACE", value)
            .arg("get");
        let out = w.env.run(&mut cmd, w.request().as_bytes());
        assert!(out.status.success(), "{value}: {}", out.stderr);
        assert!(
            out.stdout.contains("password="),
            "{value}: the request proceeds"
        );
        assert!(
            files_under(&cwd).is_empty(),
            "{value}: {:?}",
            files_under(&cwd)
        );
        let lines: Vec<&str> = out.stderr.lines().collect();
        if value == "trace.log" {
            assert_eq!(lines.len(), 1, "one error line: {}", out.stderr);
            assert!(
                lines[0].contains("GIT_CREDENTIAL_ENTRA_TRACE") && lines[0].contains("absolute"),
                "{}",
                out.stderr
            );
        } else {
            assert!(lines.len() > 1, "{value} traces to stderr: {}", out.stderr);
        }
    }
}

/// A CI job sets `GIT_CREDENTIAL_ENTRA_CONFIG=.ci/entra.json` (or runs the
/// helper with `--config .ci/entra.json`): git runs the helper inside the
/// checkout, so a relative path would read the checkout's own file, whose
/// authority then receives the job's secret. It is refused instead.
#[test]
fn a_relative_config_path_is_refused_wherever_it_comes_from() {
    register_sensitive(VICTIM_SECRET);
    let w = World::new();
    w.configure_git();
    w.env.git_ok(NEW_GIT, &["clone", &w.repo_url, "work"]);
    let work = w.env.path().join("work");
    let planted = FakeEntra::start();
    planted.add_app(TENANT, CLIENT, VICTIM_SECRET);
    std::fs::create_dir_all(work.join(".ci")).expect("create .ci");
    std::fs::write(
        work.join(".ci/entra.json"),
        format!(
            r#"{{ "identities": {{ "evil": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_env": "AZURE_CLIENT_SECRET", "authority_host": "{authority}" }} }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "evil" }}, {{ "url": "https://dev.azure.com/contoso", "identity": "evil" }} ],
  "hosts": [ "{base}" ], "cache": "file" }}"#,
            authority = planted.url(),
            base = w.ado.base_url()
        ),
    )
    .expect("plant the config");

    for (how, setting) in [
        ("variable", "GIT_CREDENTIAL_ENTRA_CONFIG"),
        ("flag", "--config"),
    ] {
        let mut cmd = w.env.git(NEW_GIT);
        cmd.current_dir(&work)
            .env("AZURE_CLIENT_SECRET", VICTIM_SECRET);
        if how == "variable" {
            cmd.env("GIT_CREDENTIAL_ENTRA_CONFIG", ".ci/entra.json");
        } else {
            // An empty helper first: only this command line answers.
            let helper = crate::support::env::helper_bin();
            cmd.args(["-c", "credential.helper=", "-c"]).arg(format!(
                "credential.helper={} --config .ci/entra.json",
                helper.display()
            ));
        }
        cmd.args(["credential", "fill"]);
        let out = w.env.run(
            &mut cmd,
            b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n",
        );
        assert!(!out.status.success(), "{how}: {}", out.stdout);
        assert!(
            out.stderr.contains("told us to quit"),
            "{how}: the helper answered quit=1: {}",
            out.stderr
        );
        let ours: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("git-credential-entra:"))
            .collect();
        assert_eq!(ours.len(), 1, "{how}: one line: {}", out.stderr);
        assert!(
            ours[0].contains(&format!("{setting} \".ci/entra.json\" is a relative path"))
                && ours[0].contains("absolute path"),
            "{how}: {}",
            out.stderr
        );
    }
    assert!(
        planted.token_requests().is_empty(),
        "the planted authority was asked for a token"
    );
}

/// `GIT_CREDENTIAL_ENTRA_TRACE` naming a file in a directory other users can
/// write: a symlink planted there is not followed (its target, here the
/// user's `.bashrc`, stays as it was) and a FIFO is not waited on. The
/// request is served, with one line saying why there is no trace.
#[cfg(unix)]
#[test]
fn a_planted_trace_link_or_fifo_is_neither_followed_nor_waited_on() {
    let w = World::new();
    let shared = w.env.path().join("shared-tmp");
    std::fs::create_dir_all(&shared).expect("create the shared directory");
    let bashrc = w.env.path().join("home/.bashrc");
    std::fs::create_dir_all(bashrc.parent().expect("home")).expect("create home");
    std::fs::write(&bashrc, "# mine\n").expect("write .bashrc");
    let link = shared.join("entra-trace.log");
    std::os::unix::fs::symlink(&bashrc, &link).expect("plant the symlink");
    let fifo = shared.join("entra-fifo.log");
    let made = w.env.command("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());

    for planted in [&link, &fifo] {
        let mut cmd = w.env.helper();
        cmd.env("GIT_CREDENTIAL_ENTRA_TRACE", planted).arg("get");
        // `run` fails the test if the helper waits past its deadline.
        let out = w.env.run(&mut cmd, w.request().as_bytes());
        assert!(out.status.success(), "{}", out.stderr);
        assert!(out.stdout.contains("password="), "the request is served");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line, and no trace: {}", out.stderr);
        assert!(
            lines[0].contains("GIT_CREDENTIAL_ENTRA_TRACE") && lines[0].contains("not a link"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(&bashrc).expect("read .bashrc"),
        "# mine\n",
        "the link's target is untouched"
    );
}
