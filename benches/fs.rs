//! Placeholder until the fs benches land.
fn main() {}
