#[ringloop::main]
fn main() {}
