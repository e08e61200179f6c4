//! The browser sign-in's loopback listener against hostile local clients,
//! with a scripted browser that waits for the test's signal before it
//! follows Entra's redirect: answers without the sign-in's `state`, clients
//! sending their request a byte at a time, a program binding the redirect
//! port on ::1; and what the browser is started with (its environment, and
//! where it is found).

use std::io::{Read as _, Write as _};
use std::net::{Ipv6Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::world::World;
use crate::support::{Ci, RunOutput, skip_unless};
use crate::user_signin::{script, user_world};

const UPN: &str = "alice@contoso.onmicrosoft.com";

/// The browser's script: keeps the authorize URL and its environment, waits
/// for `go` (which holds curl options for the redirect, `-6` for ::1), then
/// follows Entra's redirect to the helper's listener.
const BROWSER: &str = r#"
printf '%s\n' "$1" > "$D/authorize-url"
env > "$D/browser-env"
i=0
while [ ! -e "$D/go" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
loc=$(curl -sS --max-time 20 -o /dev/null -w '%{redirect_url}' "$1") &&
curl -sS --max-time 20 $(cat "$D/go") -o "$D/landing.html" "$loc" 2>"$D/browser.err"
"#;

/// Writes the paused browser as `dir/name` (`D` set to the test root).
fn paused_browser(w: &World, dir: &str, name: &str) -> PathBuf {
    let root = w.env.path();
    std::fs::create_dir_all(root.join(dir)).expect("browser dir");
    let body = format!("D='{}'\n{BROWSER}", root.display());
    let path = script(w, &format!("{dir}/{name}"), &body);
    // Its environment dump and the sign-in URL are the test's own files.
    w.env.planted(&root.join("browser-env"));
    w.env.planted(&root.join("authorize-url"));
    path
}

/// The redirect port, once the browser was started.
fn redirect_port(w: &World) -> u16 {
    let file = w.env.path().join("authorize-url");
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.ends_with('\n') {
            break text;
        }
        assert!(Instant::now() < deadline, "the browser was not started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let url = url::Url::parse(url.trim()).expect("authorize URL");
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("redirect_uri");
    let port = redirect
        .strip_prefix("http://localhost:")
        .expect("a localhost redirect");
    port.parse().expect("port")
}

/// Lets the browser follow the redirect, with `curl_options`.
fn release_browser(w: &World, curl_options: &str) {
    std::fs::write(w.env.path().join("go"), curl_options).expect("go");
}

/// `login --identity me` on a thread while `during` plays the other local
/// programs; the login's output, and how long it ran after `during`.
fn login_while(w: &World, during: impl FnOnce(u16)) -> (RunOutput, Duration) {
    std::thread::scope(|s| {
        let login = s.spawn(|| w.helper(&["login", "--identity", "me"], ""));
        during(redirect_port(w));
        let released = Instant::now();
        let out = login.join().expect("login thread");
        (out, released.elapsed())
    })
}

/// An HTTP request from a local program; the answer, as text.
fn local_get(port: u16, target: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").expect("send");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

fn assert_signed_in(w: &World, out: &RunOutput) {
    assert!(
        out.status.success() && out.stderr.contains(&format!("signed in as {UPN}")),
        "{}",
        out.stderr
    );
    let page = std::fs::read_to_string(w.env.path().join("landing.html")).unwrap_or_default();
    assert!(page.contains("You can close this tab"), "{page}");
}

#[test]
fn answers_without_this_sign_ins_state_are_ignored_and_the_real_one_signs_in() {
    let mut w = user_world("");
    let browser = paused_browser(&w, "bin", "browser");
    w.env.set_env("BROWSER", &browser.to_string_lossy());
    let (out, _) = login_while(&w, |port| {
        for forged in [
            "/?error=access_denied&state=forged",
            "/?error=access_denied",
            "/?code=forged-code&state=forged",
        ] {
            let answer = local_get(port, forged);
            assert!(
                answer.starts_with("HTTP/1.1 400") && answer.contains("Not this sign-in"),
                "{forged}: {answer}"
            );
        }
        release_browser(&w, "");
    });
    assert_signed_in(&w, &out);
    let ignored: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("ignored an answer to the sign-in address"))
        .collect();
    assert_eq!(ignored.len(), 1, "one line on the terminal: {}", out.stderr);
    assert!(ignored[0].contains("identity 'me'"), "{}", ignored[0]);
    let grants: Vec<String> = w
        .entra
        .token_requests()
        .iter()
        .map(|r| r.form["code"].clone())
        .collect();
    assert_eq!(grants.len(), 1, "only Entra's code was redeemed");
    assert_ne!(grants[0], "forged-code");
}

#[test]
fn clients_sending_slowly_do_not_hold_up_the_browser() {
    let mut w = user_world("");
    let browser = paused_browser(&w, "bin", "browser");
    w.env.set_env("BROWSER", &browser.to_string_lossy());
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let (out, took) = std::thread::scope(|s| {
        let result = login_while(&w, |port| {
            for _ in 0..4 {
                // A byte a second: each read gets something, the head never ends.
                s.spawn(move || {
                    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
                        return;
                    };
                    let until = Instant::now() + Duration::from_secs(45);
                    for b in b"GET /?state=x".iter().cycle() {
                        if stop.load(Ordering::Relaxed) || Instant::now() > until {
                            break;
                        }
                        if c.write_all(&[*b]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                });
                // And one that connects and says nothing.
                s.spawn(move || {
                    let _idle = TcpStream::connect(("127.0.0.1", port));
                    let until = Instant::now() + Duration::from_secs(45);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            // The slow ones are in before the browser comes.
            std::thread::sleep(Duration::from_millis(500));
            release_browser(&w, "");
        });
        stop.store(true, Ordering::Relaxed);
        result
    });
    // Served one after another, these clients would hold it for minutes.
    assert!(
        took < Duration::from_secs(15),
        "the browser's answer waited {took:?}"
    );
    assert_signed_in(&w, &out);
}

#[test]
fn the_redirect_port_is_held_on_both_loopback_addresses() {
    let ipv6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    let reason = "no IPv6 loopback here (the helper listens on 127.0.0.1 alone)";
    if !skip_unless(ipv6, Ci::MayLack, reason) {
        return;
    }
    let mut w = user_world("");
    let browser = paused_browser(&w, "bin", "browser");
    w.env.set_env("BROWSER", &browser.to_string_lossy());
    let (out, _) = login_while(&w, |port| {
        let stolen = TcpListener::bind((Ipv6Addr::LOCALHOST, port));
        // Released either way (over IPv4 past a stolen port), so that a
        // failure here does not also leave the sign-in waiting.
        release_browser(&w, if stolen.is_ok() { "-4" } else { "-6" });
        assert!(
            stolen.is_err(),
            "another program could listen on [::1]:{port}, where a browser may send the code"
        );
    });
    // The browser went to localhost as ::1 (curl -6), and was answered there.
    assert_signed_in(&w, &out);
}

/// The environment the browser got: `NAME=value` lines.
fn browser_env(root: &Path) -> Vec<String> {
    let env = std::fs::read_to_string(root.join("browser-env")).expect("the browser ran");
    std::fs::remove_file(root.join("browser-env")).expect("remove");
    env.lines().map(str::to_string).collect()
}

#[test]
fn the_browser_gets_no_secrets_and_is_found_only_in_absolute_path_directories() {
    let extra = r#"},
    "sp": { "type": "service-principal", "tenant": "contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555", "client_secret_env": "GCE_SP_SECRET" },
    "cert": { "type": "service-principal", "tenant": "contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555556", "certificate": "/nonexistent/app.pfx", "certificate_password_env": "GCE_CERT_PASSWORD" },
    "job": { "type": "pipeline-token", "variable": "GCE_JOB_TOKEN""#;
    let mut w = user_world(extra);
    let root = w.env.path().to_path_buf();
    let secrets = [
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "SYSTEM_ACCESSTOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "IDENTITY_HEADER",
        "MSI_SECRET",
        "GCE_SP_SECRET",
        "GCE_CERT_PASSWORD",
        "GCE_JOB_TOKEN",
    ];
    for var in secrets {
        w.env.set_env(var, "a-secret-for-no-browser");
    }
    w.env.set_env("GCE_KEPT", "kept-for-the-browser");
    // The same programs twice: in a relative PATH entry (a directory of
    // the repository git runs the helper in) as traps, and in an absolute one.
    std::fs::create_dir_all(root.join("trap")).expect("trap dir");
    for name in ["gce-browser", "xdg-open"] {
        let real = paused_browser(&w, "bin", name);
        // Marks that it ran, then does the real one's work: the test fails
        // on the mark, not on a sign-in left waiting.
        let trap = format!(
            "touch '{}/trap-ran'\nexec '{}' \"$@\"",
            root.display(),
            real.display()
        );
        script(&w, &format!("trap/{name}"), &trap);
    }
    let path = format!(
        "trap:{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    w.env.set_env("PATH", &path);
    let login = |w: &World| {
        let _ = std::fs::remove_file(root.join("go"));
        std::thread::scope(|s| {
            let run = s.spawn(|| {
                w.env.run(
                    w.env
                        .helper()
                        .args(["login", "--identity", "me"])
                        .current_dir(&root),
                    b"",
                )
            });
            redirect_port(w);
            release_browser(w, "");
            run.join().expect("login")
        })
    };
    let check = |who: &str| {
        assert!(!root.join("trap-ran").exists(), "{who}: ran from trap/");
        let env = browser_env(&root);
        for var in secrets {
            assert!(
                !env.iter().any(|l| l.starts_with(&format!("{var}="))),
                "{who} got {var}"
            );
        }
        assert!(
            env.iter().any(|l| l == "GCE_KEPT=kept-for-the-browser")
                && env.iter().any(|l| l.starts_with("HOME=")),
            "{who} keeps the rest: {env:?}"
        );
        let _ = std::fs::remove_file(root.join("authorize-url"));
    };
    // $BROWSER as a bare name, found on PATH.
    w.env.set_env("BROWSER", "gce-browser");
    let out = login(&w);
    assert_signed_in(&w, &out);
    check("$BROWSER");
    // No $BROWSER on a desktop: xdg-open.
    w.env.set_env("BROWSER", "");
    w.env.set_env("DISPLAY", ":99");
    let out = login(&w);
    assert_signed_in(&w, &out);
    check("xdg-open");
}
