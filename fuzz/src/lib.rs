//! The file server's parsers and the checks the fuzzers run on them, built
//! once for every `cargo fuzz` target (`fuzz_targets/`).
#![allow(dead_code)]

#[path = "../../examples/file_server/conditional.rs"]
mod conditional;
#[path = "../../tests/fuzz_checks/mod.rs"]
pub mod fuzz_checks;
#[path = "../../examples/file_server/http.rs"]
mod http;
#[path = "../../examples/file_server/path.rs"]
mod path;
#[path = "../../examples/file_server/range.rs"]
mod range;
#[path = "../../examples/file_server/target.rs"]
mod target;
