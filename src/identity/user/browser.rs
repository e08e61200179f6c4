//! The browser sign-in: authorization code with PKCE (S256) and a loopback
//! redirect `http://localhost:{port}` answered on 127.0.0.1. Also what the
//! paste flow shares with it: the verifier, the authorize URL, reading the
//! redirect's query (with `state` checked) and redeeming the code.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::entra::{self, CodeRedemption};
use crate::env::Env;
use crate::error::Error;
use crate::secret::Secret;
use crate::text::sanitize;
use crate::token::TokenResponse;

use super::{SIGN_IN_TIMEOUT, User};
use crate::identity::AcquireCx;

/// One sign-in's secrets: the PKCE verifier and the `state` nonce.
pub struct Pkce {
    pub verifier: Secret<String>,
    pub state: String,
}

impl Pkce {
    /// 32 random bytes each: a 43-character verifier, as MSAL makes.
    pub fn new() -> Result<Pkce, String> {
        let rng = SystemRandom::new();
        let random = |n: usize| {
            let mut buf = vec![0u8; n];
            rng.fill(&mut buf)
                .map_err(|_| "the system's random number generator failed".to_string())?;
            Ok::<_, String>(URL_SAFE_NO_PAD.encode(buf))
        };
        Ok(Pkce {
            verifier: Secret::new(random(32)?),
            state: random(16)?,
        })
    }

    /// `b64url(sha256(verifier))`.
    pub fn challenge(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.verifier.expose().as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }
}

/// The authorize URL for `redirect_uri`.
pub fn authorize_url(
    user: &User,
    cx: &AcquireCx,
    pkce: &Pkce,
    redirect_uri: &str,
) -> Result<String, String> {
    let base = format!(
        "{}/{}/oauth2/v2.0/authorize",
        user.authority,
        user.tenant_for(cx)
    );
    let mut url = url::Url::parse(&base).map_err(|e| format!("bad authorize URL {base}: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &user.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", &entra::user_scope(cx.resource))
            .append_pair("state", &pkce.state)
            .append_pair("code_challenge", &pkce.challenge())
            .append_pair("code_challenge_method", "S256");
        match &user.login_hint {
            Some(hint) => q.append_pair("login_hint", hint),
            None => q.append_pair("prompt", "select_account"),
        };
    }
    Ok(url.into())
}

/// What the redirect's query said.
pub enum Redirect {
    /// A code, with the right `state`.
    Code(Secret<String>),
    /// Entra's error (`access_denied`…) or a wrong `state`: the message.
    Refused(String),
    /// Not a sign-in answer (a favicon request, an empty query).
    Other,
}

/// Reads `code`, `state`, `error` from a redirect's query.
pub fn read_redirect(query: &str, state: &str) -> Redirect {
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(error) = error {
        let error = sanitize(&error);
        let text = description
            .map(|d| format!(": {}", sanitize(d.lines().next().unwrap_or(""))))
            .unwrap_or_default();
        let fix = if error == "access_denied" {
            "sign-in was cancelled or consent was refused. Fix: sign in again and accept; if your organization requires admin consent for the app, ask an administrator (or set client_id to an app your tenant allows)"
        } else {
            "Fix: sign in again; if it persists, check tenant and client_id"
        };
        return Redirect::Refused(format!("Entra answered {error}{text}; {fix}"));
    }
    match (code, got_state) {
        (Some(_), Some(s)) if s != state => Redirect::Refused(
            "the answer's state does not match this sign-in (a stale tab, or another sign-in running at the same time), so it was not used. Fix: close old sign-in tabs and sign in again".into(),
        ),
        (Some(_), None) => Redirect::Refused(
            "the answer has no state, so it cannot be matched to this sign-in. Fix: sign in again".into(),
        ),
        (Some(code), Some(_)) if !code.is_empty() => Redirect::Code(Secret::new(code)),
        _ => Redirect::Other,
    }
}

