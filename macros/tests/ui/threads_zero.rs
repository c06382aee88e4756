#[ringloop::main(threads = 0)]
async fn main() {}

#[ringloop::test(threads = 0)]
async fn zero_loops() {}
