//! `completions SHELL`: generated from the clap definitions, so it never
//! drifts from the real command line (as the man page, `manpage`).

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
}
