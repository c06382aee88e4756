//! `cargo fuzz run range`: the checks of `tests/fuzz_checks` (`range`) on
//! libFuzzer's inputs.
#![no_main]
#![allow(dead_code)]

#[path = "../../examples/file_server/conditional.rs"]
mod conditional;
#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;
#[path = "../../examples/file_server/http.rs"]
mod http;
#[path = "../../examples/file_server/path.rs"]
mod path;
#[path = "../../examples/file_server/range.rs"]
mod range;
#[path = "../../examples/file_server/target.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::range(data));
