//! The one integration-test crate: real `git`, real helper processes, fake Entra and Azure DevOps.
mod caching;
mod errors;
mod git_flow;
mod git_url;
mod harness;
mod humans;
mod leaks;
mod routing;
mod support;
mod world;
