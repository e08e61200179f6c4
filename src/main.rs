//! git-credential-entra: Azure DevOps credentials from Microsoft Entra ID.
//!
//! `main` only parses the command line, runs the app on the real stdio and
//! turns its result into an exit code; everything else lives in modules that
//! tests can drive from byte buffers.

use std::io::IsTerminal;

use clap::Parser;
use git_credential_entra::app::cli;
use git_credential_entra::run;
use git_credential_entra::sys::env;

fn main() -> std::process::ExitCode {
    disable_core_dumps();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let cli = cli::Cli::git_verb(&args).unwrap_or_else(cli::Cli::parse);
    let env = env::Env::from_process();
    let code = run(
        cli,
        &env,
        &mut std::io::stdin().lock(),
        std::io::stdin().is_terminal(),
        &mut std::io::stdout().lock(),
        Box::new(std::io::stderr()),
    );
    std::process::ExitCode::from(code)
}

/// A crash must not write tokens or secrets to a core file.
fn disable_core_dumps() {
    #[cfg(unix)]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads a valid, initialised struct; failure is harmless.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
        }
    }
    // Not dumpable also keeps other processes of the same user (without
    // CAP_SYS_PTRACE) from attaching or reading our memory and environment
    // through /proc while a token or secret is held.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes one integer; failure is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn no_core_file_and_no_access_through_proc() {
        super::disable_core_dumps();
        // SAFETY: PR_GET_DUMPABLE takes no argument and only reads a flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE) }, 0);
        let mut limit = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: getrlimit writes into a valid struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) }, 0);
        assert_eq!(limit.rlim_cur, 0);
    }
}
