//! The one integration-test crate: real `git`, real helper processes, fake Entra and Azure DevOps.
//!
//! It runs on the unix host. Modules built on unix modes, shell scripts or
//! signals are `cfg(unix)`; the rest also compiles for Windows. The Windows
//! binary is tested from the host by `windows`, which runs the `.exe` under
//! Wine against the same fakes.
// The shared support serves unix-only modules too.
#![cfg_attr(not(unix), allow(dead_code))]

mod auto;
#[cfg(unix)]
mod azure_cli;
mod cache_notices;
#[cfg(unix)]
mod cache_trust;
#[cfg(unix)]
mod caching;
mod certificates;
mod ci_oidc;
#[cfg(unix)]
mod default_cache;
mod doctor;
#[cfg(unix)]
mod errors;
#[cfg(unix)]
mod faults;
mod fuzz_corpus;
mod git_flow;
mod git_url;
mod humans;
mod install;
#[cfg(unix)]
mod keyring_locked;
#[cfg(unix)]
mod leaks;
mod mi_federation;
mod mi_imds;
mod mi_platforms;
mod operator;
mod pipeline_token;
mod robustness;
mod routing;
#[cfg(unix)]
mod signin_listener;
#[cfg(unix)]
mod soak;
mod support;
mod tenant;
mod trust;
#[cfg(unix)]
mod user_signin;
#[cfg(unix)]
mod user_tenants;
#[cfg(target_os = "linux")]
mod windows;
mod workload;
