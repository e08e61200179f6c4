//! The one integration-test crate: real `git`, real helper processes, fake Entra and Azure DevOps.
mod caching;
mod errors;
mod git_flow;
mod harness;
mod leaks;
mod robustness;
mod support;
mod world;
