//! `cargo fuzz run range`: the `range` checks of `tests/fuzz_checks` on
//! libFuzzer's inputs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringloop_fuzz::fuzz_checks::range(data));
