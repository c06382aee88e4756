//! Compile-fail cases: each misuse of the attributes is an error that
//! points at the offending tokens (`tests/ui/*.stderr`). One `#[test]`
//! for all of them: trybuild builds the facade once for the lot.
//!
//! Regenerate the `.stderr` files after a deliberate change of a message
//! (or of rustc's format) with `TRYBUILD=overwrite cargo test -p
//! ringloop-macros --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
