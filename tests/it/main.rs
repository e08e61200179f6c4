//! The one integration-test crate: real `git`, real helper processes, fake Entra and Azure DevOps.
//!
//! It runs on the unix host. Modules built on unix modes, shell scripts or
//! signals are `cfg(unix)`; the rest also compiles for Windows. The Windows
//! binary is tested from the host by `windows`, which runs the `.exe` under
//! Wine against the same fakes.
// The shared support serves unix-only modules too.
#![cfg_attr(not(unix), allow(dead_code))]

// Modules by room, as in src/: what each one tests is in its first line.

// git's side: the credential protocol, URLs, routing to an identity, tenants.
#[cfg(unix)]
mod errors;
mod fuzz_corpus;
mod git_flow;
mod git_url;
#[cfg(unix)]
mod lfs;
mod routing;
mod tenant;

// Identities: one module per token source (user sign-in has three).
mod auto;
#[cfg(unix)]
mod azure_cli;
#[cfg(unix)]
mod azure_developer_cli;
#[cfg(unix)]
mod azure_powershell;
mod certificates;
mod ci_oidc;
mod keyvault;
mod mi_federation;
mod mi_imds;
mod mi_platforms;
mod pipeline_token;
#[cfg(unix)]
mod signin_listener;
#[cfg(unix)]
mod user_signin;
#[cfg(unix)]
mod user_tenants;
mod workload;

// The token cache and the OS keyrings it uses.
mod cache_notices;
#[cfg(unix)]
mod cache_trust;
#[cfg(unix)]
mod caching;
#[cfg(unix)]
mod default_cache;
#[cfg(unix)]
mod keyring_locked;

// Tokens under stress: failing endpoints, injected faults, many processes.
#[cfg(unix)]
mod faults;
mod robustness;
#[cfg(unix)]
mod soak;

// Security: no secret leaks, nothing a repository ships decides where one goes.
#[cfg(unix)]
mod leaks;
mod trust;

// What humans run and see: commands, prompts, doctor, the demo.
mod configure;
mod demo;
mod doctor;
mod humans;
mod operator;

// Networks: git's proxy and CA settings as the helper reads them, and a
// corporate proxy and CA in front of the public names.
#[cfg(unix)]
mod corporate;
#[cfg(unix)]
mod keyvault_tls;
#[cfg(unix)]
mod network;

// Platforms and installing: install.sh (a download, or a static or dynamic
// build from source), the static builds (arm64 under an
// emulator), the Windows binary under Wine.
mod install;
#[cfg(unix)]
mod install_release;
#[cfg(target_os = "linux")]
mod install_static;
#[cfg(target_os = "linux")]
mod static_build;
#[cfg(target_os = "linux")]
mod windows;

// The fakes, the ready-made worlds, skip_unless, and their own tests; the
// suite's own hygiene (it writes nothing into the real HOME).
#[cfg(unix)]
mod real_home;
mod support;
