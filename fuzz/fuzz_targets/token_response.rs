//! Fuzz target: runs [`fuzz_checks::token_response::check`] on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::token_response::check(data));
