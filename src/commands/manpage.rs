//! The hidden `manpage`: one page in section 1, as install.sh installs it.
//! Name, synopsis, description and the global options are clap_mangen's,
//! from the same definitions as `--help`; then every command with its own
//! options on this page (no page per command is installed, so none is
//! named), and CONFIGURATION, ENVIRONMENT and FILES from the tables
//! `--help` prints (`app::manual`).

use std::io::{self, Write};

use clap::{Arg, CommandFactory};
use clap_mangen::Man;

use crate::app::cli::{Cli, EXAMPLE};
use crate::app::error::Error;
use crate::app::manual::{self, Item};

/// The program's name as the page writes it.
const NAME: &str = "git-credential-entra";

/// What roff output starts with (clap_mangen writes it before every part):
/// the string `Aq`, an apostrophe that stays one on every roff.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// The pages of other programs this one names: git's own.
pub const SEE_ALSO: &[&str] = &["gitcredentials(7)", "git-config(1)"];

/// One of clap_mangen's parts, without the preamble it starts with.
type Part = fn(&Man, &mut dyn Write) -> io::Result<()>;

/// Writes the man page (roff).
pub fn manpage(out: &mut dyn Write) -> Result<(), Error> {
    let mut cli = Cli::command();
    cli.build();
    let man = Man::new(cli.clone());
    let mut page = String::from(PREAMBLE);
    let head: [Part; 5] = [
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ];
    for (i, part) in head.into_iter().enumerate() {
        page.push_str(&render(&man, part)?);
        if i == 0 {
            // No hyphenation and a ragged right edge: names such as
            // GIT_CREDENTIAL_ENTRA_CACHE must copy out whole.
            page.push_str(".nh\n.ad l\n");
        }
    }
    commands(&mut page, &cli);
    page.push_str(".SH CONFIGURATION\n");
    text(&mut page, manual::CONFIG_FILE);
    page.push_str(".PP\nTop\\-level keys:\n");
    items(&mut page, manual::CONFIG_KEYS.iter());
    page.push_str(".PP\nIdentity types (the \\fBtype\\fR of an identity) and their fields:\n");
    items(&mut page, manual::identity_types());
    page.push_str(".SH ENVIRONMENT\n");
    items(&mut page, manual::ENVIRONMENT.iter());
    page.push_str(".SH FILES\n");
    items(&mut page, manual::FILES.iter());
    page.push_str(".SH EXAMPLES\n.nf\n");
    for line in EXAMPLE.lines().skip(1) {
        text(&mut page, line.trim_start());
    }
    page.push_str(".fi\n.SH \"SEE ALSO\"\n");
    text(&mut page, &SEE_ALSO.join(", "));
    page.push_str(&render(&man, Man::render_version_section)?);
    out.write_all(page.as_bytes()).map_err(Error::Io)
}

/// `part` of `man`, rendered, without the preamble.
fn render(man: &Man, part: Part) -> Result<String, Error> {
    let mut buf = Vec::new();
    part(man, &mut buf).map_err(Error::Io)?;
    let text = String::from_utf8_lossy(&buf);
    Ok(text.strip_prefix(PREAMBLE).unwrap_or(&text).to_string())
}

/// COMMANDS: each command a person or git runs (`cache list`, not `cache`),
/// its synopsis, what it does and its own options.
fn commands(page: &mut String, cli: &clap::Command) {
    page.push_str(".SH COMMANDS\n");
    let mut commands = Vec::new();
    leaves(NAME, cli, &mut commands);
    for (path, cmd) in commands {
        let args: Vec<&Arg> = cmd.get_arguments().filter(|a| own(a)).collect();
        let synopsis: Vec<String> = args
            .iter()
            .map(|a| {
                let shown = usage(a);
                if a.is_required_set() {
                    shown
                } else {
                    format!("[{shown}]")
                }
            })
            .collect();
        page.push_str(&format!(
            ".SS {}\n",
            escape(format!("{path} {}", synopsis.join(" ")).trim_end())
        ));
        if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
            text(page, &about.to_string());
        }
        for a in args {
            page.push_str(&format!(".TP\n\\fB{}\\fR\n", escape(&usage(a))));
            if let Some(help) = a.get_long_help().or(a.get_help()) {
                text(page, &help.to_string());
            }
        }
    }
}

/// The commands under `cmd` that do something, in the order of `--help`,
/// each with its full name (`git-credential-entra cache list`).
fn leaves<'c>(path: &str, cmd: &'c clap::Command, out: &mut Vec<(String, &'c clap::Command)>) {
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("{path} {}", sub.get_name());
        if sub.has_subcommands() {
            leaves(&name, sub, out);
        } else {
            out.push((name, sub));
        }
    }
}

/// Whether `arg` is the command's own: not a global one (those are under
/// OPTIONS) and not clap's `--help`.
fn own(arg: &Arg) -> bool {
    !arg.is_hide_set()
        && !arg.is_global_set()
        && !matches!(arg.get_id().as_str(), "help" | "version")
}

/// How `arg` is written: `URL`, `--flow F`, `--format raw|json|header`.
fn usage(arg: &Arg) -> String {
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    let value = if !values.is_empty() {
        values.join("|")
    } else {
        arg.get_value_names()
            .and_then(|v| v.first())
            .map(|v| v.to_string())
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
    };
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    match arg.get_long() {
        Some(long) if takes_value => format!("--{long} {value}"),
        Some(long) => format!("--{long}"),
        None => value,
    }
}

/// One `.TP` entry per item: the name in bold, then what it is.
fn items<'a>(page: &mut String, list: impl Iterator<Item = &'a Item>) {
    for i in list {
        page.push_str(&format!(".TP\n\\fB{}\\fR\n", escape(i.name)));
        text(page, i.what);
    }
}

/// `s` as roff text lines.
fn text(page: &mut String, s: &str) {
    for line in s.lines() {
        page.push_str(&escape(line));
        page.push('\n');
    }
}

/// Escapes one line for roff: a backslash, a dash (else a hyphen that
/// copy-paste turns into something a shell rejects), an apostrophe, and a
/// leading dot or apostrophe (else a request).
fn escape(line: &str) -> String {
    let body = line
        .replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\*(Aq");
    if body.starts_with('.') {
        format!("\\&{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests;
