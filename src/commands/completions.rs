//! `completions SHELL` and the hidden `manpage`: both generated from the
//! clap definitions, so they never drift from the real command line.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::app::cli::{Cli, CompletionShell};
use crate::app::error::Error;

/// Writes the completion script for `shell`.
pub fn completions(shell: CompletionShell, out: &mut dyn Write) -> Result<(), Error> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "git-credential-entra", &mut buf);
    out.write_all(&buf).map_err(Error::Io)
}

/// Writes the man page (roff) for section 1.
pub fn manpage(out: &mut dyn Write) -> Result<(), Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(Error::Io)?;
    out.write_all(&buf).map_err(Error::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_commands() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
            CompletionShell::Powershell,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out).expect("generates");
            let text = String::from_utf8(out).expect("utf8");
            for word in ["configure", "unconfigure", "token", "identities", "dry-run"] {
                assert!(text.contains(word), "{shell:?} lacks {word}");
            }
        }
    }

    #[test]
    fn every_command_has_an_example_in_its_help() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        let mut stack: Vec<&clap::Command> = vec![&cmd];
        while let Some(c) = stack.pop() {
            // clap's own `help` subcommand (and its tree) has no example to give.
            if c.get_name() == "help" {
                continue;
            }
            if !c.clone().render_help().to_string().contains("Example") {
                missing.push(c.get_name().to_string());
            }
            stack.extend(c.get_subcommands());
        }
        assert!(missing.is_empty(), "no example in --help of {missing:?}");
    }

    #[test]
    fn man_page_is_roff_for_this_program() {
        let mut out = Vec::new();
        manpage(&mut out).expect("renders");
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{}",
            &text[..80.min(text.len())]
        );
        assert!(
            text.contains("git\\-credential\\-entra"),
            "names the program"
        );
        assert!(text.contains("configure"));
    }
}
