//! The three copies of the backend-name parser (the runtime's, the facade
//! build script's, the macros crate's) are identical: `RINGLOOP_BACKEND`
//! and `#[ringloop::main(backend = "...")]` accept exactly what
//! `Backend::from_str` accepts.

#[test]
fn the_parser_copies_are_identical() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |p: &str| {
        std::fs::read_to_string(format!("{root}/{p}")).unwrap_or_else(|e| panic!("{p}: {e}"))
    };
    let original = read("runtime/src/backend_name.rs");
    for copy in [
        "build_support/backend_name.rs",
        "macros/src/backend_name.rs",
    ] {
        assert_eq!(
            read(copy),
            original,
            "{copy} drifted from runtime/src/backend_name.rs"
        );
    }
}