/// Redeems `code` for tokens.
pub fn redeem(
    user: &User,
    cx: &AcquireCx,
    code: &Secret<String>,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<TokenResponse, Error> {
    let http = cx.entra_client(&user.authority)?;
    let tenant = user.tenant_for(cx);
    let scope = entra::user_scope(cx.resource);
    entra::authorization_code(
        &http,
        &CodeRedemption {
            authority: &user.authority,
            tenant: &tenant,
            client_id: &user.client_id,
            scope: &scope,
            code,
            redirect_uri,
            verifier: &pkce.verifier,
        },
        cx.trace,
    )
    .map_err(|source| Error::Entra {
        identity: cx.identity.to_string(),
        step: "authorization code",
        source: Box::new(source),
    })
}

/// Whether a browser can probably be opened: `$BROWSER`, a desktop
/// session, or a platform that always has one.
pub fn can_open(env: &Env) -> bool {
    env.get("BROWSER").is_some_and(|b| !b.trim().is_empty())
        || cfg!(any(target_os = "macos", windows))
        || env.get("DISPLAY").is_some()
        || env.get("WAYLAND_DISPLAY").is_some()
        || env.get("WSL_DISTRO_NAME").is_some()
}

/// The browser command for `url`: `$BROWSER` (split on spaces, the URL
/// appended as one argument), else the platform's opener. Never a shell
/// line with the URL in it. On Windows there is no command: the shell's
/// default handler opens it (see [`shell_open`]).
fn opener(env: &Env, url: &str) -> Vec<Vec<String>> {
    if let Some(b) = env.get("BROWSER").filter(|b| !b.trim().is_empty()) {
        let mut argv: Vec<String> = b.split_whitespace().map(str::to_string).collect();
        argv.push(url.to_string());
        return vec![argv];
    }
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // WSL's cmd.exe parses its command line: its metacharacters are escaped with ^.
    let cmd_escaped: String = url
        .chars()
        .flat_map(|c| {
            if "&|<>^()%!\"".contains(c) {
                vec!['^', c]
            } else {
                vec![c]
            }
        })
        .collect();
    if cfg!(target_os = "macos") {
        vec![s(&["open", url])]
    } else if cfg!(windows) {
        Vec::new()
    } else if env.get("WSL_DISTRO_NAME").is_some() {
        vec![
            s(&["wslview", url]),
            s(&["cmd.exe", "/c", "start", "\"\"", &cmd_escaped]),
        ]
    } else {
        vec![s(&["xdg-open", url])]
    }
}

/// Starts the browser on `url`; its output never reaches git's stdout. The
/// program is found only in absolute PATH directories ([`crate::program`]).
fn open(env: &Env, url: &str) -> Result<String, String> {
    #[cfg(windows)]
    if env.get("BROWSER").is_none_or(|b| b.trim().is_empty()) {
        return shell_open(url).map(|()| "the default browser".to_string());
    }
    let mut failures = Vec::new();
    for argv in opener(env, url) {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let path = match crate::program::resolve(env, program) {
            Ok(path) => path,
            Err(why) => {
                failures.push(why);
                continue;
            }
        };
        match Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            // Not waited for: an opener may stay as long as the browser does.
            Ok(_) => return Ok(program.clone()),
            Err(e) => failures.push(format!("{program}: {e}")),
        }
    }
    Err(failures.join("; "))
}

/// Opens `url` with the shell's default handler for its scheme
/// (`ShellExecuteW`, the "open" verb): the URL is one string, never parsed
/// by a command interpreter, so `&` and `^` in it need no escaping.
#[cfg(windows)]
fn shell_open(url: &str) -> Result<(), String> {
    use windows_sys::Win32::UI::Shell::ShellExecuteW;
    use windows_sys::Win32::UI::WindowsAndMessaging::SW_SHOWNORMAL;
    let wide = |s: &str| s.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let (verb, file) = (wide("open"), wide(url));
    // SAFETY: both strings are NUL-terminated and outlive the call; the
    // other pointers may be null.
    let done = unsafe {
        ShellExecuteW(
            std::ptr::null_mut(),
            verb.as_ptr(),
            file.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            SW_SHOWNORMAL,
        )
    };
    // Values above 32 mean success; the others are error codes.
    let code = done as isize;
    if code > 32 {
        Ok(())
    } else {
        Err(format!(
            "the shell found no program to open the address (ShellExecute error {code})"
        ))
    }
}

/// The browser flow, from listener to tokens.
pub fn sign_in(user: &User, cx: &AcquireCx) -> Result<TokenResponse, Error> {
    let fail = |problem: String| Error::SignIn {
        identity: cx.identity.to_string(),
        flow: "browser",
        problem,
    };
    let pkce = Pkce::new().map_err(fail)?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| {
            fail(format!(
                "cannot listen on 127.0.0.1 for the browser's answer: {e}. Fix: use --flow paste"
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| fail(format!("cannot read the listener's port: {e}")))?
        .port();
    let redirect_uri = format!("http://localhost:{port}");
    let url = authorize_url(user, cx, &pkce, &redirect_uri).map_err(fail)?;
    match open(cx.env, &url) {
        Ok(program) => {
            cx.trace
                .decision(format_args!("browser sign-in: opened with {program}"));
            cx.prompt.say(format_args!(
                "identity '{}': continue the sign-in in your browser (if none opened, open this address: {url})",
                cx.identity
            ));
        }
        Err(why) => {
            return Err(fail(format!(
                "could not open a browser ({why}). Fix: set BROWSER to your browser's command, or use --flow paste"
            )));
        }
    }
    let code = wait_for_code(&listener, &pkce.state, SIGN_IN_TIMEOUT).map_err(fail)?;
    redeem(user, cx, &code, &redirect_uri, &pkce)
}

/// Answers connections on `listener` until one carries the sign-in's
/// answer, or `limit` passes.
fn wait_for_code(
    listener: &TcpListener,
    state: &str,
    limit: Duration,
) -> Result<Secret<String>, String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(done) = answer(stream, state) {
                    return done;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("waiting for the browser failed: {e}")),
        }
    }
    Err(format!(
        "no answer from the browser within {} minutes. Fix: run `git-credential-entra login` and finish the sign-in in the browser, or use --flow paste",
        limit.as_secs() / 60
    ))
}

