#[ringloop::test]
fn not_async() {}

#[ringloop::test]
#[test]
async fn twice() {}

#[ringloop::test(threads = 2, threads = 3)]
async fn option_twice() {}

#[ringloop::test]
async fn generic<T>() {}

fn main() {}
