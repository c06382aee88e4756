//! Placeholder until the net benches land.
fn main() {}