/// Serves one request; `Some` when it ended the sign-in.
fn answer(mut stream: TcpStream, state: &str) -> Option<Result<Secret<String>, String>> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    // The request head only, bounded: the answer is in its first line.
    while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        respond(
            &mut stream,
            404,
            "Not found",
            "This address is not part of the sign-in.",
        );
        return None;
    }
    match read_redirect(query, state) {
        Redirect::Code(code) => {
            respond(
                &mut stream,
                200,
                "Signed in",
                "Signed in to Azure DevOps with git-credential-entra. You can close this tab and return to the terminal.",
            );
            Some(Ok(code))
        }
        Redirect::Refused(message) => {
            respond(&mut stream, 400, "Sign-in failed", &message);
            Some(Err(message))
        }
        Redirect::Other => {
            respond(
                &mut stream,
                400,
                "Waiting for sign-in",
                "This page expects the sign-in's answer.",
            );
            None
        }
    }
}

/// Writes the landing page.
fn respond(stream: &mut TcpStream, status: u16, title: &str, message: &str) {
    let body = landing_page(title, message);
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The browser may have gone; the sign-in's outcome does not depend on it.
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small finished-looking page: the outcome and what to do next.
pub fn landing_page(title: &str, message: &str) -> String {
    let ok = title == "Signed in";
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - git-credential-entra</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f3f4f6;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}}
main{{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.12);padding:40px 48px;max-width:560px;text-align:center}}
.mark{{font-size:48px;color:{color}}}
h1{{font-size:24px;margin:12px 0;color:#111}}
p{{font-size:16px;color:#374151;line-height:1.5}}
</style></head>
<body><main><div class="mark">{mark}</div><h1>{title}</h1><p>{message}</p></main></body></html>
"#,
        title = html_escape(title),
        message = html_escape(message),
        color = if ok { "#16a34a" } else { "#dc2626" },
        mark = if ok { "&#10004;" } else { "&#10006;" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        let pkce = Pkce {
            verifier: Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
            state: "s".into(),
        };
        // RFC 7636 appendix B.
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = Pkce::new().expect("rng");
        assert_eq!(fresh.verifier.expose().len(), 43);
        assert_ne!(fresh.state, Pkce::new().expect("rng").state);
    }

    #[test]
    fn redirects_are_checked_for_state_and_errors() {
        assert!(
            matches!(read_redirect("code=abc&state=s1", "s1"), Redirect::Code(c) if c.expose() == "abc")
        );
        assert!(
            matches!(read_redirect("code=abc&state=s2", "s1"), Redirect::Refused(m) if m.contains("state does not match"))
        );
        assert!(matches!(
            read_redirect("code=abc", "s1"),
            Redirect::Refused(_)
        ));
        assert!(matches!(
            read_redirect("error=access_denied&error_description=AADSTS65004%3A+User+declined%0Amore&state=s1", "s1"),
            Redirect::Refused(m) if m.contains("access_denied: AADSTS65004: User declined;") && !m.contains("more")
        ));
        assert!(matches!(read_redirect("", "s1"), Redirect::Other));
    }

    #[test]
    fn browser_commands_take_the_url_as_one_argument() {
        let env = Env::from_pairs([("BROWSER", "my-browser --new-window")]);
        let url = "https://x/authorize?a=1&b=$(rm -rf ~)";
        assert_eq!(
            opener(&env, url),
            vec![vec![
                "my-browser".to_string(),
                "--new-window".into(),
                url.into()
            ]]
        );
        assert!(can_open(&env));
    }

    #[cfg(windows)]
    #[test]
    fn windows_opens_addresses_through_the_shell_and_reports_a_missing_handler() {
        // No command line is built on Windows: nothing for cmd.exe to misparse.
        assert!(opener(&Env::default(), "https://x/?a=1&b=2").is_empty());
        // A scheme no program handles: the shell's answer comes back as an error.
        let e = open(&Env::default(), "gce-test-no-handler:x").expect_err("no handler");
        assert!(e.contains("ShellExecute error"), "{e}");
    }

    #[test]
    fn the_landing_page_escapes_server_text() {
        let page = landing_page("Sign-in failed", "Entra answered <script>");
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"));
    }
}
