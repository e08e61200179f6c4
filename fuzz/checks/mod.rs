//! The properties the fuzz targets check, one module per target, each with a
//! `check(data: &[u8])` that panics when a property breaks.
//!
//! They live apart from the targets so that two drivers share them: the
//! cargo-fuzz targets (nightly, libFuzzer) and the main crate's stable test
//! suite, which replays the checked-in corpus through the same functions
//! (`tests/it/fuzz_corpus.rs`), so every input the fuzzers kept stays a
//! regression test in CI. Nothing here is part of the product.

pub mod claims;
pub mod config;
pub mod git_url;
pub mod protocol;
pub mod token_response;
pub mod url;

/// A target's check: panics when a property breaks.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name: each has a corpus directory `fuzz/corpus/{name}`.
pub const TARGETS: [(&str, Check); 5] = [
    ("protocol", protocol::check),
    ("url", url::check),
    ("config", config::check),
    ("token_response", token_response::check),
    ("claims", claims::check),
];

/// Splits fuzz input into a few fields at `0xff` bytes (never part of UTF-8
/// text), so one byte string can drive several arguments.
pub(crate) fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == 0xff) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}
