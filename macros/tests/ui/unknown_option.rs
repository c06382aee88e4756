#[ringloop::main(flavor = "current_thread")]
async fn main() {}

#[ringloop::test(worker_threads = 2)]
async fn also_in_tests() {}
