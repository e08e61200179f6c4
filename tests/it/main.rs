//! The one integration-test crate: real `git`, real helper processes, fake Entra and Azure DevOps.
mod cache_notices;
mod cache_trust;
mod caching;
mod ci_oidc;
mod errors;
mod git_flow;
mod git_url;
mod harness;
mod humans;
mod leaks;
mod pipeline_token;
mod robustness;
mod routing;
mod support;
mod trust;
mod workload;
mod world;
