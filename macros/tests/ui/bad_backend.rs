#[ringloop::main(backend = "kqueue")]
async fn main() {}

#[ringloop::test(backend = "auto")]
async fn tests_name_one_backend() {}
