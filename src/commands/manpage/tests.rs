use super::*;

fn page() -> String {
    let mut out = Vec::new();
    manpage(&mut out).expect("renders");
    String::from_utf8(out).expect("utf8")
}

/// The page as a reader sees its words: roff's escapes undone.
fn plain(page: &str) -> String {
    page.replace("\\-", "-")
        .replace("\\*(Aq", "'")
        .replace("\\e", "\\")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\&", "")
}

/// The lines of section `title` (from its `.SH` to the next).
fn section<'a>(page: &'a str, title: &str) -> Vec<&'a str> {
    page.lines()
        .skip_while(|l| *l != format!(".SH {title}"))
        .skip(1)
        .take_while(|l| !l.starts_with(".SH "))
        .collect()
}

#[test]
fn the_page_is_roff_for_this_program_with_one_preamble() {
    let page = page();
    assert!(
        page.starts_with(PREAMBLE),
        "{}",
        &page[..80.min(page.len())]
    );
    assert_eq!(
        page.matches(".ds Aq").count(),
        2,
        "one preamble (two lines)"
    );
    assert!(page.contains(".TH git-credential-entra 1"), "{page}");
}

#[test]
fn the_page_names_no_page_that_does_not_exist() {
    let text = plain(&page());
    // Every `name(N)` reference: the name is the run of name characters before it.
    let mut named = Vec::new();
    for (i, _) in text.match_indices('(') {
        let rest = &text[i..];
        let is_ref =
            rest.len() >= 3 && rest.as_bytes()[1].is_ascii_digit() && rest.as_bytes()[2] == b')';
        let name: String = text[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if is_ref && !name.is_empty() {
            named.push(format!("{name}{}", &rest[..3]));
        }
    }
    assert!(
        !text.contains("git-credential-entra-"),
        "names a page per command"
    );
    for page in &named {
        assert!(
            SEE_ALSO.contains(&page.as_str()),
            "names {page}, which is not a page git ships: {named:?}"
        );
    }
    assert_eq!(named.len(), SEE_ALSO.len(), "{named:?}");
}

#[test]
fn configuration_environment_and_files_are_there() {
    let page = page();
    let configuration = plain(&section(&page, "CONFIGURATION").join("\n"));
    for what in [
        "$XDG_CONFIG_HOME/git-credential-entra/config.json",
        "GIT_CREDENTIAL_ENTRA_CONFIG",
        "routes",
        "service-principal",
        "workload-identity",
    ] {
        assert!(
            configuration.contains(what),
            "CONFIGURATION lacks {what}: {configuration}"
        );
    }
    let environment = plain(&section(&page, "ENVIRONMENT").join("\n"));
    for what in [
        "GIT_CREDENTIAL_ENTRA_CONFIG",
        "GIT_CREDENTIAL_ENTRA_CACHE",
        "GIT_CREDENTIAL_ENTRA_TRACE",
        "AZURE_CLIENT_SECRET",
        "HTTPS_PROXY",
    ] {
        assert!(
            environment.contains(what),
            "ENVIRONMENT lacks {what}: {environment}"
        );
    }
    let files = plain(&section(&page, "FILES").join("\n"));
    for what in [
        "$XDG_CONFIG_HOME/git-credential-entra/config.json",
        "$XDG_CACHE_HOME/git-credential-entra/tokens/",
        "%APPDATA%\\git-credential-entra",
    ] {
        assert!(files.contains(what), "FILES lacks {what}: {files}");
    }
}

#[test]
fn every_command_and_its_options_are_on_the_page() {
    let commands = plain(&section(&page(), "COMMANDS").join("\n"));
    for (command, options) in [
        ("git-credential-entra get", &[][..]),
        (
            "git-credential-entra login [URL] [--flow F]",
            &["--flow F"][..],
        ),
        ("git-credential-entra cache list", &[]),
        ("git-credential-entra secret delete", &[]),
        (
            "git-credential-entra configure [--global] [--system] [--local] [--file FILE] [--host URL] [--dry-run] [--force]",
            &["--host URL", "--dry-run", "--force"],
        ),
        (
            "git-credential-entra token [URL] [--format raw|json|header]",
            &["--format raw|json|header"],
        ),
        ("git-credential-entra doctor [URL] [--json]", &["--json"]),
        (
            "git-credential-entra completions bash|zsh|fish|powershell",
            &[],
        ),
    ] {
        assert!(
            commands.contains(&format!(".SS {command}\n")),
            "no {command:?} in COMMANDS:\n{commands}"
        );
        for option in options {
            assert!(commands.contains(&format!(".TP\n{option}\n")), "{option}");
        }
    }
    for hidden in ["manpage", " help"] {
        assert!(
            !commands.contains(&format!("git-credential-entra{hidden}")),
            "{hidden}"
        );
    }
}

#[test]
fn groff_reads_the_page_without_a_warning() {
    // Where groff is installed (Debian's man-db pulls it in); -k: UTF-8 input, as man reads it.
    let Ok(mut child) = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        return;
    };
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(page().as_bytes()).expect("feed groff");
    drop(stdin);
    let out = child.wait_with_output().expect("groff ran");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "{warnings}"
    );
}
