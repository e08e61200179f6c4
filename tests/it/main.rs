//! The one integration-test crate: real `git`, real helper processes, fake Entra and Azure DevOps.
mod harness;
mod support;
