//! One invocation from start to exit code: git's verbs go to `app`, human
//! commands to `commands/`; a failure is printed once, here.

use std::io::{IsTerminal, Read, Write};

use super::verbs::{self, Failure};
use crate::app::cli::{Cli, Command};
use crate::app::session::Session;
use crate::commands;
use crate::git::protocol::{self, Response};
use crate::sys::env::{Dirs, Env};
use crate::sys::interactivity::Interactivity;
use crate::sys::trace::Trace;

/// Runs one command; returns the process exit code. `stdin_is_terminal`
/// says whether a person types on `stdin` (main asks the real stdin).
/// `stderr` becomes the invocation's one stream for the person, shared by
/// the trace, notices, prompts and the final line (see [`Trace::stderr`]).
pub fn run(
    cli: Cli,
    env: &Env,
    stdin: &mut dyn Read,
    stdin_is_terminal: bool,
    stdout: &mut dyn Write,
    mut stderr: Box<dyn Write>,
) -> u8 {
    if let Command::Other(words) = &cli.command {
        if !typed_by_a_person(words, stdin_is_terminal) {
            // git's protocol: an operation this helper does not know is ignored.
            return 0;
        }
        let word = words.first().map_or("", String::as_str);
        let _ = writeln!(
            stderr,
            "git-credential-entra: '{}' is not a command of git-credential-entra; see --help",
            word.escape_debug()
        );
        return 2;
    }
    let session = Session {
        env,
        trace: Trace::new(cli.verbose, env, stderr),
        dirs: Dirs::new(env, cli.config.clone()),
        identity_flag: cli
            .identity
            .clone()
            .or_else(|| env.get("GIT_CREDENTIAL_ENTRA_IDENTITY").map(str::to_string)),
        stdin_is_terminal,
        interactivity: Interactivity::from_env(env, std::io::stderr().is_terminal()),
    };
    let stderr = &mut session.trace.stderr();
    let result = match cli.command {
        Command::Get => verbs::get(&session, stdin, stdout, stderr),
        Command::Store => verbs::store(stdin),
        Command::Erase => verbs::erase(&session, stdin, stderr),
        Command::Capability => verbs::capability(stdout),
        Command::Login { url, flow } => {
            commands::login::login(&session, url.as_deref(), flow.as_deref(), stderr)
                .map_err(Failure::plain)
        }
        Command::Logout { url, all } => {
            commands::login::logout(&session, url.as_deref(), all, stderr).map_err(Failure::plain)
        }
        Command::Cache(c) => commands::cache::run(&session, c, stdout).map_err(Failure::plain),
        Command::Secret(c) => {
            commands::secret::run(&session, c, stdin, stderr).map_err(Failure::plain)
        }
        Command::Configure(args) => {
            commands::configure::configure(&session, &args, stdout).map_err(Failure::plain)
        }
        Command::Unconfigure(args) => {
            commands::configure::unconfigure(&session, &args, stdout).map_err(Failure::plain)
        }
        Command::Token(args) => {
            commands::token::run(&session, &args, stdout, stderr).map_err(Failure::plain)
        }
        Command::Doctor(args) => {
            commands::doctor::run(&session, &args, stdout).map_err(Failure::plain)
        }
        Command::Identities => commands::identities::run(&session, stdout).map_err(Failure::plain),
        Command::Completions { shell } => {
            commands::completions::completions(shell, stdout).map_err(Failure::plain)
        }
        Command::Manpage => commands::manpage::manpage(stdout).map_err(Failure::plain),
        Command::Other(_) => Ok(()), // answered above
    };
    match result {
        Ok(()) => 0,
        Err(Failure { error, quit }) => {
            if quit {
                let _ = protocol::write_response(stdout, &Response::Quit);
            }
            let line = crate::sys::text::inert(format_args!("{error}"));
            let _ = writeln!(stderr, "git-credential-entra: {line}");
            1
        }
    }
}

/// Whether an unknown word came from a person rather than from a newer git:
/// git passes one operation word and writes the request into a pipe.
fn typed_by_a_person(words: &[String], stdin_is_terminal: bool) -> bool {
    words.len() > 1 || stdin_is_terminal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::trace::Captured;
    use clap::Parser;

    /// Runs argv in-process with `stdin`; returns (exit code, stdout, stderr).
    fn run_with(argv: &[&str], stdin: &str, terminal: bool) -> (u8, String, String) {
        run_with_env(argv, stdin, terminal, &[])
    }

    /// [`run_with`], with `extra` variables in the environment.
    fn run_with_env(
        argv: &[&str],
        stdin: &str,
        terminal: bool,
        extra: &[(&str, &str)],
    ) -> (u8, String, String) {
        let home = tempfile::tempdir().expect("temp home");
        let home = home.path().to_str().expect("UTF-8 temp path");
        let env = Env::from_pairs(
            [
                ("HOME", home),
                ("XDG_CONFIG_HOME", home),
                ("XDG_CACHE_HOME", home),
            ]
            .into_iter()
            .chain(extra.iter().copied()),
        );
        let cli = Cli::try_parse_from(
            std::iter::once("git-credential-entra").chain(argv.iter().copied()),
        )
        .expect("parses");
        let (mut out, err) = (Vec::new(), Captured::default());
        let code = run(
            cli,
            &env,
            &mut stdin.as_bytes(),
            terminal,
            &mut out,
            Box::new(err.clone()),
        );
        (code, String::from_utf8(out).expect("utf8"), err.text())
    }

    #[test]
    fn trace_lines_and_the_final_error_share_the_stream_run_was_given() {
        // A malformed request fails; its trace comes first, on
        // the same stream, then the one error line.
        let (code, out, err) = run_with_env(
            &["get"],
            "a line without an equals sign\n",
            false,
            &[("GIT_CREDENTIAL_ENTRA_TRACE", "1")],
        );
        assert_eq!(code, 1, "{err}");
        assert_eq!(out, "", "nothing on stdout");
        let lines: Vec<&str> = err.lines().collect();
        let last = lines.last().copied().unwrap_or_default();
        assert!(last.starts_with("git-credential-entra: "), "{err}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("git-credential-entra [")),
            "the trace was written to the given stream: {err}"
        );
    }

    #[test]
    fn unknown_words_from_git_are_ignored_and_from_people_refused() {
        for (argv, terminal, expected) in [
            (&["frobnicate"][..], false, 0),
            (&["frobnicate"], true, 2),
            (&["secrets", "set"], false, 2),
            (&["reconfigure", "--global"], false, 2),
            (&["bogus", "x"], true, 2),
        ] {
            let (code, out, err) = run_with(argv, "protocol=https\nhost=dev.azure.com\n", terminal);
            assert_eq!(code, expected, "{argv:?} terminal={terminal}: {err}");
            assert_eq!(out, "", "{argv:?}");
            if expected == 0 {
                assert_eq!(err, "", "{argv:?}");
            } else {
                assert_eq!(
                    err,
                    format!(
                        "git-credential-entra: '{}' is not a command of git-credential-entra; see --help\n",
                        argv[0]
                    )
                );
            }
        }
    }

    #[test]
    fn get_at_a_terminal_says_what_it_reads() {
        let request = "protocol=https\nhost=github.com\n\n";
        let (code, out, err) = run_with(&["get"], request, true);
        assert_eq!((code, out.as_str()), (0, ""), "{err}");
        assert!(
            err.contains("reading a git credential request: key=value lines")
                && err.contains("end with an empty line"),
            "{err}"
        );
        let (_, _, err) = run_with(&["get"], request, false);
        assert_eq!(err, "", "git's pipe gets no chatter");
    }
}
