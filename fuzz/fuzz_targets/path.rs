//! `cargo fuzz run path`: the `path` checks of `tests/fuzz_checks` on
//! libFuzzer's inputs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringloop_fuzz::fuzz_checks::path(data));
