//! Placeholder until the runtime benches land.
fn main() {}
