//! git's network settings as the helper reads them: only when a request is
//! about to be made (never on a cached `get`), for the remote git asked
//! about, and shown by `doctor` without the proxy's password.

use std::os::unix::fs::PermissionsExt as _;

use crate::support::world::World;

/// A `git` first on PATH that logs its arguments, then runs the real one:
/// what the helper asks git, seen from outside.
fn log_git_calls(w: &mut World) -> std::path::PathBuf {
    let real = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("git"))
                .find(|g| g.is_file())
        })
        .expect("git on PATH");
    let dir = w.env.path().join("logging-git");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let log = w.env.path().join("git-calls.log");
    let script = dir.join("git");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .expect("write the logging git");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    w.env.set_env("PATH", &path);
    log
}

fn urlmatch_calls(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("--get-urlmatch http "))
        .map(str::to_string)
        .collect()
}

#[test]
fn git_config_is_read_for_the_remote_on_a_miss_and_never_on_a_cached_get() {
    let mut w = World::new();
    let log = log_git_calls(&mut w);
    let out = w.helper(&["get"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    let calls = urlmatch_calls(&log);
    assert_eq!(calls.len(), 1, "one read on the miss: {calls:?}");
    assert!(
        calls[0].ends_with(&format!("{}/contoso/proj/_git/repo", w.ado.base_url())),
        "asked for the remote git named: {calls:?}"
    );
    let out = w.helper(&["get"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(w.token_requests(), 1, "the second get was cached");
    assert_eq!(
        urlmatch_calls(&log).len(),
        1,
        "no git config on a cached get"
    );
}

#[test]
fn doctor_shows_the_proxy_and_ca_in_effect_without_the_password() {
    let mut w = World::new();
    w.configure_git();
    let password = "pr0xy-Pa55word-never-shown";
    crate::support::register_sensitive(password);
    let ca = w.env.path().join("corp-ca.pem");
    let gitconfig = w.env.path().join("home/.gitconfig");
    let mut text = std::fs::read_to_string(&gitconfig).expect("gitconfig");
    // The proxy with its password comes from git's environment form of
    // `-c` (no file may hold a registered secret).
    w.env.set_env("GIT_CONFIG_COUNT", "1");
    w.env.set_env("GIT_CONFIG_KEY_0", "http.proxy");
    w.env.set_env(
        "GIT_CONFIG_VALUE_0",
        &format!("http://jo:{password}@proxy.corp.example:3128"),
    );
    text.push_str(&format!(
        "[http \"{}/contoso/\"]\n\tsslCAInfo = {}\n[http \"https://elsewhere.example/\"]\n\tsslCAInfo = /not/this/one.pem\n",
        w.ado.base_url(),
        ca.display()
    ));
    std::fs::write(&gitconfig, text).expect("write gitconfig");
    // No such file yet: doctor names it, with the key that set it.
    let url = format!("{}/contoso/proj/_git/repo", w.ado.base_url());
    let out = w.helper(&["doctor", &url], "");
    let network = out
        .stdout
        .lines()
        .skip_while(|l| !l.contains("network"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!out.status.success(), "{}", out.stdout);
    // The network check itself fails, naming the file, the key and a fix.
    let first = network.lines().next().unwrap_or_default();
    assert!(
        first.contains(&ca.display().to_string())
            && first.contains("cannot be read")
            && first.contains("git config http.sslcainfo")
            && network.contains("fix:"),
        "{network}\n{}",
        out.stdout
    );
    // A real CA file: the proxy, its user and where each came from, never the password.
    if !crate::support::cert::openssl_available() {
        return;
    }
    crate::support::cert::openssl(
        w.env.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Corporate Test CA",
            "-keyout",
            "corp-ca.key",
            "-out",
            "corp-ca.pem",
        ],
    );
    let out = w.helper(&["doctor", &url], "");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("network"))
        .unwrap_or_default()
        .to_string();
    for want in [
        "http://proxy.corp.example:3128",
        "user jo",
        "git config http.proxy",
        "git config http.sslcainfo",
        &ca.display().to_string(),
    ] {
        assert!(line.contains(want), "{want} missing from: {line}");
    }
    assert!(!line.contains("/not/this/one.pem"), "{line}");
    assert!(!out.stdout.contains(password) && !out.stderr.contains(password));
}
