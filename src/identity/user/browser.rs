//! The browser sign-in: authorization code with PKCE (see [`super::authorize`])
//! and a loopback redirect `http://localhost:{port}` (see [`super::listener`]).
//! The browser is started without the helper's secrets in its environment:
//! it outlives the sign-in and runs whatever extensions and helpers it has.
//!
//! Opened by hand rather than with `opener`: that crate looks `xdg-open` up
//! through the whole `PATH` (a repository's relative entry included) and
//! hands the browser our environment, secrets and all.

use std::process::Command;

use crate::identity::Error;
use crate::sys::env::{Env, SECRET_VARIABLES};
use crate::token::TokenResponse;

use super::authorize::{Pkce, authorize_url, redeem};
use super::listener::Loopback;
use super::{SIGN_IN_TIMEOUT, User};
use crate::identity::AcquireCx;

/// The browser flow, from listener to tokens.
pub fn sign_in(user: &User, cx: &AcquireCx) -> Result<TokenResponse, Error> {
    let fail = |problem: String| Error::SignIn {
        identity: cx.identity.to_string(),
        flow: "browser",
        problem,
    };
    let pkce = Pkce::new().map_err(fail)?;
    let listener = Loopback::bind().map_err(|e| {
        fail(format!(
            "cannot listen on the loopback addresses for the browser's answer: {e}. Fix: use --flow paste"
        ))
    })?;
    cx.trace.decision(format_args!(
        "browser sign-in: listening on {} port {}",
        listener.addresses(),
        listener.port()
    ));
    // `localhost`, the address Entra's public clients register, whichever
    // loopback address the browser resolves it to.
    let redirect_uri = format!("http://localhost:{}", listener.port());
    let url = authorize_url(user, cx, &pkce, &redirect_uri).map_err(fail)?;
    match open(cx.env, &url, &user.secret_vars) {
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
    let mut told = false;
    let code = listener
        .wait_for_code(&pkce.state, SIGN_IN_TIMEOUT, || {
            cx.trace.decision(format_args!(
                "browser sign-in: ignored an answer without this sign-in's state"
            ));
            // One line: a program sending many must not flood the terminal.
            if !std::mem::replace(&mut told, true) {
                cx.prompt.say(format_args!(
                    "identity '{}': ignored an answer to the sign-in address that is not this sign-in's (its state is missing or wrong: an old sign-in tab, or another program); still waiting for the browser",
                    cx.identity
                ));
            }
        })
        .map_err(fail)?;
    redeem(user, cx, &code, &redirect_uri, &pkce)
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
/// program is found only in absolute PATH directories ([`crate::sys::program`]),
/// and its environment has none of the variables holding secrets: the
/// usual ones and `secret_vars`, the config's.
fn open(env: &Env, url: &str, secret_vars: &[String]) -> Result<String, String> {
    #[cfg(windows)]
    if env.get("BROWSER").is_none_or(|b| b.trim().is_empty()) {
        return shell_open(url).map(|()| "the default browser".to_string());
    }
    let mut failures = Vec::new();
    for argv in opener(env, url) {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let path = match crate::sys::program::resolve(env, program) {
            Ok(path) => path,
            Err(why) => {
                failures.push(why);
                continue;
            }
        };
        let mut command = Command::new(&path);
        command.args(args);
        for var in SECRET_VARIABLES
            .iter()
            .copied()
            .chain(secret_vars.iter().map(String::as_str))
        {
            command.env_remove(var);
        }
        // Not waited for: an opener may stay as long as the browser does.
        match crate::sys::program::start(&mut command) {
            Ok(()) => return Ok(program.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = open(&Env::default(), "gce-test-no-handler:x", &[]).expect_err("no handler");
        assert!(e.contains("ShellExecute error"), "{e}");
    }
}
