//! git-credential-entra: Azure DevOps credentials from Microsoft Entra ID.
//!
//! `main` only parses the command line, runs the app on the real stdio and
//! turns its result into an exit code; everything else lives in modules that
//! tests can drive from byte buffers.

mod admin;
mod app;
mod azure_devops;
mod cache;
mod cli;
mod config;
mod entra;
mod env;
mod error;
mod failure;
mod http;
mod identity;
mod jwt;
mod lock;
mod protocol;
mod secret;
mod text;
mod timefmt;
mod tokens;
mod trace;

use clap::Parser;

fn main() -> std::process::ExitCode {
    disable_core_dumps();
    let cli = cli::Cli::parse();
    let env = env::Env::from_process();
    let code = app::run(
        cli,
        &env,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr(),
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
}
