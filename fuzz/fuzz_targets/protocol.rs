//! Fuzz target: runs [`fuzz_checks::protocol::check`] on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::protocol::check(data));
